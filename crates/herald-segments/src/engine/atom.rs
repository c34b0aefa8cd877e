//! Atoms: the leaf conditions, compiled, and the trackers whose state they read.
//!
//! A leaf (a metric with its comparison, an occurrence test, a sequence, a trait test) becomes an
//! atom; leaves written the same way anywhere in a program are one atom. Each atom reads one
//! *tracker*, the per-profile state it needs, and trackers are shared more widely than atoms:
//! every comparison over the same events, measure, key and window reads one tally (which keeps
//! counts up to the largest threshold any of them needs), and every test of the same first/last
//! occurrence or of the same trait reading reads one tracker.

use super::input::{Path, Selector, Test};
use super::marks::{Occur, Point, Reading, TimeTest, TraitSpec, TraitTest};
use super::program::Expr;
use super::sequence::Seq;
use super::tally::{Cmp, Measure, Tally};
use super::time::{DAY, to_ms};
use super::window::Win;
use crate::ast::{self, Condition};
use std::collections::HashMap;

/// The per-profile state kinds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tracker {
    Tally(Tally),
    Occur(Selector, Occur),
    Seq(Seq),
    Trait(TraitSpec),
}

/// A leaf condition: a test of one tracker.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Atom {
    pub(crate) tracker: u32,
    pub(crate) test: AtomTest,
    /// The condition as written (for explanations).
    pub(crate) source: Condition,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AtomTest {
    Compare(Cmp),
    Time(TimeTest),
    Seq,
    Trait(TraitTest),
}

/// Compiles conditions, sharing atoms and trackers.
#[derive(Default)]
pub(crate) struct Builder {
    pub(crate) trackers: Vec<Tracker>,
    tracker_keys: HashMap<String, u32>,
    pub(crate) atoms: Vec<Atom>,
    atom_keys: HashMap<String, u32>,
}

impl Builder {
    pub(crate) fn expr(
        &mut self,
        c: &Condition,
        index: &HashMap<String, u32>,
    ) -> Result<Expr, String> {
        let list = |b: &mut Builder, of: &[Condition]| -> Result<Box<[Expr]>, String> {
            of.iter().map(|c| b.expr(c, index)).collect()
        };
        Ok(match c {
            Condition::All { of } => Expr::All(list(self, of)?),
            Condition::Any { of } => Expr::Any(list(self, of)?),
            // Neither needs its conditions' state: `at least 0` always holds, and more than
            // there are never does.
            Condition::AtLeast { n, of } if *n == 0 || *n as usize > of.len() => {
                Expr::AtLeast(*n, Box::new([]))
            }
            Condition::AtLeast { n, of } => Expr::AtLeast(*n, list(self, of)?),
            Condition::Not { condition } => Expr::Not(Box::new(self.expr(condition, index)?)),
            // Checked before compiling: every name is defined.
            Condition::Segment { name } => {
                Expr::Segment(index.get(name.as_str()).copied().unwrap_or(0))
            }
            leaf => Expr::Atom(self.atom(leaf)?),
        })
    }

    fn atom(&mut self, leaf: &Condition) -> Result<u32, String> {
        // Identical leaves share an atom; `Debug` spells out every field.
        let atom_key = format!("{leaf:?}");
        if let Some(&a) = self.atom_keys.get(&atom_key) {
            return Ok(a);
        }
        let (tracker_key, tracker, test) = compile_leaf(leaf)?;
        let t = match self.tracker_keys.get(&tracker_key) {
            Some(&t) => t,
            None => {
                self.trackers.push(tracker);
                let t = (self.trackers.len() - 1) as u32;
                self.tracker_keys.insert(tracker_key, t);
                t
            }
        };
        if let (Tracker::Tally(tally), AtomTest::Compare(cmp)) =
            (&mut self.trackers[t as usize], &test)
        {
            tally.keep = tally.keep.max(cmp.saturation());
        }
        self.atoms.push(Atom {
            tracker: t,
            test,
            source: leaf.clone(),
        });
        let a = (self.atoms.len() - 1) as u32;
        self.atom_keys.insert(atom_key, a);
        Ok(a)
    }
}

/// A leaf's tracker (with the key trackers are shared by) and its test.
fn compile_leaf(leaf: &Condition) -> Result<(String, Tracker, AtomTest), String> {
    Ok(match leaf {
        Condition::Metric(m) => {
            let tally = Tally {
                sel: Selector::compile(&m.events)?,
                measure: measure(&m.measure),
                key: None,
                win: Win::compile(&m.window),
                keep: 0,
            };
            (
                format!("tally {:?} {:?} {:?}", m.events, m.measure, m.window),
                Tracker::Tally(tally),
                AtomTest::Compare(Cmp {
                    op: m.compare.op,
                    value: m.compare.value,
                }),
            )
        }
        Condition::PerKey(p) => {
            let tally = Tally {
                sel: Selector::compile(&p.events)?,
                measure: measure(&p.measure),
                key: Some(Path::new(&p.key)),
                win: Win::compile(&p.window),
                keep: 0,
            };
            (
                format!(
                    "per {:?} {:?} {:?} {:?}",
                    p.events, p.measure, p.key, p.window
                ),
                Tracker::Tally(tally),
                AtomTest::Compare(Cmp {
                    op: p.compare.op,
                    value: p.compare.value,
                }),
            )
        }
        Condition::Occurrence(o) => (
            format!("occurrence {:?} {:?}", o.events, o.which),
            Tracker::Occur(Selector::compile(&o.events)?, Occur { which: o.which }),
            AtomTest::Time(time_test(&o.time)),
        ),
        Condition::Sequence(s) => {
            if let Some(same) = &s.same
                && same.0.contains(&ast::PathStep::Each)
            {
                return Err(format!(
                    "`on {same}`: a sequence matches events on one value; remove `[]`"
                ));
            }
            let seq = Seq {
                pick: s.pick,
                first: Selector::compile(&s.first)?,
                second: Selector::compile(&s.second)?,
                win: Win::compile(&s.window),
                older: s.older_than.map(|d| d.millis()),
                followed: s.followed,
                same: s.same.as_ref().map(Path::new),
                within: s.within.map(|d| d.millis()),
            };
            (format!("sequence {s:?}"), Tracker::Seq(seq), AtomTest::Seq)
        }
        Condition::Trait(t) => {
            let (spec, test) = compile_trait(t)?;
            let reading = &spec.reading;
            (
                format!("trait {:?} {reading:?}", t.path),
                Tracker::Trait(spec),
                AtomTest::Trait(test),
            )
        }
        Condition::All { .. }
        | Condition::Any { .. }
        | Condition::Not { .. }
        | Condition::AtLeast { .. }
        | Condition::Segment { .. } => unreachable!("not a leaf"),
    })
}

/// A trait condition's reading of the traits and its test of that reading.
pub(crate) fn compile_trait(t: &ast::TraitCondition) -> Result<(TraitSpec, TraitTest), String> {
    let path = Path::new(&t.path);
    let top: Box<str> = path
        .top()
        .ok_or_else(|| format!("trait path `{}` must start with a trait name", t.path))?
        .into();
    let (reading, test) = match &t.test {
        ast::TraitTest::Value { op, value } => {
            let test = Test::compile(*op, value.as_ref())
                .map_err(|e| format!("in the test of trait `{}`: {e}", t.path))?;
            (Reading::Test(test), TraitTest::Value)
        }
        date_test => {
            if path.has_each() {
                return Err(format!(
                    "trait `{}`: a date test needs one value; remove `[]`",
                    t.path
                ));
            }
            let test = match date_test {
                ast::TraitTest::Date(time) => TraitTest::Date(time_test(time)),
                ast::TraitTest::Anniversary { within } => TraitTest::Anniversary {
                    days: within.millis() / DAY,
                },
                ast::TraitTest::Value { .. } => unreachable!("matched above"),
            };
            (Reading::Date, test)
        }
    };
    Ok((TraitSpec { path, top, reading }, test))
}

fn measure(m: &ast::Measure) -> Measure {
    match m {
        ast::Measure::Count => Measure::Count,
        ast::Measure::Sum(p) => Measure::Sum(Path::new(p)),
        ast::Measure::Avg(p) => Measure::Avg(Path::new(p)),
        ast::Measure::Min(p) => Measure::Min(Path::new(p)),
        ast::Measure::Max(p) => Measure::Max(Path::new(p)),
        ast::Measure::Distinct(p) => Measure::Distinct(Path::new(p)),
    }
}

fn time_test(t: &ast::TimeTest) -> TimeTest {
    let point = |p: &ast::TimePoint| match p {
        ast::TimePoint::Now => Point::Rel(0),
        ast::TimePoint::Ago(span) => Point::Rel(-span.millis()),
        ast::TimePoint::FromNow(span) => Point::Rel(span.millis()),
        ast::TimePoint::At(at) => Point::At(to_ms(*at)),
    };
    match t {
        ast::TimeTest::Before(p) => TimeTest::Before(point(p)),
        ast::TimeTest::After(p) => TimeTest::After(point(p)),
        ast::TimeTest::Within(w) => TimeTest::Within(Win::compile(w)),
    }
}
