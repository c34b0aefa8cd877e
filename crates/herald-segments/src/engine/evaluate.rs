//! The reference: memberships computed from scratch over a whole history, straight from the
//! documented meaning, with none of the incremental engine's shortcuts. It is slow and plainly
//! right; property tests hold the incremental engine to it at every instant, and explanations
//! are built from the facts it finds.
//!
//! Only messages stamped at or before `at` exist; Herald's own `Segment Entered` / `Segment
//! Exited` events never do. A message's position in the history is its arrival order (it breaks
//! ties between identifies stamped at the same instant, and tells a message from itself in
//! sequences).

use super::atom::{AtomTest, Tracker};
use super::input::Props;
use super::input::{Input, Key, date_of};
use super::marks::{Reading, TraitSpec, TraitTest};
use super::program::{Expr, Program};
use super::sequence::Seq;
use super::sum::ExactSum;
use super::tally::{Cmp, Measure, Tally, measure_value};
use super::time::{Ms, anniversary_within, civil_from_days, day_of, next_anniversary, to_ms};
use crate::ast::{Pick, Which};
use herald_core::MessageKind;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the reference found for one atom.
#[derive(Clone, Debug)]
pub(crate) struct Fact {
    pub(crate) holds: bool,
    pub(crate) detail: Detail,
}

#[derive(Clone, Debug)]
pub(crate) enum Detail {
    Metric {
        value: Option<f64>,
        /// Matching in-window event times, oldest first.
        times: Vec<Ms>,
    },
    PerKey {
        /// Per key value: the measure, the number of events, whether it satisfies the comparison.
        groups: Vec<(Key, Option<f64>, usize, bool)>,
    },
    Occurrence {
        time: Option<Ms>,
    },
    Sequence {
        /// Candidate first events: time, whether it counts (window, age), earliest follower.
        candidates: Vec<(Ms, bool, Option<Ms>)>,
    },
    Trait {
        value: Option<Value>,
        set_at: Option<Ms>,
        /// For anniversary tests: days from today to the next anniversary.
        days_to_anniversary: Option<i64>,
    },
}

/// One history at one instant.
pub(crate) struct Reference<'r, 'a> {
    program: &'r Program,
    history: &'r [Input<'a>],
    at: Ms,
}

impl Program {
    /// Memberships at `at` computed from scratch over `history` (in arrival order; only messages
    /// stamped at or before `at` count), by [`SegmentIdx`](super::SegmentIdx).
    pub fn evaluate_at(&self, history: &[Input], at: Timestamp) -> Vec<bool> {
        Reference::new(self, history, to_ms(at)).memberships()
    }
}

impl<'r, 'a> Reference<'r, 'a> {
    pub(crate) fn new(program: &'r Program, history: &'r [Input<'a>], at: Ms) -> Self {
        Reference {
            program,
            history,
            at,
        }
    }

    /// The messages that exist at `at`, with their arrival positions and times.
    fn existing(&self) -> impl Iterator<Item = (usize, &'r Input<'a>, Ms)> + '_ {
        self.history
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.is_own())
            .map(|(i, m)| (i, m, m.ms()))
            .filter(move |&(_, _, ts)| ts <= self.at)
    }

    pub(crate) fn memberships(&self) -> Vec<bool> {
        let mut members = vec![false; self.program.names.len()];
        for &s in &self.program.order {
            members[s as usize] = self.eval(&self.program.exprs[s as usize], &members);
        }
        members
    }

    pub(crate) fn eval(&self, e: &Expr, members: &[bool]) -> bool {
        match e {
            Expr::Atom(a) => self.fact(*a).holds,
            Expr::Segment(s) => members[*s as usize],
            Expr::Not(e) => !self.eval(e, members),
            Expr::All(es) => es.iter().all(|e| self.eval(e, members)),
            Expr::Any(es) => es.iter().any(|e| self.eval(e, members)),
            Expr::AtLeast(n, es) => {
                es.iter().filter(|e| self.eval(e, members)).count() >= *n as usize
            }
        }
    }

    pub(crate) fn fact(&self, a: u32) -> Fact {
        let atom = &self.program.atoms[a as usize];
        match (&self.program.trackers[atom.tracker as usize], &atom.test) {
            (Tracker::Tally(t), AtomTest::Compare(cmp)) if t.key.is_none() => self.metric(t, *cmp),
            (Tracker::Tally(t), AtomTest::Compare(cmp)) => self.per_key(t, *cmp),
            (Tracker::Occur(sel, o), AtomTest::Time(test)) => {
                let times = self
                    .existing()
                    .filter(|(_, m, _)| sel.matches(m))
                    .map(|(_, _, ts)| ts);
                let time = match o.which {
                    Which::First => times.min(),
                    Which::Last => times.max(),
                };
                Fact {
                    holds: time.is_some_and(|x| test.holds(x, self.at)),
                    detail: Detail::Occurrence { time },
                }
            }
            (Tracker::Seq(seq), AtomTest::Seq) => self.sequence(seq),
            (Tracker::Trait(spec), AtomTest::Trait(test)) => self.trait_fact(spec, test),
            _ => Fact {
                holds: false,
                detail: Detail::Occurrence { time: None },
            },
        }
    }

    /// The matching in-window events of a tally.
    fn in_window(&self, t: &Tally) -> Vec<(&'r Input<'a>, Ms)> {
        self.existing()
            .filter(|&(_, m, ts)| t.sel.matches(m) && t.win.contains(ts, self.at))
            .map(|(_, m, ts)| (m, ts))
            .collect()
    }

    /// The measure over some events.
    fn measure(measure: &Measure, events: &[(&Input, Ms)]) -> Option<f64> {
        let mut sum = ExactSum::default();
        let (mut values, mut min, mut max) = (0u64, f64::INFINITY, f64::NEG_INFINITY);
        let mut distinct: Vec<Key> = Vec::new();
        for (m, _) in events {
            match measure {
                Measure::Count => {}
                Measure::Distinct(p) => {
                    let mut keys = Vec::new();
                    p.keys(m.properties, &mut keys);
                    for k in keys {
                        if !distinct.contains(&k) {
                            distinct.push(k);
                        }
                    }
                }
                Measure::Sum(p) | Measure::Avg(p) | Measure::Min(p) | Measure::Max(p) => {
                    p.any(m.properties, |v| {
                        if let Some(x) = v.as_f64() {
                            sum.add(x);
                            values += 1;
                            min = min.min(x);
                            max = max.max(x);
                        }
                        false
                    });
                }
            }
        }
        measure_value(
            measure,
            events.len() as u64,
            values,
            sum.value(),
            min,
            max,
            distinct.len() as u64,
        )
    }

    fn metric(&self, t: &Tally, cmp: Cmp) -> Fact {
        let events = self.in_window(t);
        let value = Self::measure(&t.measure, &events);
        Fact {
            holds: value.is_some_and(|v| cmp.holds(v)),
            detail: Detail::Metric {
                value,
                times: {
                    let mut times: Vec<Ms> = events.iter().map(|&(_, ts)| ts).collect();
                    times.sort_unstable();
                    times
                },
            },
        }
    }

    fn per_key(&self, t: &Tally, cmp: Cmp) -> Fact {
        let Some(key) = &t.key else {
            return self.metric(t, cmp);
        };
        let mut groups: BTreeMap<Key, Vec<(&Input, Ms)>> = BTreeMap::new();
        for (m, ts) in self.in_window(t) {
            let mut keys = Vec::new();
            key.keys(m.properties, &mut keys);
            for k in keys {
                groups.entry(k).or_default().push((m, ts));
            }
        }
        let groups: Vec<_> = groups
            .into_iter()
            .map(|(k, events)| {
                let value = Self::measure(&t.measure, &events);
                let holds = value.is_some_and(|v| cmp.holds(v));
                (k, value, events.len(), holds)
            })
            .collect();
        Fact {
            holds: groups.iter().any(|g| g.3),
            detail: Detail::PerKey { groups },
        }
    }

    fn sequence(&self, seq: &Seq) -> Fact {
        let firsts: Vec<(usize, &Input, Ms)> = self
            .existing()
            .filter(|(_, m, _)| seq.first.matches(m))
            .collect();
        let latest = firsts.iter().map(|&(_, _, ts)| ts).max();
        let mut candidates = Vec::new();
        let mut holds = false;
        for &(i, first, ts) in &firsts {
            if seq.pick == Pick::Latest && Some(ts) != latest {
                continue;
            }
            let key = seq.key(first);
            let follower = self
                .existing()
                .filter(|&(j, m, s)| {
                    j != i
                        && seq.second.matches(m)
                        && seq.follows(ts, key.as_ref(), s, seq.key(m).as_ref())
                })
                .map(|(_, _, s)| s)
                .min();
            let counts =
                seq.win.contains(ts, self.at) && seq.older.is_none_or(|d| self.at - ts > d);
            if counts && follower.is_some() == seq.followed {
                holds = true;
            }
            candidates.push((ts, counts, follower));
        }
        candidates.sort_unstable_by_key(|c| c.0);
        Fact {
            holds,
            detail: Detail::Sequence { candidates },
        }
    }

    fn trait_fact(&self, spec: &TraitSpec, test: &TraitTest) -> Fact {
        // The latest identify naming the trait; ties go to the later arrival.
        let winner = self
            .existing()
            .filter_map(|(i, m, ts)| {
                let traits = m.traits.filter(|_| m.kind == MessageKind::Identify)?;
                traits.contains_key(&spec.top).then_some((ts, i, traits))
            })
            .max_by_key(|&(ts, i, _)| (ts, i));
        let traits = winner.map_or(Props::EMPTY, |w| w.2);
        let value = spec.path.first(traits).cloned();
        let date = value.as_ref().and_then(date_of);
        let holds = match (&spec.reading, test) {
            (Reading::Test(t), TraitTest::Value) => t.holds_at(&spec.path, traits),
            (Reading::Date, TraitTest::Date(time)) => date.is_some_and(|d| time.holds(d, self.at)),
            (Reading::Date, TraitTest::Anniversary { days }) => {
                date.is_some_and(|d| anniversary_within(d, *days, self.at))
            }
            _ => false,
        };
        let days_to_anniversary = match test {
            TraitTest::Anniversary { .. } => date.map(|d| {
                let (_, month, day) = civil_from_days(day_of(d));
                let today = day_of(self.at);
                next_anniversary(today, month, day) - today
            }),
            _ => None,
        };
        Fact {
            holds,
            detail: Detail::Trait {
                value,
                set_at: winner.map(|w| w.0),
                days_to_anniversary,
            },
        }
    }
}
