//! Keeping memberships exact as messages arrive and time passes.
//!
//! Between messages, a profile's memberships can only change when some atom changes value, and
//! every atom knows the next instant at which it can ([`Program::atom_next_change`]: the first
//! of its state's *edges* — an event entering or leaving a window, a future-stamped event being
//! reached, a sequence becoming old enough, a trait date's anniversary approaching — at which its
//! value really differs). So:
//!
//! * [`Program::advance`] walks from the state's last instant to `now` through those instants
//!   in order, re-evaluating memberships at each and reporting every change at the exact instant
//!   it happened (a caller that wakes late still learns when each change took place, in order).
//! * [`Program::observe`] first advances to `now`, then adds the message to the trackers its
//!   event name routes to and re-evaluates only the segments that depend on them (and on those,
//!   through `in segment`), in dependency order. Changes caused by a message happen at `now`.
//! * [`Program::next_deadline`] is the first atom change after `now` that changes a membership.
//!
//! The state keeps `wake`, a lower bound of the next atom change, so an `observe` between
//! deadlines does no time-related work at all.
//!
//! `now` only moves forward: an earlier `now` than the state's last instant is taken as that
//! instant (a message is then observed at the state's instant).

use super::atom::{AtomTest, Tracker};
use super::input::Input;
use super::marks::{Occur, OccurState};
use super::program::{Expr, Program, SegmentIdx};
use super::state::{ProfileState, Slot};
use super::time::{Ms, from_ms, to_ms};
use jiff::Timestamp;

/// A membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub segment: SegmentIdx,
    /// `true`: entered; `false`: exited.
    pub entered: bool,
    pub at: Timestamp,
}

/// How many instants an atom or a deadline search examines before settling for a conservative
/// (earlier) answer; only pathological states get near it.
pub(crate) const SEARCH_LIMIT: usize = 256;

impl Tracker {
    pub(crate) fn empty_slot(&self) -> Slot {
        match self {
            Tracker::Tally(t) => Slot::Tally(t.empty()),
            Tracker::Occur(_, o) => Slot::Occur(o.empty()),
            Tracker::Seq(_) => Slot::Seq(Box::default()),
            Tracker::Trait(t) => Slot::Trait(Box::new(t.empty())),
        }
    }

    /// Whether a message can change this tracker. The caller has already routed the message by
    /// its event name, so single-selector trackers only check their filters.
    fn accepts(&self, input: &Input, ts: Ms, now: Ms) -> bool {
        match self {
            // An event that is never in the window again needs no room (common in backfills).
            Tracker::Tally(t) => {
                t.win.span(ts).is_some_and(|(_, exit)| exit > now) && t.sel.filters_match(input)
            }
            Tracker::Occur(sel, _) => sel.filters_match(input),
            Tracker::Seq(s) => s.first.matches(input) || s.second.matches(input),
            Tracker::Trait(t) => t.names(input),
        }
    }

    fn insert(&self, slot: &mut Slot, input: &Input, now: Ms, fits: bool) {
        if !fits {
            *slot = self.empty_slot();
        }
        match (self, slot) {
            (Tracker::Tally(t), Slot::Tally(s)) => t.insert(s, input, now),
            (Tracker::Occur(_, o), Slot::Occur(s)) => o.insert(s, input.ms(), now),
            (Tracker::Seq(q), Slot::Seq(s)) => {
                q.insert(s, input, now);
            }
            (Tracker::Trait(t), Slot::Trait(s)) => t.insert(s, input, now),
            _ => {}
        }
    }

    fn prune(&self, slot: &mut Slot, now: Ms) {
        match (self, slot) {
            (Tracker::Tally(t), Slot::Tally(s)) => t.prune(s, now),
            (Tracker::Occur(_, o), Slot::Occur(s)) => o.prune(s, now),
            (Tracker::Seq(q), Slot::Seq(s)) => q.prune(s, now),
            (Tracker::Trait(t), Slot::Trait(s)) => t.prune(s, now),
            _ => {}
        }
    }

    /// Whether a slot holds nothing beyond what a missing slot means.
    fn is_blank(slot: &Slot) -> bool {
        match slot {
            Slot::Tally(s) => super::tally::Tally::is_empty(s),
            Slot::Occur(OccurState::First(ts)) => *ts == Ms::MAX,
            Slot::Occur(OccurState::Last { past, future }) => *past == Ms::MIN && future.is_empty(),
            Slot::Seq(s) => s.firsts.is_empty() && s.seconds.is_empty(),
            Slot::Trait(s) => s.ts == Ms::MIN && s.future.is_empty(),
        }
    }
}

impl Program {
    /// The state of a profile the engine has seen nothing of.
    pub fn new_state(&self) -> ProfileState {
        ProfileState::new(self.names.len())
    }

    /// Membership as of the state's last instant (a new state is a member of nothing until its
    /// first `observe` or `advance`).
    pub fn is_member(&self, state: &ProfileState, seg: SegmentIdx) -> bool {
        state.bit(seg.index())
    }

    /// The segments the profile is in, as of the state's last instant, by index.
    pub fn members<'s>(&'s self, state: &'s ProfileState) -> impl Iterator<Item = SegmentIdx> + 's {
        (0..self.names.len())
            .filter(|&i| state.bit(i))
            .map(|i| SegmentIdx(i as u32))
    }

    /// A message arrives at `now` (its timestamp may be in the past or the future).
    pub fn observe(&self, state: &mut ProfileState, input: &Input, now: Timestamp) -> Vec<Change> {
        let mut changes = Vec::new();
        self.advance_to(state, to_ms(now), &mut changes);
        if input.is_own() {
            return changes;
        }
        let now = state.now;
        let ts = input.ms();
        let route = self.route(input);
        let mut touched = false;
        for &t in route.trackers.iter() {
            let tracker = &self.trackers[t as usize];
            if !tracker.accepts(input, ts, now) {
                continue;
            }
            touched = true;
            let slot = state.slot_mut(t, || tracker.empty_slot());
            let fits = slot.shape() == self.shapes[t as usize];
            tracker.insert(slot, input, now, fits);
            if Tracker::is_blank(slot) {
                state.remove_slot(t);
            }
            self.wake_for(state, t, now);
        }
        if touched {
            for &s in route.segments.iter() {
                let holds = self.eval(&self.exprs[s as usize], state, now, &state.members);
                if holds != state.bit(s as usize) {
                    state.members[s as usize / 64] ^= 1 << (s % 64);
                    changes.push(change(s, holds, now));
                }
            }
        }
        changes
    }

    /// Several messages arriving at the same `now` (a backfill, an import batch): the same
    /// memberships, deadlines and future behaviour as observing them one by one, for less work —
    /// segments are evaluated once, at the end. The changes reported are those from time passing
    /// up to `now`, then the net changes the messages make at `now` (a segment entered and left
    /// again within the batch reports nothing).
    pub fn observe_all<'a>(
        &self,
        state: &mut ProfileState,
        inputs: impl IntoIterator<Item = Input<'a>>,
        now: Timestamp,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        self.advance_to(state, to_ms(now), &mut changes);
        let now = state.now;
        let mut touched = vec![false; self.trackers.len()];
        for input in inputs {
            if input.is_own() {
                continue;
            }
            let ts = input.ms();
            for &t in self.route(&input).trackers.iter() {
                let tracker = &self.trackers[t as usize];
                if tracker.accepts(&input, ts, now) {
                    touched[t as usize] = true;
                    let slot = state.slot_mut(t, || tracker.empty_slot());
                    let fits = slot.shape() == self.shapes[t as usize];
                    tracker.insert(slot, &input, now, fits);
                }
            }
        }
        if !touched.contains(&true) {
            return changes;
        }
        state.slots.retain(|(_, slot)| !Tracker::is_blank(slot));
        for (t, _) in touched.iter().enumerate().filter(|(_, touched)| **touched) {
            self.wake_for(state, t as u32, now);
        }
        let before = state.members.clone();
        for &s in &self.order {
            let holds = self.eval(&self.exprs[s as usize], state, now, &state.members);
            if holds != state.bit(s as usize) {
                state.members[s as usize / 64] ^= 1 << (s % 64);
            }
        }
        self.report(&before, &state.members, now, &mut changes);
        changes
    }

    /// Lowers `wake` to the next edge of a tracker whose state changed: cheap, and never later
    /// than a real change (the exact instant is found when time gets there).
    fn wake_for(&self, state: &mut ProfileState, t: u32, now: Ms) {
        let atoms = &self.tracker_atoms[t as usize];
        // Tallies' and sequences' edges do not depend on the test: one atom stands for all.
        let atoms = match &self.trackers[t as usize] {
            Tracker::Tally(_) | Tracker::Seq(_) => &atoms[..atoms.len().min(1)],
            _ => &atoms[..],
        };
        if let Some(slot) = self.slot(state, t) {
            let edge = atoms
                .iter()
                .filter_map(|&a| self.atom_next_edge(a, slot, now))
                .min();
            if let Some(at) = edge {
                state.wake = state.wake.min(at);
            }
        }
    }

    /// Time passes to `now` without new messages.
    pub fn advance(&self, state: &mut ProfileState, now: Timestamp) -> Vec<Change> {
        let mut changes = Vec::new();
        self.advance_to(state, to_ms(now), &mut changes);
        changes
    }

    fn advance_to(&self, state: &mut ProfileState, now: Ms, changes: &mut Vec<Change>) {
        // A state decoded from elsewhere may have the wrong number of membership words.
        state.members.resize(self.names.len().div_ceil(64), 0);
        if state.now != Ms::MIN && now <= state.now {
            return;
        }
        if now < state.wake {
            state.now = now;
            return;
        }
        let first = state.now == Ms::MIN;
        let mut timeline = self.timeline(state, if first { now } else { state.now });
        if first {
            // The first instant: there is no earlier membership to report changes from.
            let bits = self.memberships(&timeline.values);
            self.report(&state.members, &bits, now, changes);
            state.members = bits;
        } else {
            while let Some(at) = self.step(&mut timeline, state, now) {
                let bits = self.memberships(&timeline.values);
                self.report(&state.members, &bits, at, changes);
                state.members = bits;
            }
        }
        state.now = now;
        let mut i = 0;
        while i < state.slots.len() {
            let (t, slot) = &mut state.slots[i];
            let tracker = &self.trackers.get(*t as usize);
            match tracker {
                Some(tracker) if self.shapes[*t as usize] == slot.shape() => {
                    tracker.prune(slot, now);
                    if Tracker::is_blank(slot) {
                        state.slots.remove(i);
                        continue;
                    }
                }
                // A slot the program does not know: forget it.
                _ => {
                    state.slots.remove(i);
                    continue;
                }
            }
            i += 1;
        }
        // Every atom's next change is still valid: pruning keeps what the future needs.
        state.wake = timeline.earliest().unwrap_or(Ms::MAX);
    }

    fn report(&self, old: &[u64], new: &[u64], at: Ms, changes: &mut Vec<Change>) {
        for &s in &self.order {
            let (w, b) = (s as usize / 64, s % 64);
            let (was, is) = (old[w] >> b & 1 == 1, new[w] >> b & 1 == 1);
            if was != is {
                changes.push(change(s, is, at));
            }
        }
    }

    fn eval(&self, e: &Expr, state: &ProfileState, t: Ms, segs: &[u64]) -> bool {
        match e {
            Expr::Atom(a) => self.atom_holds(*a, state, t),
            Expr::Segment(s) => segs[*s as usize / 64] >> (s % 64) & 1 == 1,
            Expr::Not(e) => !self.eval(e, state, t, segs),
            Expr::All(es) => es.iter().all(|e| self.eval(e, state, t, segs)),
            Expr::Any(es) => es.iter().any(|e| self.eval(e, state, t, segs)),
            Expr::AtLeast(n, es) => {
                let n = *n as usize;
                n == 0
                    || es
                        .iter()
                        .filter(|e| self.eval(e, state, t, segs))
                        .take(n)
                        .count()
                        == n
            }
        }
    }

    /// A tracker's slot, if it has one of the right shape (a state from another program may not).
    pub(crate) fn slot<'s>(&self, state: &'s ProfileState, tracker: u32) -> Option<&'s Slot> {
        state
            .slot(tracker)
            .filter(|s| s.shape() == self.shapes[tracker as usize])
    }

    /// An atom's value at `t` (at or after the state's last instant).
    pub(crate) fn atom_holds(&self, a: u32, state: &ProfileState, t: Ms) -> bool {
        self.atom_value(a, self.slot(state, self.atoms[a as usize].tracker), t)
    }

    /// An atom's value at `t`, given its tracker's slot (`None`: nothing tracked yet).
    pub(crate) fn atom_value(&self, a: u32, slot: Option<&Slot>, t: Ms) -> bool {
        let atom = &self.atoms[a as usize];
        let tracker = &self.trackers[atom.tracker as usize];
        match (tracker, &atom.test, slot) {
            (Tracker::Tally(tally), AtomTest::Compare(cmp), slot) => {
                let s = slot.and_then(|s| match s {
                    Slot::Tally(s) => Some(s),
                    _ => None,
                });
                tally.holds(s, t, *cmp)
            }
            (Tracker::Occur(..), AtomTest::Time(test), slot) => {
                let s = slot.and_then(|s| match s {
                    Slot::Occur(s) => Some(s),
                    _ => None,
                });
                Occur::time_at(s, t).is_some_and(|x| test.holds(x, t))
            }
            (Tracker::Seq(seq), AtomTest::Seq, slot) => {
                let s = slot.and_then(|s| match s {
                    Slot::Seq(s) => Some(&**s),
                    _ => None,
                });
                seq.holds(s, t)
            }
            (Tracker::Trait(spec), AtomTest::Trait(test), slot) => {
                let s = slot.and_then(|s| match s {
                    Slot::Trait(s) => Some(&**s),
                    _ => None,
                });
                spec.holds(test, s, t)
            }
            _ => false,
        }
    }
}

pub(crate) fn change(segment: u32, entered: bool, at: Ms) -> Change {
    Change {
        segment: SegmentIdx(segment),
        entered,
        at: from_ms(at).unwrap_or(if at < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        }),
    }
}
