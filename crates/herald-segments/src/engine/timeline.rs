//! A profile's future without new messages: when each atom next changes value, and so when each
//! membership does. This is what makes deadlines exact.
//!
//! Every tracker state knows its *edges*: instants at which an atom reading it may change (an
//! event entering or leaving a window, a future-stamped event being reached, a first event
//! becoming old enough or followed, a trait date's test flipping). Between two edges an atom is
//! constant. An atom's *next change* is the first edge at which its value really differs; counts
//! and sums find it in one sweep over their events' edges, the rest by stepping from edge to
//! edge.
//!
//! A [`Timeline`] holds every atom's value and next change at one instant. Moving it to the next
//! change recomputes only the atoms that change there: the state does not change while time
//! passes, so every other atom's next change stays valid. Memberships at each step come from the
//! atom values alone.

use super::atom::{AtomTest, Tracker};
use super::incremental::SEARCH_LIMIT;
use super::marks::Occur;
use super::program::{Expr, Program};
use super::state::{ProfileState, Slot};
use super::sum::ExactSum;
use super::tally::{Cmp, Measure, Tally, TallyState, measure_value};
use super::time::{Ms, from_ms, to_ms};
use jiff::Timestamp;

/// Every atom's value at `at`, and the instant it next changes (`None`: never).
pub(crate) struct Timeline {
    pub(crate) at: Ms,
    pub(crate) values: Vec<bool>,
    next: Vec<Option<Ms>>,
}

impl Timeline {
    /// The earliest next change of any atom.
    pub(crate) fn earliest(&self) -> Option<Ms> {
        self.next.iter().flatten().copied().min()
    }
}

impl Program {
    /// The timeline of `state` at `t` (at or after the state's last instant).
    pub(crate) fn timeline(&self, state: &ProfileState, t: Ms) -> Timeline {
        // Atoms without state have their constant "nothing happened" value.
        let mut values = self.unset.clone();
        let mut next = vec![None; self.atoms.len()];
        for (tracker, slot) in &state.slots {
            if self.shapes.get(*tracker as usize) != Some(&slot.shape()) {
                continue;
            }
            for &a in &self.tracker_atoms[*tracker as usize] {
                values[a as usize] = self.atom_value(a, Some(slot), t);
                next[a as usize] = self.atom_next_change(a, Some(slot), t);
            }
        }
        Timeline {
            at: t,
            values,
            next,
        }
    }

    /// Moves the timeline to the next instant (at or before `limit`) at which an atom changes,
    /// and returns that instant.
    pub(crate) fn step(&self, tl: &mut Timeline, state: &ProfileState, limit: Ms) -> Option<Ms> {
        let at = tl.earliest().filter(|&at| at <= limit)?;
        for a in 0..tl.next.len() {
            if tl.next[a] == Some(at) {
                // Recomputed rather than flipped: a conservative next change may not be one.
                let slot = self.slot(state, self.atoms[a].tracker);
                tl.values[a] = self.atom_value(a as u32, slot, at);
                tl.next[a] = self.atom_next_change(a as u32, slot, at);
            }
        }
        tl.at = at;
        Some(at)
    }

    /// Memberships (bits by segment) given every atom's value.
    pub(crate) fn memberships(&self, values: &[bool]) -> Vec<u64> {
        let mut bits = vec![0u64; self.names.len().div_ceil(64)];
        for &s in &self.order {
            if eval_values(&self.exprs[s as usize], values, &bits) {
                bits[s as usize / 64] |= 1 << (s % 64);
            }
        }
        bits
    }

    /// The earliest instant after `now` at which some membership changes without new messages.
    /// Exact, except that after a very long search through atom changes that change no
    /// membership (e.g. decades of yearly anniversaries under an `and` that stays false) it
    /// settles for an earlier instant, which is harmless: advancing to it changes nothing.
    pub fn next_deadline(&self, state: &ProfileState, now: Timestamp) -> Option<Timestamp> {
        let now = to_ms(now).max(state.now);
        let mut tl = self.timeline(state, now);
        let bits = self.memberships(&tl.values);
        for _ in 0..SEARCH_LIMIT {
            let at = self.step(&mut tl, state, Ms::MAX)?;
            if self.memberships(&tl.values) != bits {
                return from_ms(at);
            }
        }
        from_ms(tl.at)
    }

    /// An instant after `t` such that the atom cannot change value in between (an edge of its
    /// state); `None` if it never changes again.
    pub(crate) fn atom_next_edge(&self, a: u32, slot: &Slot, t: Ms) -> Option<Ms> {
        let atom = &self.atoms[a as usize];
        let tracker = &self.trackers[atom.tracker as usize];
        match (tracker, &atom.test, slot) {
            (Tracker::Tally(tally), _, Slot::Tally(s)) => tally.next_event_edge(s, t),
            (Tracker::Occur(..), AtomTest::Time(test), Slot::Occur(s)) => {
                Occur::next_edge(s, test, t)
            }
            (Tracker::Seq(seq), _, Slot::Seq(s)) => seq.next_edge(s, t),
            (Tracker::Trait(spec), AtomTest::Trait(test), Slot::Trait(s)) => {
                spec.next_edge(test, s, t)
            }
            _ => None,
        }
    }

    /// The first instant after `t` at which the atom's value differs from its value at `t`.
    pub(crate) fn atom_next_change(&self, a: u32, slot: Option<&Slot>, t: Ms) -> Option<Ms> {
        let atom = &self.atoms[a as usize];
        let slot = slot?;
        if let (Tracker::Tally(tally), AtomTest::Compare(cmp), Slot::Tally(s)) =
            (&self.trackers[atom.tracker as usize], &atom.test, slot)
            && let Some(at) = tally.next_change(s, t, *cmp)
        {
            return at;
        }
        let at_t = self.atom_value(a, Some(slot), t);
        let mut cursor = t;
        for _ in 0..SEARCH_LIMIT {
            let edge = self.atom_next_edge(a, slot, cursor)?;
            if self.atom_value(a, Some(slot), edge) != at_t {
                return Some(edge);
            }
            cursor = edge;
        }
        // Give a conservative (earlier) answer rather than search on.
        Some(cursor)
    }
}

fn eval_values(e: &Expr, values: &[bool], segs: &[u64]) -> bool {
    match e {
        Expr::Atom(a) => values[*a as usize],
        Expr::Segment(s) => segs[*s as usize / 64] >> (s % 64) & 1 == 1,
        Expr::Not(e) => !eval_values(e, values, segs),
        Expr::All(es) => es.iter().all(|e| eval_values(e, values, segs)),
        Expr::Any(es) => es.iter().any(|e| eval_values(e, values, segs)),
        Expr::AtLeast(n, es) => {
            let n = *n as usize;
            n == 0
                || es
                    .iter()
                    .filter(|e| eval_values(e, values, segs))
                    .take(n)
                    .count()
                    == n
        }
    }
}

impl Tally {
    /// The first instant after `t` at which the comparison's answer changes, found in one sweep
    /// over the events' window edges for counts, sums and averages; `None` for the other kinds
    /// (the caller steps from edge to edge instead).
    pub(crate) fn next_change(&self, state: &TallyState, t: Ms, cmp: Cmp) -> Option<Option<Ms>> {
        match state {
            TallyState::Times(times) => {
                let span = |k: usize| self.span(times[k]);
                let count = (0..times.len())
                    .filter(|&k| span(k).0 <= t && t < span(k).1)
                    .count() as i64;
                let before = cmp.holds(count as f64);
                Some(sweep(
                    times.len(),
                    span,
                    t,
                    before,
                    count,
                    |count, _, entering| *count += if entering { 1 } else { -1 },
                    |count| cmp.holds(*count as f64),
                ))
            }
            TallyState::CountEver { past, future } => {
                let reached = future.partition_point(|&f| f <= t);
                let count = u64::from(*past) + reached as u64;
                let before = cmp.holds(count as f64);
                // Every future event enters at its time and never leaves.
                let ahead = &future[reached..];
                Some(sweep(
                    ahead.len(),
                    |k| (ahead[k], Ms::MAX),
                    t,
                    before,
                    count,
                    |count, _, _| *count += 1,
                    |count| cmp.holds(*count as f64),
                ))
            }
            TallyState::Nums(nums) if matches!(self.measure, Measure::Sum(_) | Measure::Avg(_)) => {
                let span = |k: usize| self.span(nums[k].0);
                let mut sum = ExactSum::default();
                let mut n = 0i64;
                for &(ts, x) in nums {
                    let (enter, exit) = self.span(ts);
                    if enter <= t && t < exit {
                        sum.add(x);
                        n += 1;
                    }
                }
                let measure = &self.measure;
                let holds = |(sum, n): &(ExactSum, i64)| {
                    measure_value(measure, 0, *n as u64, sum.value(), 0.0, 0.0, 0)
                        .is_some_and(|v| cmp.holds(v))
                };
                let start = (sum, n);
                let before = holds(&start);
                Some(sweep(
                    nums.len(),
                    span,
                    t,
                    before,
                    start,
                    |(sum, n), k, entering| {
                        // Adding the negated value removes it exactly.
                        let x = nums[k].1;
                        sum.add(if entering { x } else { -x });
                        *n += if entering { 1 } else { -1 };
                    },
                    holds,
                ))
            }
            _ => None,
        }
    }

    /// The first instant after `t` at which an event enters or leaves the window.
    pub(crate) fn next_event_edge(&self, state: &TallyState, t: Ms) -> Option<Ms> {
        let mut best: Option<Ms> = None;
        let mut consider = |at: Ms| {
            if at > t && at != Ms::MAX && best.is_none_or(|b| at < b) {
                best = Some(at);
            }
        };
        let mut edges = |ts: Ms| {
            if let Some((enter, exit)) = self.win.span(ts) {
                consider(enter);
                consider(exit);
            }
        };
        match state {
            TallyState::Times(times) => times.iter().for_each(|&ts| edges(ts)),
            TallyState::CountEver { future, .. } => future.iter().for_each(|&ts| edges(ts)),
            TallyState::Nums(nums) => nums.iter().for_each(|&(ts, _)| edges(ts)),
            TallyState::NumEver(agg) => agg.future.iter().for_each(|&(ts, _)| edges(ts)),
            TallyState::Samples(samples) => samples.iter().for_each(|s| edges(s.ts)),
        }
        best
    }
}

/// Walks the window edges after `t` of `n` events sorted by time, all edges at one instant
/// together, applying each to `acc`; returns the first instant at which `check(acc)` differs
/// from `before`. Enter and exit instants are both non-decreasing in the event time (see
/// `Win::span`), so two cursors merge them without sorting or allocating.
fn sweep<A>(
    n: usize,
    span: impl Fn(usize) -> (Ms, Ms),
    t: Ms,
    before: bool,
    mut acc: A,
    mut apply: impl FnMut(&mut A, usize, bool),
    check: impl Fn(&A) -> bool,
) -> Option<Ms> {
    let mut enter = (0..n).find(|&k| span(k).0 > t).unwrap_or(n);
    let mut exit = (0..n).find(|&k| span(k).1 > t).unwrap_or(n);
    loop {
        let next_enter = (enter < n).then(|| span(enter).0);
        let next_exit = (exit < n).then(|| span(exit).1).filter(|&e| e != Ms::MAX);
        let at = match (next_enter, next_exit) {
            (None, None) => return None,
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) => a.min(b),
        };
        while enter < n && span(enter).0 == at {
            apply(&mut acc, enter, true);
            enter += 1;
        }
        while exit < n && span(exit).1 == at {
            apply(&mut acc, exit, false);
            exit += 1;
        }
        if check(&acc) != before {
            return Some(at);
        }
    }
}
