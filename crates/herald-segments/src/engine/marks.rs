//! Single remembered times and values: the first/last occurrence of an event, and profile traits.
//!
//! # Meaning (the engine is the authority)
//!
//! * `first(E)` / `last(E)` are the earliest / latest matching event at or before `now` (whatever
//!   the window of the time test). `before P` is strictly earlier than `P`, `after P` strictly
//!   later, `in WINDOW` inside the window. No matching event: false.
//! * A trait's value at `now` comes from the identify with the greatest timestamp at or before
//!   `now` that names the trait's top-level key (ties: the later arrival). An identify that does
//!   not name a trait leaves it alone; naming it with `null` clears it. A nested path
//!   (`address.city`) reads inside the value that identify gave the top-level key.
//! * A date trait is `YYYY-MM-DD` (that day's UTC midnight) or an RFC 3339 instant; anything else
//!   makes every date test false. `anniversary within N days` holds when the next anniversary of
//!   the date (same month and day, today counting as 0, 29 February falling on 28 February in
//!   common years) is at most N whole days after today's UTC date; spans in hours or minutes are
//!   rounded down to whole days.
//!
//! # State
//!
//! `first` needs only the earliest matching time ever seen (it counts once `now` reaches it).
//! `last` needs the latest past time and the future-stamped ones. A trait needs, per condition,
//! only the *reading* of the winning identify (whether the value test holds, or the parsed date),
//! its timestamp, and future-stamped identifies; readings never depend on `now`.

use super::input::Props;
use super::input::{Input, Path, Test, date_of};
use super::state::insert_tight;
use super::time::{Ms, anniversary_flip, anniversary_within};
use super::window::Win;
use crate::ast::Which;

/// An instant relative to `now` (`Rel(offset)`: `now + offset`) or fixed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Point {
    Rel(Ms),
    At(Ms),
}

impl Point {
    fn at(self, now: Ms) -> Ms {
        match self {
            Point::Rel(offset) => now.saturating_add(offset),
            Point::At(at) => at,
        }
    }
}

/// A test of a time against `now`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TimeTest {
    Before(Point),
    After(Point),
    Within(Win),
}

impl TimeTest {
    pub(crate) fn holds(&self, x: Ms, now: Ms) -> bool {
        match self {
            TimeTest::Before(p) => x < p.at(now),
            TimeTest::After(p) => x > p.at(now),
            TimeTest::Within(win) => win.contains(x, now),
        }
    }

    /// Calls `f` with every instant at which the test of a fixed `x` may change value.
    pub(crate) fn edges(&self, x: Ms, mut f: impl FnMut(Ms)) {
        match self {
            // x < now + o  <=>  now >= x - o + 1
            TimeTest::Before(Point::Rel(o)) => f(x.saturating_sub(*o).saturating_add(1)),
            // x > now + o  <=>  now < x - o
            TimeTest::After(Point::Rel(o)) => f(x.saturating_sub(*o)),
            TimeTest::Before(Point::At(_)) | TimeTest::After(Point::At(_)) => {}
            TimeTest::Within(win) => {
                if let Some((enter, exit)) = win.span(x) {
                    f(enter);
                    f(exit);
                }
            }
        }
    }
}

/// Keeps the earliest candidate instant after `t`.
struct Earliest {
    after: Ms,
    best: Option<Ms>,
}

impl Earliest {
    fn new(after: Ms) -> Self {
        Earliest { after, best: None }
    }

    fn consider(&mut self, at: Ms) {
        if at > self.after && at != Ms::MAX && self.best.is_none_or(|b| at < b) {
            self.best = Some(at);
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Occur {
    pub(crate) which: Which,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum OccurState {
    /// The earliest matching time seen.
    First(Ms),
    /// The latest past matching time (`Ms::MIN`: none) and the future-stamped ones, sorted.
    Last { past: Ms, future: Vec<Ms> },
}

impl Occur {
    pub(crate) fn empty(&self) -> OccurState {
        match self.which {
            Which::First => OccurState::First(Ms::MAX),
            Which::Last => OccurState::Last {
                past: Ms::MIN,
                future: Vec::new(),
            },
        }
    }

    pub(crate) fn insert(&self, state: &mut OccurState, ts: Ms, now: Ms) {
        match state {
            OccurState::First(first) => *first = (*first).min(ts),
            OccurState::Last { past, future } => {
                if ts <= now {
                    *past = (*past).max(ts);
                } else if let Err(i) = future.binary_search(&ts) {
                    insert_tight(future, i, ts);
                }
            }
        }
        self.prune(state, now);
    }

    pub(crate) fn prune(&self, state: &mut OccurState, now: Ms) {
        if let OccurState::Last { past, future } = state {
            let reached = future.partition_point(|&t| t <= now);
            if reached > 0 {
                *past = (*past).max(future[reached - 1]);
                future.drain(..reached);
            }
        }
    }

    /// The first/last matching time at or before `t`.
    pub(crate) fn time_at(state: Option<&OccurState>, t: Ms) -> Option<Ms> {
        match state? {
            OccurState::First(first) => (*first <= t).then_some(*first),
            OccurState::Last { past, future } => {
                let reached = future.partition_point(|&f| f <= t);
                let last = reached.checked_sub(1).map_or(*past, |i| future[i]);
                (last != Ms::MIN).then_some(last)
            }
        }
    }

    /// The first instant after `t` at which `test` of the first/last time may change.
    pub(crate) fn next_edge(state: &OccurState, test: &TimeTest, t: Ms) -> Option<Ms> {
        let mut e = Earliest::new(t);
        match state {
            OccurState::First(first) => e.consider(*first),
            OccurState::Last { future, .. } => future.iter().for_each(|&f| e.consider(f)),
        }
        if let Some(x) = Occur::time_at(Some(state), t) {
            test.edges(x, |at| e.consider(at));
        }
        e.best
    }
}

/// What a trait condition reads from the winning identify.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reading {
    /// Whether the value test holds (1) or not (0).
    Test(Test),
    /// The value as a date, or [`NO_DATE`].
    Date,
}

/// A trait that is not a date.
pub(crate) const NO_DATE: i64 = i64::MIN;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TraitSpec {
    pub(crate) path: Path,
    /// The top-level trait an identify must name to change the value.
    pub(crate) top: Box<str>,
    pub(crate) reading: Reading,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TraitState {
    /// The winning identify's timestamp (`Ms::MIN`: none yet).
    pub(crate) ts: Ms,
    pub(crate) reading: i64,
    /// Future-stamped identifies naming the trait, sorted by time, ties in arrival order.
    pub(crate) future: Vec<(Ms, i64)>,
}

/// How a trait condition tests the reading.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TraitTest {
    Value,
    Date(TimeTest),
    Anniversary { days: i64 },
}

impl TraitSpec {
    pub(crate) fn read(&self, traits: Props) -> i64 {
        match &self.reading {
            Reading::Test(test) => i64::from(test.holds_at(&self.path, traits)),
            Reading::Date => self.path.first(traits).and_then(date_of).unwrap_or(NO_DATE),
        }
    }

    /// The reading of a profile that never named the trait.
    pub(crate) fn unset(&self) -> i64 {
        self.read(Props::EMPTY)
    }

    pub(crate) fn empty(&self) -> TraitState {
        TraitState {
            ts: Ms::MIN,
            reading: self.unset(),
            future: Vec::new(),
        }
    }

    /// Whether an input sets this trait (an identify naming the top-level key).
    pub(crate) fn names(&self, input: &Input) -> bool {
        input.traits.is_some_and(|t| t.contains_key(&self.top))
    }

    pub(crate) fn insert(&self, state: &mut TraitState, input: &Input, now: Ms) {
        let Some(traits) = input.traits else {
            return;
        };
        // Settle reached future identifies first: the comparison below is with the winner.
        self.prune(state, now);
        let ts = input.ms();
        let reading = self.read(traits);
        if ts <= now {
            // Ties go to the later arrival, which this is.
            if ts >= state.ts {
                state.ts = ts;
                state.reading = reading;
            }
        } else {
            let i = state.future.partition_point(|&(t, _)| t <= ts);
            insert_tight(&mut state.future, i, (ts, reading));
        }
    }

    pub(crate) fn prune(&self, state: &mut TraitState, now: Ms) {
        let reached = state.future.partition_point(|&(t, _)| t <= now);
        if reached > 0 {
            // Future identifies are newer than any past one: the last reached wins.
            (state.ts, state.reading) = state.future[reached - 1];
            state.future.drain(..reached);
        }
    }

    /// The reading at `t` (at or after the state's last prune).
    pub(crate) fn reading_at(&self, state: Option<&TraitState>, t: Ms) -> i64 {
        let Some(state) = state else {
            return self.unset();
        };
        let reached = state.future.partition_point(|&(f, _)| f <= t);
        reached
            .checked_sub(1)
            .map_or(state.reading, |i| state.future[i].1)
    }

    pub(crate) fn holds(&self, test: &TraitTest, state: Option<&TraitState>, t: Ms) -> bool {
        let reading = self.reading_at(state, t);
        match test {
            TraitTest::Value => reading == 1,
            TraitTest::Date(time) => reading != NO_DATE && time.holds(reading, t),
            TraitTest::Anniversary { days } => {
                reading != NO_DATE && anniversary_within(reading, *days, t)
            }
        }
    }

    /// The first instant after `t` at which the test may change value.
    pub(crate) fn next_edge(&self, test: &TraitTest, state: &TraitState, t: Ms) -> Option<Ms> {
        let mut e = Earliest::new(t);
        state.future.iter().for_each(|&(f, _)| e.consider(f));
        let reading = self.reading_at(Some(state), t);
        if reading != NO_DATE {
            match test {
                TraitTest::Value => {}
                TraitTest::Date(time) => time.edges(reading, |at| e.consider(at)),
                TraitTest::Anniversary { days } => {
                    if let Some(at) = anniversary_flip(reading, *days, t) {
                        e.consider(at);
                    }
                }
            }
        }
        e.best
    }
}
