//! A journey compiled for running: its steps flattened into numbered nodes.
//!
//! A node's number is its step id within the journey's version: it names the step in actions,
//! reports and idempotency keys, so it must not change while instances run on the version
//! (versions are immutable). Nodes are numbered depth-first in text order, so the first step is
//! node 0.

use crate::ast::{
    Channel, Cond, Engagement, Entry, ExitWhen, Journey, JourneyName, MessageClass, Step,
    TemplateName, TimeOfDay, Trigger, Weekday,
};
use herald_segments::ast::{PropertyPath, SegmentName};
use herald_segments::engine::{EventMatcher, FilterCheck, TraitCheck};
use serde_json::Value;

/// Where an instance goes when a branch of steps runs out: the end of the journey.
pub(crate) const END: u32 = u32::MAX;

/// A node's outgoing place still to be pointed at what follows its block.
type Hole = (u32, Slot);

#[derive(Clone, Copy, Debug)]
enum Slot {
    Next,
    /// `then` of a branch, `received` of a wait-for.
    First,
    /// `otherwise` of a branch, `timed_out` of a wait-for.
    Second,
    Arm(u32),
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Send {
        channel: Channel,
        template: TemplateName,
        next: u32,
    },
    Wait {
        ms: i64,
        next: u32,
    },
    WaitUntil {
        at: TimeOfDay,
        /// Bit `i` set: allowed on `Weekday::ALL[i]` (all days when 0).
        days: u8,
        next: u32,
    },
    WaitFor {
        events: EventMatcher,
        same_key: bool,
        timeout_ms: i64,
        received: u32,
        timed_out: u32,
    },
    Branch {
        cond: Check,
        then: u32,
        otherwise: u32,
    },
    Split {
        arms: Vec<SplitArm>,
    },
    SetTrait {
        key: String,
        value: Value,
        next: u32,
    },
    Webhook {
        url: String,
        next: u32,
    },
    Exit,
}

#[derive(Clone, Debug)]
pub(crate) struct SplitArm {
    pub(crate) name: String,
    pub(crate) weight: u32,
    pub(crate) holdout: bool,
    pub(crate) first: u32,
}

/// A compiled branch condition.
#[derive(Clone, Debug)]
pub(crate) enum Check {
    All(Vec<Check>),
    Any(Vec<Check>),
    Not(Box<Check>),
    InSegment(SegmentName),
    Trait(TraitCheck),
    Trigger(FilterCheck),
    Engaged {
        template: TemplateName,
        how: Engagement,
    },
    /// An event since entry: bit `index` of the instance's `seen`.
    Seen(u32),
}

/// An event condition watched from entry on (a `Check::Seen` bit).
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    pub(crate) events: EventMatcher,
    pub(crate) same_key: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Start {
    Event(EventMatcher),
    Entered(SegmentName),
    Left(SegmentName),
    Anniversary { path: PropertyPath, at: TimeOfDay },
    Api,
}

#[derive(Clone, Debug)]
pub(crate) enum Stop {
    Entered(SegmentName),
    Left(SegmentName),
    Event {
        events: EventMatcher,
        same_key: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct GoalCheck {
    pub(crate) events: EventMatcher,
    pub(crate) same_key: bool,
    pub(crate) within_ms: i64,
}

/// One version of a journey, ready to run.
#[derive(Clone, Debug)]
pub struct Flow {
    pub(crate) name: JourneyName,
    pub(crate) version: u32,
    pub(crate) start: Start,
    pub(crate) key: Option<PropertyPath>,
    pub(crate) entry: Entry,
    pub(crate) class: MessageClass,
    pub(crate) goal: Option<GoalCheck>,
    pub(crate) stops: Vec<Stop>,
    pub(crate) nodes: Vec<Node>,
    /// Each node's place in the definition, e.g. `steps[3].then[0]`, for people reading reports.
    pub(crate) paths: Vec<String>,
    pub(crate) watches: Vec<Watch>,
    /// Only events received at or after this instant trigger it (history that was there before
    /// the journey went live does not); `None` in backtests.
    pub(crate) live_since: Option<jiff::Timestamp>,
}

/// At most this many `event(...) since entry` conditions per journey (bits of a `u64`).
const MAX_WATCHES: usize = 64;

impl Flow {
    pub fn compile(journey: &Journey, version: u32) -> Result<Flow, String> {
        let name = journey.name.as_str();
        let at = |what: &str, e: String| format!("journey {name}, {what}: {e}");
        let start = match &journey.trigger {
            Trigger::Event { events } => {
                Start::Event(EventMatcher::compile(events).map_err(|e| at("trigger", e))?)
            }
            Trigger::Entered { segment } => Start::Entered(segment.clone()),
            Trigger::Left { segment } => Start::Left(segment.clone()),
            Trigger::Anniversary { path, at } => Start::Anniversary {
                path: path.clone(),
                at: *at,
            },
            Trigger::Api => Start::Api,
        };
        let goal = match &journey.goal {
            Some(g) => Some(GoalCheck {
                events: EventMatcher::compile(&g.events).map_err(|e| at("goal", e))?,
                same_key: g.same_key,
                within_ms: g.within.millis(),
            }),
            None => None,
        };
        let stops = journey
            .exit_when
            .iter()
            .map(|x| {
                Ok(match x {
                    ExitWhen::Entered { segment } => Stop::Entered(segment.clone()),
                    ExitWhen::Left { segment } => Stop::Left(segment.clone()),
                    ExitWhen::Event { events, same_key } => Stop::Event {
                        events: EventMatcher::compile(events).map_err(|e| at("exit", e))?,
                        same_key: *same_key,
                    },
                })
            })
            .collect::<Result<_, String>>()?;
        let mut flow = Flow {
            name: journey.name.clone(),
            version,
            start,
            key: journey.key.clone(),
            entry: journey.entry,
            class: journey.class,
            goal,
            stops,
            nodes: Vec::new(),
            paths: Vec::new(),
            watches: Vec::new(),
            live_since: None,
        };
        let (_, holes) = flow
            .block(&journey.steps, "steps")
            .map_err(|e| at("steps", e))?;
        flow.patch(&holes, END);
        if flow.nodes.is_empty() {
            return Err(format!("journey {name} has no steps"));
        }
        Ok(flow)
    }

    /// Only events received at or after `since` will trigger this version.
    pub fn live_since(mut self, since: jiff::Timestamp) -> Flow {
        self.live_since = Some(since);
        self
    }

    pub fn name(&self) -> &JourneyName {
        &self.name
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The number of steps (nodes); step ids are `0..steps()`.
    pub fn steps(&self) -> usize {
        self.nodes.len()
    }

    /// Where a step is in the definition, e.g. `steps[2].otherwise[0]`.
    pub fn step_path(&self, step: u32) -> &str {
        self.paths.get(step as usize).map_or("end", String::as_str)
    }

    /// Compiles `steps` in text order. Returns the first node (`None` for no steps) and the
    /// holes: the places that go on to whatever follows the block, patched by the caller.
    fn block(&mut self, steps: &[Step], path: &str) -> Result<(Option<u32>, Vec<Hole>), String> {
        let mut first = None;
        let mut holes: Vec<Hole> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let here = format!("{path}[{i}]");
            // The node is numbered before its children, which the step compiles.
            let id = self.nodes.len() as u32;
            self.nodes.push(Node::Exit);
            self.paths.push(here.clone());
            let (node, inner) = self.node(id, step, &here)?;
            self.nodes[id as usize] = node;
            self.patch(&holes, id);
            holes = inner;
            first.get_or_insert(id);
        }
        Ok((first, holes))
    }

    /// Points every hole at `to`.
    fn patch(&mut self, holes: &[Hole], to: u32) {
        for &(id, slot) in holes {
            let node = &mut self.nodes[id as usize];
            let target = match (node, slot) {
                (
                    Node::Send { next, .. }
                    | Node::Wait { next, .. }
                    | Node::WaitUntil { next, .. }
                    | Node::SetTrait { next, .. }
                    | Node::Webhook { next, .. },
                    Slot::Next,
                ) => next,
                (Node::WaitFor { received, .. }, Slot::First) => received,
                (Node::WaitFor { timed_out, .. }, Slot::Second) => timed_out,
                (Node::Branch { then, .. }, Slot::First) => then,
                (Node::Branch { otherwise, .. }, Slot::Second) => otherwise,
                (Node::Split { arms }, Slot::Arm(i)) => &mut arms[i as usize].first,
                _ => unreachable!("holes name the slots their nodes have"),
            };
            *target = to;
        }
    }

    /// A sub-block's first node, or a hole at `slot` of `id` when it has no steps.
    fn sub_block(
        &mut self,
        steps: &[Step],
        path: &str,
        id: u32,
        slot: Slot,
        holes: &mut Vec<Hole>,
    ) -> Result<u32, String> {
        let (first, inner) = self.block(steps, path)?;
        holes.extend(inner);
        Ok(first.unwrap_or_else(|| {
            holes.push((id, slot));
            END
        }))
    }

    /// A step's node and its holes.
    fn node(&mut self, id: u32, step: &Step, path: &str) -> Result<(Node, Vec<Hole>), String> {
        let mut holes = Vec::new();
        let next = {
            holes.push((id, Slot::Next));
            END
        };
        let node = match step {
            Step::Send { channel, template } => Node::Send {
                channel: *channel,
                template: template.clone(),
                next,
            },
            Step::Wait { duration } => Node::Wait {
                ms: duration.millis(),
                next,
            },
            Step::WaitUntil { at, days } => Node::WaitUntil {
                at: *at,
                days: days.iter().fold(0u8, |m, d| m | day_bit(*d)),
                next,
            },
            Step::WaitFor {
                events,
                same_key,
                timeout,
                received,
                timed_out,
            } => {
                holes.clear();
                let events = EventMatcher::compile(events)?;
                let received = self.sub_block(
                    received,
                    &format!("{path}.received"),
                    id,
                    Slot::First,
                    &mut holes,
                )?;
                let timed_out = self.sub_block(
                    timed_out,
                    &format!("{path}.timed_out"),
                    id,
                    Slot::Second,
                    &mut holes,
                )?;
                Node::WaitFor {
                    events,
                    same_key: *same_key,
                    timeout_ms: timeout.millis(),
                    received,
                    timed_out,
                }
            }
            Step::Branch {
                condition,
                then,
                otherwise,
            } => {
                holes.clear();
                let cond = self.check(condition)?;
                let then =
                    self.sub_block(then, &format!("{path}.then"), id, Slot::First, &mut holes)?;
                let otherwise = self.sub_block(
                    otherwise,
                    &format!("{path}.otherwise"),
                    id,
                    Slot::Second,
                    &mut holes,
                )?;
                Node::Branch {
                    cond,
                    then,
                    otherwise,
                }
            }
            Step::Split { arms } => {
                holes.clear();
                let mut out = Vec::with_capacity(arms.len());
                for (i, arm) in arms.iter().enumerate() {
                    let first = if arm.holdout {
                        END
                    } else {
                        self.sub_block(
                            &arm.steps,
                            &format!("{path}.arms[{i}]"),
                            id,
                            Slot::Arm(i as u32),
                            &mut holes,
                        )?
                    };
                    out.push(SplitArm {
                        name: arm.name.clone(),
                        weight: arm.weight,
                        holdout: arm.holdout,
                        first,
                    });
                }
                if out.iter().map(|a| u64::from(a.weight)).sum::<u64>() == 0 {
                    return Err(format!("{path}: the split's weights add up to 0"));
                }
                Node::Split { arms: out }
            }
            Step::SetTrait { key, value } => Node::SetTrait {
                key: key.clone(),
                value: serde_json::to_value(value).map_err(|e| e.to_string())?,
                next,
            },
            Step::Webhook { url } => Node::Webhook {
                url: url.clone(),
                next,
            },
            Step::Exit => {
                holes.clear();
                Node::Exit
            }
        };
        Ok((node, holes))
    }

    fn check(&mut self, c: &Cond) -> Result<Check, String> {
        Ok(match c {
            Cond::All { of } => {
                Check::All(of.iter().map(|c| self.check(c)).collect::<Result<_, _>>()?)
            }
            Cond::Any { of } => {
                Check::Any(of.iter().map(|c| self.check(c)).collect::<Result<_, _>>()?)
            }
            Cond::Not { condition } => Check::Not(Box::new(self.check(condition)?)),
            Cond::InSegment { segment } => Check::InSegment(segment.clone()),
            Cond::Trait(t) => Check::Trait(TraitCheck::compile(t)?),
            Cond::Trigger(f) => Check::Trigger(FilterCheck::compile(f)?),
            Cond::Engaged { template, how } => Check::Engaged {
                template: template.clone(),
                how: *how,
            },
            Cond::Event { events, same_key } => {
                if self.watches.len() == MAX_WATCHES {
                    return Err(format!(
                        "at most {MAX_WATCHES} `event(...) since entry` conditions per journey"
                    ));
                }
                self.watches.push(Watch {
                    events: EventMatcher::compile(events)?,
                    same_key: *same_key,
                });
                Check::Seen(self.watches.len() as u32 - 1)
            }
        })
    }
}

pub(crate) fn day_bit(d: Weekday) -> u8 {
    1 << Weekday::ALL.iter().position(|x| *x == d).unwrap_or(0)
}
