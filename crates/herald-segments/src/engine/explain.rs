//! Why a profile is, or is not, in a segment at an instant: the segment's condition as a tree,
//! each node with whether it holds and, at the leaves, what was found (counts and sums with
//! their thresholds, the times of a few matching events, trait values).
//!
//! Built from the reference evaluator, so an explanation always agrees with
//! [`Program::evaluate_at`] over the same history.

use super::evaluate::{Detail, Reference};
use super::input::{Input, key_value};
use super::program::{Expr, Program, SegmentIdx};
use super::time::{Ms, from_ms, to_ms};
use crate::ast::{Condition, SegmentName};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// How many matching event times, key groups or sequence candidates an explanation lists.
const SHOWN: usize = 5;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub segment: SegmentName,
    pub at: Timestamp,
    pub member: bool,
    pub condition: Node,
}

/// One condition of the tree.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    All {
        holds: bool,
        of: Vec<Node>,
    },
    Any {
        holds: bool,
        of: Vec<Node>,
    },
    Not {
        holds: bool,
        condition: Box<Node>,
    },
    AtLeast {
        holds: bool,
        n: u32,
        /// How many of `of` hold.
        met: u32,
        of: Vec<Node>,
    },
    Segment {
        holds: bool,
        name: SegmentName,
    },
    /// A `count`/`sum`/... condition; `value` is the measure (`None`: avg/min/max of nothing).
    Metric {
        holds: bool,
        condition: Condition,
        value: Option<f64>,
        events: usize,
        /// The most recent matching events in the window.
        recent: Vec<Timestamp>,
    },
    PerKey {
        holds: bool,
        condition: Condition,
        /// Key values with their measures, those that satisfy the comparison first.
        groups: Vec<Group>,
        /// How many key values there are in all.
        total_groups: usize,
    },
    Occurrence {
        holds: bool,
        condition: Condition,
        time: Option<Timestamp>,
    },
    Sequence {
        holds: bool,
        condition: Condition,
        /// The most recent candidate first events.
        candidates: Vec<Candidate>,
    },
    Trait {
        holds: bool,
        condition: Condition,
        value: Option<Value>,
        /// The timestamp of the identify that set the value.
        set_at: Option<Timestamp>,
        #[serde(skip_serializing_if = "Option::is_none")]
        days_to_anniversary: Option<i64>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub key: Value,
    pub value: Option<f64>,
    pub events: usize,
    pub holds: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    pub at: Timestamp,
    /// Whether it lies in the window and is old enough to count.
    pub counts: bool,
    /// The earliest follower at or before the instant explained.
    pub followed_at: Option<Timestamp>,
}

impl Node {
    pub fn holds(&self) -> bool {
        match self {
            Node::All { holds, .. }
            | Node::Any { holds, .. }
            | Node::Not { holds, .. }
            | Node::AtLeast { holds, .. }
            | Node::Segment { holds, .. }
            | Node::Metric { holds, .. }
            | Node::PerKey { holds, .. }
            | Node::Occurrence { holds, .. }
            | Node::Sequence { holds, .. }
            | Node::Trait { holds, .. } => *holds,
        }
    }
}

fn ts(ms: Ms) -> Timestamp {
    from_ms(ms).unwrap_or(Timestamp::MAX)
}

impl Program {
    /// Why the profile with this history is or is not in `seg` at `at`.
    pub fn explain(&self, seg: SegmentIdx, history: &[Input], at: Timestamp) -> Explanation {
        let reference = Reference::new(self, history, to_ms(at));
        let members = reference.memberships();
        let condition = self.node(&self.exprs[seg.index()], &reference, &members);
        Explanation {
            segment: self.names[seg.index()].clone(),
            at,
            member: members[seg.index()],
            condition,
        }
    }

    fn node(&self, e: &Expr, r: &Reference, members: &[bool]) -> Node {
        let list = |es: &[Expr]| {
            es.iter()
                .map(|e| self.node(e, r, members))
                .collect::<Vec<_>>()
        };
        match e {
            Expr::All(es) => {
                let of = list(es);
                Node::All {
                    holds: of.iter().all(Node::holds),
                    of,
                }
            }
            Expr::Any(es) => {
                let of = list(es);
                Node::Any {
                    holds: of.iter().any(Node::holds),
                    of,
                }
            }
            Expr::Not(e) => {
                let inner = self.node(e, r, members);
                Node::Not {
                    holds: !inner.holds(),
                    condition: Box::new(inner),
                }
            }
            Expr::AtLeast(n, es) => {
                let of = list(es);
                let met = of.iter().filter(|n| n.holds()).count() as u32;
                Node::AtLeast {
                    holds: met >= *n,
                    n: *n,
                    met,
                    of,
                }
            }
            Expr::Segment(s) => Node::Segment {
                holds: members[*s as usize],
                name: self.names[*s as usize].clone(),
            },
            Expr::Atom(a) => self.leaf(*a, r),
        }
    }

    fn leaf(&self, a: u32, r: &Reference) -> Node {
        let fact = r.fact(a);
        let condition = self.atoms[a as usize].source.clone();
        let holds = fact.holds;
        match fact.detail {
            Detail::Metric { value, times } => Node::Metric {
                holds,
                condition,
                value,
                events: times.len(),
                recent: times.iter().rev().take(SHOWN).map(|&t| ts(t)).collect(),
            },
            Detail::PerKey { mut groups } => {
                let total_groups = groups.len();
                // Satisfying groups first, then the busiest.
                groups.sort_by(|a, b| b.3.cmp(&a.3).then(b.2.cmp(&a.2)));
                Node::PerKey {
                    holds,
                    condition,
                    groups: groups
                        .into_iter()
                        .take(SHOWN)
                        .map(|(key, value, events, holds)| Group {
                            key: key_value(&key),
                            value,
                            events,
                            holds,
                        })
                        .collect(),
                    total_groups,
                }
            }
            Detail::Occurrence { time } => Node::Occurrence {
                holds,
                condition,
                time: time.map(ts),
            },
            Detail::Sequence { candidates } => Node::Sequence {
                holds,
                condition,
                candidates: candidates
                    .iter()
                    .rev()
                    .take(SHOWN)
                    .map(|&(at, counts, followed)| Candidate {
                        at: ts(at),
                        counts,
                        followed_at: followed.map(ts),
                    })
                    .collect(),
            },
            Detail::Trait {
                value,
                set_at,
                days_to_anniversary,
            } => Node::Trait {
                holds,
                condition,
                value,
                set_at: set_at.map(ts),
                days_to_anniversary,
            },
        }
    }
}
