//! Moving an instance through its steps until it waits or ends.
//!
//! Steps only ever lead to later steps (a block's successor comes after all of its nodes), so a
//! run always ends. A wait is entered by setting `wake` and left when `wake` has passed; a send
//! deferred by quiet hours waits the same way on its own step.

use super::flow::{Check, END, Flow, Node};
use super::state::{Instance, PersonState, SendRecord, Sent};
use super::{Action, ExitReason, Person, Runner, What, key_of, local};
use crate::ast::{Channel, Engagement, Entry, MessageClass, TemplateName};
use herald_segments::engine::{Input, Props};
use jiff::Timestamp;
use serde_json::{Map, Value};

/// One call's work for one person.
pub(super) struct Run<'r> {
    runner: &'r Runner,
    person: &'r Person<'r>,
    now: Timestamp,
    now_ms: i64,
    /// Sends made during this call, counted by the caps with the person's earlier ones.
    sends: Vec<SendRecord>,
    pub(super) actions: Vec<Action>,
}

impl<'r> Run<'r> {
    pub(super) fn new(runner: &'r Runner, person: &'r Person<'r>, now: Timestamp) -> Self {
        Run {
            runner,
            person,
            now,
            now_ms: now.as_millisecond(),
            sends: Vec::new(),
            actions: Vec::new(),
        }
    }

    fn flow(&self, inst: &Instance) -> Option<&'r Flow> {
        self.runner.flows.get(&(inst.journey.clone(), inst.version))
    }

    pub(super) fn record(&mut self, inst: &Instance, step: Option<u32>, what: What) {
        self.actions.push(Action {
            at: self.now,
            journey: inst.journey.clone(),
            version: inst.version,
            instance: inst.id.clone(),
            profile: self.person.profile,
            key: inst.key.as_deref().map(shown_key),
            step,
            what,
        });
    }

    pub(super) fn exit(&mut self, inst: &Instance, reason: ExitReason) {
        let step = (inst.step != END).then_some(inst.step);
        self.record(inst, step, What::Exit { reason });
    }

    /// Starts an instance if the entry rules allow; true when it entered.
    pub(super) fn enter(
        &mut self,
        state: &mut PersonState,
        flow: &Flow,
        trigger: &Map<String, Value>,
    ) -> bool {
        let key = key_of(flow, trigger);
        if flow.key.is_some() && key.is_none() {
            // An entity journey needs the entity: a cart event without a cart id starts none.
            return false;
        }
        let running = state
            .instances
            .iter()
            .any(|i| i.journey == flow.name && i.key == key);
        let entry_key = PersonState::entry_key(&flow.name, key.as_deref());
        let last = state.entries.get(&entry_key).copied();
        let allowed = !running
            && match flow.entry {
                Entry::Once => last.is_none(),
                Entry::OncePer { span } => last.is_none_or(|t| self.now_ms - t >= span.millis()),
                Entry::EveryTime => true,
            };
        if !allowed {
            return false;
        }
        state.entries.insert(entry_key, self.now_ms);
        let mut inst = Instance {
            id: state.new_instance_id(self.person.profile),
            journey: flow.name.clone(),
            version: flow.version,
            key,
            entered: self.now_ms,
            step: 0,
            wake: None,
            seen: 0,
            trigger: trigger.clone(),
            sent: Vec::new(),
        };
        self.record(&inst, None, What::Enter);
        if !self.advance(flow, &mut inst) {
            state.instances.push(inst);
        }
        true
    }

    /// The instance's wake time has come; true when it has ended.
    pub(super) fn wake(&mut self, inst: &mut Instance) -> bool {
        let Some(flow) = self.flow(inst) else {
            return false;
        };
        if inst.step == END {
            // Its goal window is over.
            inst.wake = None;
            self.exit(inst, ExitReason::Completed);
            return true;
        }
        match flow.nodes.get(inst.step as usize) {
            Some(Node::WaitFor { timed_out, .. }) => {
                inst.wake = None;
                self.record(
                    inst,
                    Some(inst.step),
                    What::Branch {
                        arm: "timed_out".to_owned(),
                    },
                );
                inst.step = *timed_out;
            }
            Some(Node::Wait { next, .. } | Node::WaitUntil { next, .. }) => {
                inst.wake = None;
                inst.step = *next;
            }
            // A send deferred by quiet hours: try it again (the wake stays set until then).
            _ => {}
        }
        self.advance(flow, inst)
    }

    /// An event reached an instance that may be waiting for it; true when it has ended.
    pub(super) fn event_arrived(
        &mut self,
        flow: &Flow,
        inst: &mut Instance,
        input: &Input,
        same_key: &dyn Fn(bool) -> bool,
    ) -> bool {
        if let Some(Node::WaitFor {
            events,
            same_key: k,
            received,
            ..
        }) = flow.nodes.get(inst.step as usize)
            && inst.wake.is_some()
            && events.matches(input)
            && same_key(*k)
        {
            inst.wake = None;
            self.record(
                inst,
                Some(inst.step),
                What::Branch {
                    arm: "received".to_owned(),
                },
            );
            inst.step = *received;
            return self.advance(flow, inst);
        }
        false
    }

    /// Steps ran out: the instance ends, unless its goal can still be reached; then it waits
    /// for the goal (or the end of the window) so that conversions after the last message count.
    fn finish(&mut self, flow: &Flow, inst: &mut Instance) -> bool {
        inst.step = END;
        if let Some(goal) = &flow.goal {
            let until = inst.entered + goal.within_ms;
            if until > self.now_ms {
                inst.wake = Some(until);
                return false;
            }
        }
        self.exit(inst, ExitReason::Completed);
        true
    }

    /// Runs steps from the instance's current one until it waits (false) or ends (true).
    fn advance(&mut self, flow: &Flow, inst: &mut Instance) -> bool {
        loop {
            let step = inst.step;
            let Some(node) = flow.nodes.get(step as usize) else {
                return self.finish(flow, inst);
            };
            match node {
                Node::Send {
                    channel,
                    template,
                    next,
                } => {
                    if self.try_send(flow, inst, *channel, template) {
                        inst.step = *next;
                    } else {
                        return false;
                    }
                }
                Node::Wait { ms, next } => {
                    if inst.wake.is_none() {
                        inst.wake = Some(self.now_ms + ms);
                        return false;
                    }
                    inst.wake = None;
                    inst.step = *next;
                }
                Node::WaitUntil { at, days, next } => {
                    let tz = local::zone_of(self.person.traits, &self.runner.default_zone);
                    let t = local::next_local(self.now_ms, *at, *days, &tz);
                    if t > self.now_ms {
                        inst.wake = Some(t);
                        return false;
                    }
                    inst.step = *next;
                }
                Node::WaitFor { timeout_ms, .. } => {
                    inst.wake = Some(self.now_ms + timeout_ms);
                    return false;
                }
                Node::Branch {
                    cond,
                    then,
                    otherwise,
                } => {
                    let holds = self.holds(cond, inst);
                    let arm = if holds { "then" } else { "otherwise" };
                    self.record(
                        inst,
                        Some(step),
                        What::Branch {
                            arm: arm.to_owned(),
                        },
                    );
                    inst.step = if holds { *then } else { *otherwise };
                }
                Node::Split { arms } => {
                    let total: u64 = arms.iter().map(|a| u64::from(a.weight)).sum();
                    let mut pick = split_point(&inst.id, step) % total.max(1);
                    let arm = arms
                        .iter()
                        .find(|a| {
                            let w = u64::from(a.weight);
                            if pick < w {
                                true
                            } else {
                                pick -= w;
                                false
                            }
                        })
                        .unwrap_or(&arms[0]);
                    self.record(
                        inst,
                        Some(step),
                        What::Branch {
                            arm: arm.name.clone(),
                        },
                    );
                    if arm.holdout {
                        self.exit(inst, ExitReason::Holdout);
                        return true;
                    }
                    inst.step = arm.first;
                }
                Node::SetTrait { key, value, next } => {
                    self.record(
                        inst,
                        Some(step),
                        What::SetTrait {
                            key: key.clone(),
                            value: value.clone(),
                        },
                    );
                    inst.step = *next;
                }
                Node::Webhook { url, next } => {
                    let message_id = message_id(inst, step);
                    self.record(
                        inst,
                        Some(step),
                        What::Webhook {
                            message_id,
                            url: url.clone(),
                            trigger: inst.trigger.clone(),
                        },
                    );
                    inst.step = *next;
                }
                Node::Exit => {
                    self.exit(inst, ExitReason::Exit);
                    return true;
                }
            }
            if inst.step == END {
                return self.finish(flow, inst);
            }
        }
    }

    /// Sends, skips (cap) or defers (quiet hours) the message of a send step; false when it
    /// must wait.
    fn try_send(
        &mut self,
        flow: &Flow,
        inst: &mut Instance,
        channel: Channel,
        template: &TemplateName,
    ) -> bool {
        let step = inst.step;
        let marketing = flow.class == MessageClass::Marketing;
        let rules = &self.runner.policy.rules;
        if marketing {
            let tz = local::zone_of(self.person.traits, &self.runner.default_zone);
            let quiet = rules
                .quiet_hours
                .iter()
                .filter(|q| q.channel == channel)
                .find_map(|q| local::quiet_until(self.now_ms, q.from, q.to, &tz).map(|t| (q, t)));
            if let Some((q, until)) = quiet {
                if inst.wake != Some(until) {
                    inst.wake = Some(until);
                    let until_ts = Timestamp::from_millisecond(until).unwrap_or(self.now);
                    self.record(
                        inst,
                        Some(step),
                        What::Defer {
                            until: until_ts,
                            reason: format!(
                                "quiet hours for {} from {} to {}",
                                channel.as_str(),
                                q.from,
                                q.to
                            ),
                        },
                    );
                }
                return false;
            }
        }
        inst.wake = None;
        if marketing {
            let tz = local::zone_of(self.person.traits, &self.runner.default_zone);
            let over = rules.caps.iter().find(|cap| {
                cap.channel == channel && cap.class == flow.class && {
                    let since = local::cap_window_start(self.now_ms, cap.per, &tz);
                    let counted = |s: &&SendRecord| {
                        s.channel == channel
                            && s.class == flow.class
                            && s.at >= since
                            && s.at <= self.now_ms
                    };
                    let n = self.person.recent_sends.iter().filter(counted).count()
                        + self.sends.iter().filter(counted).count();
                    n >= cap.count as usize
                }
            });
            if let Some(cap) = over {
                let reason = format!(
                    "frequency cap: at most {} {} {} messages per {}",
                    cap.count,
                    cap.class.as_str(),
                    channel.as_str(),
                    cap.per
                );
                self.record(
                    inst,
                    Some(step),
                    What::Skip {
                        message_id: message_id(inst, step),
                        channel,
                        template: template.clone(),
                        reason,
                    },
                );
                return true;
            }
        }
        let message_id = message_id(inst, step);
        self.sends.push(SendRecord {
            channel,
            class: flow.class,
            at: self.now_ms,
        });
        inst.sent.push(Sent {
            step,
            template: template.to_string(),
            message_id: message_id.clone(),
            delivered: false,
            opened: false,
            clicked: false,
        });
        self.record(
            inst,
            Some(step),
            What::Send {
                message_id,
                channel,
                template: template.clone(),
                class: flow.class,
                trigger: inst.trigger.clone(),
            },
        );
        true
    }

    fn holds(&self, check: &Check, inst: &Instance) -> bool {
        match check {
            Check::All(of) => of.iter().all(|c| self.holds(c, inst)),
            Check::Any(of) => of.iter().any(|c| self.holds(c, inst)),
            Check::Not(c) => !self.holds(c, inst),
            Check::InSegment(s) => self.person.segments.contains(s.as_str()),
            Check::Trait(t) => t.holds(Props::Map(self.person.traits), self.now),
            Check::Trigger(f) => f.holds(Props::Map(&inst.trigger)),
            Check::Engaged { template, how } => {
                // The latest message of that template.
                inst.sent
                    .iter()
                    .rev()
                    .find(|s| s.template == template.as_str())
                    .is_some_and(|s| match how {
                        Engagement::Delivered => s.delivered,
                        Engagement::Opened => s.opened,
                        Engagement::Clicked => s.clicked,
                    })
            }
            Check::Seen(bit) => inst.seen & (1 << bit) != 0,
        }
    }
}

/// An instance key as people read it. Keys are kept typed (`s` + text, `n` + number, ...) so
/// that `5` and `"5"` are different carts; reports show the value.
fn shown_key(key: &str) -> String {
    match key.split_at(1.min(key.len())) {
        ("s" | "n", rest) => rest.to_owned(),
        ("b", "1") => "true".to_owned(),
        ("b", "0") => "false".to_owned(),
        (_, rest) => rest.to_owned(),
    }
}

/// The id (and idempotency key) of what a step of an instance sends: the same every time.
fn message_id(inst: &Instance, step: u32) -> String {
    format!("{}.{}.{}.{step}", inst.journey, inst.version, inst.id)
}

/// A split's draw for an instance: a hash of its id and step, so it never changes.
fn split_point(instance: &str, step: u32) -> u64 {
    // FNV-1a, then a finalizer so that consecutive ids spread over the arms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in instance.bytes().chain(step.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}
