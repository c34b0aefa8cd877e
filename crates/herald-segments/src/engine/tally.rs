//! Tallies: the state behind `count`, `sum`, `avg`, `min`, `max` and `distinct` conditions, with
//! or without `per` key.
//!
//! One tally serves every condition that shares its events, measure, key and window (e.g.
//! `count("Order Completed") >= 1` and `= 1` and `>= 4` over `ever`); each condition compares the
//! tally's value with its own threshold.
//!
//! # Meaning (the engine is the authority)
//!
//! * `count` is the number of matching messages in the window (each once).
//! * `sum(p)`, `avg(p)`, `min(p)`, `max(p)` range over every number found at `p` in the matching
//!   messages (with `[]`, every element's); values that are not numbers are skipped. `avg` is the
//!   sum over the number of values. Sums are exact and do not depend on arrival order (see
//!   `sum`), so `sum(revenue) >= 500` never depends on rounding.
//! * Of no values, `count`, `sum` and `distinct` are 0; `avg`, `min` and `max` have no value, and
//!   the comparison is false.
//! * `distinct(p)` is the number of distinct values at `p` (numbers by value, strings exactly,
//!   `null` not a value).
//! * `per KEY`: the matching messages in the window are grouped by their value(s) at `KEY` (a
//!   message with several values, through `[]`, is in each group once; one without a value is in
//!   none); the condition holds when some group's measure satisfies the comparison. A group only
//!   exists with at least one message, so `count(...) per k = 0` never holds.
//! * Comparisons are on `f64` values.
//!
//! # What is kept, and why it is enough
//!
//! Every kept event is in the window exactly while `now` is in one interval `[enter, exit)` (see
//! `Win::span`), and `now` only moves forward, so:
//!
//! * An event whose interval ended is forgotten.
//! * Counts only matter up to a saturation point: comparisons with `v` give the same answer for
//!   every count above `v`, so `keep = floor(v) + 1` (the largest over the conditions) is
//!   enough. An event may be dropped when, at every future instant it is in the window, at least
//!   `keep` *other* kept events are in it too. Late events only ever add to counts, and
//!   `min(keep, a + b) = min(keep, min(keep, a) + b)`, so this stays exact under any arrival order.
//!   In a sliding `last N` window that is simply "the `keep` most recent past events".
//! * Windows that never let go of an event (`ever`, `since`) keep running totals of past events
//!   (count saturated at `keep`, exact sum, min, max) plus the future-stamped ones, which are
//!   folded in when `now` reaches them.
//! * Sums, averages, minima and maxima over sliding windows keep each in-window value: any of them
//!   can still decide the answer when others leave.
//! * `distinct` keeps, per distinct value (and per group), only what the count rule with `keep =
//!   1` needs; `per` keys keep their counts per group by the count rule, numeric measures keep
//!   every value.

use super::input::{Input, Key, Path, Selector};
use super::state::insert_tight;
use super::sum::ExactSum;
use super::time::Ms;
use super::window::Win;
use crate::ast::CmpOp;
use std::cmp::Ordering;

/// An aggregate and its comparison (`>= 3`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cmp {
    pub(crate) op: CmpOp,
    pub(crate) value: f64,
}

impl Cmp {
    pub(crate) fn holds(self, x: f64) -> bool {
        match self.op {
            CmpOp::Eq => x == self.value,
            CmpOp::Ne => x != self.value,
            CmpOp::Lt => x < self.value,
            CmpOp::Le => x <= self.value,
            CmpOp::Gt => x > self.value,
            CmpOp::Ge => x >= self.value,
        }
    }

    /// How far counts must be known for this comparison: every count `>= floor(v) + 1` compares
    /// the same way.
    pub(crate) fn saturation(self) -> u32 {
        if self.value.is_nan() || self.value < 0.0 {
            0
        } else {
            (self.value.floor() + 1.0).min(f64::from(u32::MAX)) as u32
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Measure {
    Count,
    Sum(Path),
    Avg(Path),
    Min(Path),
    Max(Path),
    Distinct(Path),
}

impl Measure {
    fn numeric_path(&self) -> Option<&Path> {
        match self {
            Measure::Sum(p) | Measure::Avg(p) | Measure::Min(p) | Measure::Max(p) => Some(p),
            Measure::Count | Measure::Distinct(_) => None,
        }
    }
}

/// The compiled events/measure/key/window of a tally.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tally {
    pub(crate) sel: Selector,
    pub(crate) measure: Measure,
    pub(crate) key: Option<Path>,
    pub(crate) win: Win,
    /// Count saturation (see the module documentation); raised by each condition compiled.
    pub(crate) keep: u32,
}

/// A tally's state for one profile; which variant is fixed by the tally (see [`Tally::empty`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TallyState {
    /// Count over a window that lets events go: the times that still matter, sorted.
    Times(Vec<Ms>),
    /// Count over `ever`/`since`: past events (saturated at `keep`) and future-stamped ones.
    CountEver { past: u32, future: Vec<Ms> },
    /// Numbers over a window that lets events go: `(time, value)`, sorted by time.
    Nums(Vec<(Ms, f64)>),
    /// Numbers over `ever`/`since`.
    NumEver(Box<NumEver>),
    /// Per-key or distinct: samples sorted by `(group, x, time)`.
    Samples(Vec<Sample>),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct NumEver {
    pub(crate) n: u64,
    pub(crate) sum: ExactSum,
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// Future-stamped values, sorted by time.
    pub(crate) future: Vec<(Ms, f64)>,
}

impl NumEver {
    fn fold(&mut self, x: f64) {
        if self.n == 0 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.n += 1;
        self.sum.add(x);
    }
}

/// One event's contribution to a per-key or distinct tally.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) ts: Ms,
    /// The `per` key value (`None` without a key).
    pub(crate) group: Option<Key>,
    pub(crate) x: X,
}

/// What a sample carries besides its group.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum X {
    /// Only that the group had an event (counts, or an event without a usable value).
    Mark,
    Num(f64),
    Key(Key),
}

impl X {
    fn order(&self, other: &X) -> Ordering {
        match (self, other) {
            (X::Mark, X::Mark) => Ordering::Equal,
            (X::Mark, _) => Ordering::Less,
            (_, X::Mark) => Ordering::Greater,
            (X::Num(a), X::Num(b)) => a.total_cmp(b),
            (X::Num(_), X::Key(_)) => Ordering::Less,
            (X::Key(_), X::Num(_)) => Ordering::Greater,
            (X::Key(a), X::Key(b)) => a.cmp(b),
        }
    }
}

impl Sample {
    fn order(&self, other: &Sample) -> Ordering {
        self.group
            .cmp(&other.group)
            .then_with(|| self.x.order(&other.x))
            .then(self.ts.cmp(&other.ts))
    }

    /// Whether two samples belong to the same run for pruning (see [`Tally::prune`]).
    fn same_run(&self, other: &Sample, by_value: bool) -> bool {
        self.group == other.group && (!by_value || self.x.order(&other.x) == Ordering::Equal)
    }
}

/// The aggregate of the in-window events of one group.
#[derive(Default)]
struct Acc {
    events: u64,
    sum: ExactSum,
    values: u64,
    min: f64,
    max: f64,
    distinct: u64,
}

impl Acc {
    fn num(&mut self, x: f64) {
        if self.values == 0 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.values += 1;
        self.sum.add(x);
    }
}

/// The value of a measure given its inputs; `None` when avg/min/max have no values.
pub(crate) fn measure_value(
    measure: &Measure,
    events: u64,
    values: u64,
    sum: f64,
    min: f64,
    max: f64,
    distinct: u64,
) -> Option<f64> {
    match measure {
        Measure::Count => Some(events as f64),
        Measure::Distinct(_) => Some(distinct as f64),
        Measure::Sum(_) => Some(sum),
        Measure::Avg(_) => (values > 0).then(|| sum / values as f64),
        Measure::Min(_) => (values > 0).then_some(min),
        Measure::Max(_) => (values > 0).then_some(max),
    }
}

impl Acc {
    fn value(&self, measure: &Measure) -> Option<f64> {
        measure_value(
            measure,
            self.events,
            self.values,
            self.sum.value(),
            self.min,
            self.max,
            self.distinct,
        )
    }
}

impl Tally {
    /// The empty state of the variant this tally uses.
    pub(crate) fn empty(&self) -> TallyState {
        let ever = self.win.never_expires();
        match (&self.key, &self.measure) {
            (None, Measure::Count) if ever => TallyState::CountEver {
                past: 0,
                future: Vec::new(),
            },
            (None, Measure::Count) => TallyState::Times(Vec::new()),
            (None, Measure::Distinct(_)) | (Some(_), _) => TallyState::Samples(Vec::new()),
            (None, _) if ever => TallyState::NumEver(Box::default()),
            (None, _) => TallyState::Nums(Vec::new()),
        }
    }

    /// Adds a message (already known to match the selector) observed at `now`.
    pub(crate) fn insert(&self, state: &mut TallyState, input: &Input, now: Ms) {
        let ts = input.ms();
        // Events that will never be in the window need no room.
        match self.win.span(ts) {
            Some((_, exit)) if exit > now => {}
            _ => return,
        }
        match state {
            TallyState::Times(times) => {
                let i = times.partition_point(|&t| t <= ts);
                insert_tight(times, i, ts);
            }
            TallyState::CountEver { past, future } => {
                if ts <= now {
                    *past = past.saturating_add(1).min(self.keep);
                } else {
                    let i = future.partition_point(|&t| t <= ts);
                    insert_tight(future, i, ts);
                }
            }
            TallyState::Nums(nums) => {
                let path = self.measure.numeric_path();
                let skip_zero = matches!(self.measure, Measure::Sum(_));
                if let Some(p) = path {
                    p.any(input.properties, |v| {
                        // Zeros change no sum; averages and extremes need every value.
                        if let Some(x) = v.as_f64()
                            && !(skip_zero && x == 0.0)
                        {
                            let i = nums.partition_point(|&(t, _)| t <= ts);
                            insert_tight(nums, i, (ts, x));
                        }
                        false
                    });
                }
            }
            TallyState::NumEver(agg) => {
                if let Some(p) = self.measure.numeric_path() {
                    p.any(input.properties, |v| {
                        if let Some(x) = v.as_f64() {
                            if ts <= now {
                                agg.fold(x);
                            } else {
                                let i = agg.future.partition_point(|&(t, _)| t <= ts);
                                insert_tight(&mut agg.future, i, (ts, x));
                            }
                        }
                        false
                    });
                }
            }
            TallyState::Samples(samples) => {
                for sample in self.samples(input, ts) {
                    let i = samples.partition_point(|s| s.order(&sample) != Ordering::Greater);
                    insert_tight(samples, i, sample);
                }
            }
        }
        self.prune(state, now);
    }

    /// The samples one event contributes to a per-key or distinct tally.
    fn samples(&self, input: &Input, ts: Ms) -> Vec<Sample> {
        let groups: Vec<Option<Key>> = match &self.key {
            Some(key) => {
                let mut keys = Vec::new();
                key.keys(input.properties, &mut keys);
                keys.into_iter().map(Some).collect()
            }
            None => vec![None],
        };
        let mut xs = Vec::new();
        match &self.measure {
            Measure::Count => {}
            Measure::Distinct(p) => {
                let mut keys = Vec::new();
                p.keys(input.properties, &mut keys);
                xs.extend(keys.into_iter().map(X::Key));
            }
            Measure::Sum(p) | Measure::Avg(p) | Measure::Min(p) | Measure::Max(p) => {
                p.any(input.properties, |v| {
                    if let Some(x) = v.as_f64() {
                        xs.push(X::Num(x));
                    }
                    false
                });
            }
        }
        let mut out = Vec::new();
        for group in groups {
            // Without a key a sample only matters for its value; with one, an event without a
            // value still shows that its group exists.
            if xs.is_empty() {
                if group.is_some() {
                    out.push(Sample {
                        ts,
                        group,
                        x: X::Mark,
                    });
                }
                continue;
            }
            out.extend(xs.iter().map(|x| Sample {
                ts,
                group: group.clone(),
                x: x.clone(),
            }));
        }
        out
    }

    /// Forgets what can no longer matter at or after `now`, and folds future events that `now`
    /// has reached into running totals.
    pub(crate) fn prune(&self, state: &mut TallyState, now: Ms) {
        let alive = |ts: Ms| self.win.span(ts).is_some_and(|(_, exit)| exit > now);
        match state {
            TallyState::Times(times) => {
                times.retain(|&t| alive(t));
                if self.keep == 0 {
                    times.clear();
                } else if let Win::Last(_) = self.win {
                    // Past events leave in time order, so the most recent ones cover the others.
                    let past = times.partition_point(|&t| t <= now);
                    let keep = self.keep as usize;
                    if past > keep {
                        times.drain(..past - keep);
                    }
                } else if times.len() > self.keep as usize {
                    let spans: Vec<_> = times.iter().map(|&t| self.span(t)).collect();
                    let dropped = covered(&spans, now, self.keep, |_, _| true);
                    let mut i = 0;
                    times.retain(|_| {
                        i += 1;
                        !dropped[i - 1]
                    });
                }
            }
            TallyState::CountEver { past, future } => {
                let reached = future.partition_point(|&t| t <= now);
                let reached_n = u32::try_from(reached).unwrap_or(u32::MAX);
                *past = past.saturating_add(reached_n).min(self.keep);
                future.drain(..reached);
                // Later future events only add beyond the saturation point.
                future.truncate(self.keep.saturating_sub(*past) as usize);
            }
            TallyState::Nums(nums) => nums.retain(|&(t, _)| alive(t)),
            TallyState::NumEver(agg) => {
                let reached = agg.future.partition_point(|&(t, _)| t <= now);
                for (_, x) in agg.future.drain(..reached).collect::<Vec<_>>() {
                    agg.fold(x);
                }
            }
            TallyState::Samples(samples) => {
                samples.retain(|s| alive(s.ts));
                let (keep, by_value) = match (&self.measure, &self.key) {
                    (Measure::Distinct(_), _) => (1, true),
                    (Measure::Count, Some(_)) => (self.keep.max(1), false),
                    // Numeric measures per key need every value.
                    _ => return,
                };
                if samples.len() <= keep as usize {
                    return;
                }
                if let Win::Last(_) = self.win {
                    // As for plain counts: in each run, the `keep` most recent past samples cover
                    // the older ones. Runs are contiguous and sorted by time within.
                    let mut drop = vec![false; samples.len()];
                    let mut start = 0;
                    while start < samples.len() {
                        let mut end = start + 1;
                        while end < samples.len()
                            && samples[end].same_run(&samples[start], by_value)
                        {
                            end += 1;
                        }
                        let past = samples[start..end].partition_point(|s| s.ts <= now);
                        drop[start..start + past.saturating_sub(keep as usize)].fill(true);
                        start = end;
                    }
                    let mut i = 0;
                    samples.retain(|_| {
                        i += 1;
                        !drop[i - 1]
                    });
                    return;
                }
                if self.key.is_none() && self.win.never_expires() {
                    // `distinct` over a window that never lets go: once `keep` distinct values
                    // are in for good, the count is saturated and nothing else can matter.
                    let mut firsts: Vec<usize> = Vec::new();
                    for (i, s) in samples.iter().enumerate() {
                        if s.ts <= now
                            && firsts.last().is_none_or(|&f| !samples[f].same_run(s, true))
                        {
                            firsts.push(i);
                        }
                    }
                    if firsts.len() >= self.keep as usize {
                        firsts.truncate(self.keep as usize);
                        let mut i = 0;
                        samples.retain(|_| {
                            i += 1;
                            firsts.contains(&(i - 1))
                        });
                        return;
                    }
                }
                let spans: Vec<_> = samples.iter().map(|s| self.span(s.ts)).collect();
                let dropped = covered(&spans, now, keep, |i, j| {
                    samples[i].same_run(&samples[j], by_value)
                });
                let mut i = 0;
                samples.retain(|_| {
                    i += 1;
                    !dropped[i - 1]
                });
            }
        }
    }

    /// The event's `[enter, exit)`, or an empty interval at the end of time if never in.
    pub(crate) fn span(&self, ts: Ms) -> (Ms, Ms) {
        self.win.span(ts).unwrap_or((Ms::MAX, Ms::MAX))
    }

    /// Whether the tally's measure satisfies `cmp` at `t` (any group, with a key).
    pub(crate) fn holds(&self, state: Option<&TallyState>, t: Ms, cmp: Cmp) -> bool {
        let Some(state) = state else {
            return self.key.is_none() && self.value_of_nothing().is_some_and(|v| cmp.holds(v));
        };
        let inside = |ts: Ms| self.win.contains(ts, t);
        match state {
            TallyState::Times(times) => {
                cmp.holds(times.iter().filter(|&&ts| inside(ts)).count() as f64)
            }
            TallyState::CountEver { past, future } => {
                let n = u64::from(*past) + future.iter().take_while(|&&ts| ts <= t).count() as u64;
                cmp.holds(n as f64)
            }
            TallyState::Nums(nums) => {
                let mut acc = Acc::default();
                for &(ts, x) in nums {
                    if inside(ts) {
                        acc.num(x);
                    }
                }
                acc.value(&self.measure).is_some_and(|v| cmp.holds(v))
            }
            TallyState::NumEver(agg) => {
                let mut acc = Acc {
                    values: agg.n,
                    sum: agg.sum.clone(),
                    min: agg.min,
                    max: agg.max,
                    ..Acc::default()
                };
                for &(ts, x) in &agg.future {
                    if ts <= t {
                        acc.num(x);
                    }
                }
                acc.value(&self.measure).is_some_and(|v| cmp.holds(v))
            }
            TallyState::Samples(samples) => self.samples_hold(samples, t, cmp),
        }
    }

    /// The measure over no events: 0 for count, sum and distinct; nothing for avg, min, max.
    fn value_of_nothing(&self) -> Option<f64> {
        Acc::default().value(&self.measure)
    }

    fn samples_hold(&self, samples: &[Sample], t: Ms, cmp: Cmp) -> bool {
        let mut i = 0;
        let mut any_group = false;
        while i < samples.len() {
            let group = &samples[i].group;
            let mut acc = Acc::default();
            let mut last_key: Option<&X> = None;
            let mut present = false;
            while i < samples.len() && &samples[i].group == group {
                let s = &samples[i];
                i += 1;
                if !self.win.contains(s.ts, t) {
                    continue;
                }
                present = true;
                acc.events += 1;
                match &s.x {
                    X::Mark => {}
                    X::Num(x) => acc.num(*x),
                    X::Key(_) => {
                        // Samples are sorted by value within a group: count value changes.
                        if last_key.is_none_or(|k| k.order(&s.x) != Ordering::Equal) {
                            acc.distinct += 1;
                            last_key = Some(&s.x);
                        }
                    }
                }
            }
            if !present {
                continue;
            }
            any_group = true;
            if self.key.is_some() && acc.value(&self.measure).is_some_and(|v| cmp.holds(v)) {
                return true;
            }
            if self.key.is_none() {
                return acc.value(&self.measure).is_some_and(|v| cmp.holds(v));
            }
        }
        // Without a key the measure covers all events, even none.
        !any_group && self.key.is_none() && self.value_of_nothing().is_some_and(|v| cmp.holds(v))
    }

    pub(crate) fn is_empty(state: &TallyState) -> bool {
        match state {
            TallyState::Times(v) => v.is_empty(),
            TallyState::CountEver { past, future } => *past == 0 && future.is_empty(),
            TallyState::Nums(v) => v.is_empty(),
            TallyState::NumEver(agg) => agg.n == 0 && agg.future.is_empty(),
            TallyState::Samples(v) => v.is_empty(),
        }
    }
}

/// Which events can be dropped from a count: an event is covered when, at every instant from
/// `now` on at which it is in the window, at least `keep` other kept events of its run are in the
/// window too. Decided greedily, oldest first; each drop keeps the invariant for the rest.
fn covered(
    spans: &[(Ms, Ms)],
    now: Ms,
    keep: u32,
    same_run: impl Fn(usize, usize) -> bool,
) -> Vec<bool> {
    let n = spans.len();
    let mut dropped = vec![false; n];
    // The check is cubic; beyond this size keep everything rather than stall (still exact).
    if n > 32 {
        return dropped;
    }
    let others_at = |dropped: &[bool], i: usize, at: Ms| -> u32 {
        (0..n)
            .filter(|&j| j != i && !dropped[j] && same_run(i, j))
            .filter(|&j| spans[j].0 <= at && at < spans[j].1)
            .count() as u32
    };
    for i in 0..n {
        let (enter, exit) = spans[i];
        let start = enter.max(now);
        if start >= exit {
            dropped[i] = true;
            continue;
        }
        // Coverage only falls where another event leaves, so checking the start and each such
        // exit inside the interval is enough.
        let ok = others_at(&dropped, i, start) >= keep
            && (0..n).all(|j| {
                let at = spans[j].1;
                j == i
                    || dropped[j]
                    || !same_run(i, j)
                    || at <= start
                    || at >= exit
                    || others_at(&dropped, i, at) >= keep
            });
        dropped[i] = ok;
    }
    dropped
}
