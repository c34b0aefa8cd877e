//! Sequences: an event followed, or not followed, by another (`latest "Product Added" in last 7
//! days older than 1 hour not followed by "Order Completed"`).
//!
//! # Meaning (the engine is the authority)
//!
//! * Candidates are the first-event occurrences at or before `now` (with `latest`: those with the
//!   greatest timestamp at or before `now`; several at that same instant are all candidates). A
//!   candidate counts when it lies in the window and, with `older than D`, `now - ts > D`.
//! * A candidate is *followed* when some *other* message matching the second selector has a
//!   timestamp in `[ts, now]` (and `<= ts + within`, when given); with `on PATH` both must have
//!   a value there and the values must be equal (a first event without one is never followed).
//!   A message matching both selectors does not follow itself.
//! * `followed by` holds when some counting candidate is followed, `not followed by` when some
//!   counting candidate is not.
//!
//! # State
//!
//! For each kept first event: its time, its `on` value and the earliest time a second event
//! follows it (`followed`, which only ever moves earlier as late events arrive; a candidate is
//! followed at `t` exactly when `followed <= t`). Second events are kept only as far as a late
//! first event could still need them: none older than the oldest first event that can still
//! count, and without `within` only the most recent past one per `on` value (any one of them at
//! or before `now` follows a late first event just as well). With `latest`, first events older
//! than the latest past one can never be candidates again, and the latest one is kept even when
//! it is outside the window (it still hides older ones); with `any ... not followed by`, a
//! followed first event can never count again.

use super::input::{Input, Key, Path, Selector, key_of};
use super::state::insert_tight;
use super::time::Ms;
use super::window::Win;
use crate::ast::Pick;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Seq {
    pub(crate) pick: Pick,
    pub(crate) first: Selector,
    pub(crate) second: Selector,
    pub(crate) win: Win,
    pub(crate) older: Option<Ms>,
    pub(crate) followed: bool,
    pub(crate) same: Option<Path>,
    pub(crate) within: Option<Ms>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct SeqState {
    /// Sorted by time.
    pub(crate) firsts: Vec<FirstEvent>,
    /// Sorted by time.
    pub(crate) seconds: Vec<SecondEvent>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FirstEvent {
    pub(crate) ts: Ms,
    pub(crate) key: Option<Key>,
    /// The earliest time a second event follows this one (`Ms::MAX`: none yet).
    pub(crate) followed: Ms,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SecondEvent {
    pub(crate) ts: Ms,
    pub(crate) key: Option<Key>,
}

impl Seq {
    /// The `on` value of a message (`None` without `on`, or when it has none).
    pub(crate) fn key(&self, input: &Input) -> Option<Key> {
        self.same
            .as_ref()
            .and_then(|p| p.first(input.properties).and_then(key_of))
    }

    /// Whether a second event at `second` (with `on` value `second_key`) follows a first event at
    /// `first`, ignoring `now` and message identity.
    pub(crate) fn follows(
        &self,
        first: Ms,
        first_key: Option<&Key>,
        second: Ms,
        second_key: Option<&Key>,
    ) -> bool {
        second >= first
            && self
                .within
                .is_none_or(|w| second.saturating_sub(first) <= w)
            && (self.same.is_none() || (first_key.is_some() && first_key == second_key))
    }

    /// Adds a message observed at `now`; returns whether it was relevant.
    pub(crate) fn insert(&self, state: &mut SeqState, input: &Input, now: Ms) -> bool {
        let as_first = self.first.matches(input);
        let as_second = self.second.matches(input);
        if !as_first && !as_second {
            return false;
        }
        let ts = input.ms();
        let key = self.key(input);
        // Order matters for a message matching both selectors: it must neither follow itself as
        // a first event nor be found among the seconds when its own `followed` is computed.
        if as_second {
            for f in &mut state.firsts {
                if self.follows(f.ts, f.key.as_ref(), ts, key.as_ref()) {
                    f.followed = f.followed.min(ts);
                }
            }
        }
        if as_first {
            let followed = state
                .seconds
                .iter()
                .filter(|s| self.follows(ts, key.as_ref(), s.ts, s.key.as_ref()))
                .map(|s| s.ts)
                .min()
                .unwrap_or(Ms::MAX);
            let i = state.firsts.partition_point(|f| f.ts <= ts);
            insert_tight(
                &mut state.firsts,
                i,
                FirstEvent {
                    ts,
                    key: key.clone(),
                    followed,
                },
            );
        }
        if as_second {
            let i = state.seconds.partition_point(|s| s.ts <= ts);
            insert_tight(&mut state.seconds, i, SecondEvent { ts, key });
        }
        self.prune(state, now);
        true
    }

    /// Forgets first and second events that can no longer matter at or after `now`.
    pub(crate) fn prune(&self, state: &mut SeqState, now: Ms) {
        let latest_past = state
            .firsts
            .iter()
            .take_while(|f| f.ts <= now)
            .map(|f| f.ts)
            .last();
        let mut oldest = self.win.horizon(now);
        if self.pick == Pick::Latest
            && let Some(latest) = latest_past
        {
            oldest = oldest.max(latest);
        }
        let latest_pick = self.pick == Pick::Latest;
        let drop_followed = !latest_pick && !self.followed;
        state.firsts.retain(|f| {
            let in_window_later = match self.win.span(f.ts) {
                Some((_, exit)) => exit > now,
                // Never in the window, but with `latest` it still hides older first events
                // (which may be in the window); once it has left the window, they have too.
                None => latest_pick,
            };
            f.ts >= oldest && in_window_later && !(drop_followed && f.followed <= now)
        });
        state.seconds.retain(|s| s.ts >= oldest);
        if self.within.is_none() {
            // Keep the most recent past second event per `on` value (and every future one).
            let past = state.seconds.partition_point(|s| s.ts <= now);
            let mut seen: Vec<Option<Key>> = Vec::new();
            let mut keep = vec![true; state.seconds.len()];
            for i in (0..past).rev() {
                let key = &state.seconds[i].key;
                if seen.contains(key) {
                    keep[i] = false;
                } else {
                    seen.push(key.clone());
                }
            }
            let mut i = 0;
            state.seconds.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
    }

    /// Whether the condition holds at `t` (any `t` at or after the state's last prune).
    pub(crate) fn holds(&self, state: Option<&SeqState>, t: Ms) -> bool {
        let Some(state) = state else {
            return false;
        };
        let past = state.firsts.partition_point(|f| f.ts <= t);
        let candidates = match self.pick {
            Pick::Any => &state.firsts[..past],
            Pick::Latest => {
                let Some(latest) = past.checked_sub(1).map(|i| state.firsts[i].ts) else {
                    return false;
                };
                let from = state.firsts[..past].partition_point(|f| f.ts < latest);
                &state.firsts[from..past]
            }
        };
        candidates.iter().any(|f| {
            self.win.contains(f.ts, t)
                && self.older.is_none_or(|d| t.saturating_sub(f.ts) > d)
                && (f.followed <= t) == self.followed
        })
    }

    /// The first instant after `t` at which a kept first event changes standing (arrives,
    /// enters or leaves the window, becomes old enough, becomes followed).
    pub(crate) fn next_edge(&self, state: &SeqState, t: Ms) -> Option<Ms> {
        let mut best: Option<Ms> = None;
        let mut consider = |at: Ms| {
            if at > t && at != Ms::MAX && best.is_none_or(|b| at < b) {
                best = Some(at);
            }
        };
        for f in &state.firsts {
            consider(f.ts);
            if let Some((enter, exit)) = self.win.span(f.ts) {
                consider(enter);
                consider(exit);
            }
            if let Some(d) = self.older {
                consider(f.ts.saturating_add(d).saturating_add(1));
            }
            consider(f.followed);
        }
        best
    }
}
