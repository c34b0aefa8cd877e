//! The journey runner: per-person step machines driven by events and by time.
//!
//! It is plain code over plain data. The caller hands it a person's [`PersonState`], what it
//! knows of the person ([`Person`]: traits, segment memberships, recent sends), and either one
//! event of the person ([`Runner::on_event`]) or the current time ([`Runner::on_time`]); the
//! runner updates the state and returns the [`Action`]s to carry out: record an entry, hand a
//! message to the message layer, set a trait, ... It never reads a clock or a store, so the live
//! service and backtests run the same code, and tests pass months in milliseconds.
//!
//! Order of work for an event: the person's running instances see it first (engagement with
//! their messages, `event(...) since entry` conditions, exit conditions, goals, `wait for`), then
//! it may start new instances. So the event that triggers an instance never counts towards its
//! goal or its conditions, and an order that reaches one instance's goal can still start the
//! next.
//!
//! * [`flow`]: a journey compiled into numbered steps.
//! * [`state`]: what is kept per person.
//! * [`local`]: time zones, local times of day, quiet hours, anniversaries.
//! * `steps`: moving an instance forward.

mod flow;
pub mod local;
mod state;
mod steps;

pub use flow::Flow;
pub use state::{Instance, PersonState, SendRecord, Sent};

use crate::ast::{Channel, JourneyName, MessageClass, Rules, TemplateName};
use flow::{Start, Stop};
use herald_core::{MessageKind, ProfileId};
use herald_segments::engine::{Input, Props, key_at};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Herald's segment membership events, which segment triggers and exits listen to.
const SEGMENT_ENTERED: &str = "Segment Entered";
const SEGMENT_EXITED: &str = "Segment Exited";

/// What the runner knows about a person when it acts.
#[derive(Clone, Copy, Debug)]
pub struct Person<'a> {
    pub profile: ProfileId,
    pub traits: &'a Map<String, Value>,
    /// The segments the person is in now.
    pub segments: &'a BTreeSet<String>,
    /// Messages sent to the person lately (at least as far back as the longest cap).
    pub recent_sends: &'a [SendRecord],
}

/// One event of the person, as the log holds it.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    pub kind: MessageKind,
    pub name: Option<&'a str>,
    pub timestamp: Timestamp,
    /// When Herald received it: a journey is only triggered by events received after it went
    /// live (see [`Flow::live_since`]).
    pub received_at: Timestamp,
    pub properties: &'a Map<String, Value>,
}

impl Event<'_> {
    fn input(&self) -> Input<'_> {
        Input {
            kind: self.kind,
            name: self.name,
            timestamp: self.timestamp,
            properties: Props::Map(self.properties),
            traits: None,
            route: None,
        }
    }

    fn is(&self, name: &str) -> bool {
        self.kind == MessageKind::Track && self.name == Some(name)
    }

    fn segment(&self) -> Option<&str> {
        self.properties.get("segment").and_then(Value::as_str)
    }
}

/// Something the runner decided, for the caller to carry out and record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    pub at: Timestamp,
    pub journey: JourneyName,
    pub version: u32,
    pub instance: String,
    pub profile: ProfileId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The step (node id) it concerns, when it concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    #[serde(flatten)]
    pub what: What,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum What {
    Enter,
    /// Hand a message to the message layer. `message_id` is also its idempotency key: the same
    /// journey, version, instance and step always give the same id.
    Send {
        message_id: String,
        channel: Channel,
        template: TemplateName,
        class: MessageClass,
        /// The trigger event's properties, for the composer.
        #[serde(skip)]
        trigger: Map<String, Value>,
    },
    /// A send not made (frequency cap); the instance goes on. The id is the one the message
    /// would have had.
    Skip {
        message_id: String,
        channel: Channel,
        template: TemplateName,
        reason: String,
    },
    /// A send waits for the end of quiet hours.
    Defer {
        until: Timestamp,
        reason: String,
    },
    Branch {
        arm: String,
    },
    SetTrait {
        key: String,
        value: Value,
    },
    Webhook {
        message_id: String,
        url: String,
        #[serde(skip)]
        trigger: Map<String, Value>,
    },
    Goal,
    Exit {
        reason: ExitReason,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The steps ran out.
    Completed,
    /// An `exit` step.
    Exit,
    /// An `exit when` condition.
    Condition,
    Goal,
    /// Landed in a split's holdout arm.
    Holdout,
}

/// Rules compiled for checking at send time.
#[derive(Clone, Debug, Default)]
struct Policy {
    rules: Rules,
}

/// The journeys in force and every version that still has running instances.
#[derive(Clone, Debug)]
pub struct Runner {
    flows: BTreeMap<(JourneyName, u32), Flow>,
    /// The version new instances of each journey start on.
    live: BTreeMap<JourneyName, u32>,
    policy: Policy,
    default_zone: TimeZone,
}

impl Runner {
    /// A runner with no journeys; times of day of people without a `timezone` trait are in
    /// `default_zone`.
    pub fn new(default_zone: TimeZone) -> Runner {
        Runner {
            flows: BTreeMap::new(),
            live: BTreeMap::new(),
            policy: Policy::default(),
            default_zone,
        }
    }

    /// Adds a version of a journey. With `live`, new instances start on it; otherwise it only
    /// carries the instances that started on it.
    pub fn add(&mut self, flow: Flow, live: bool) {
        if live {
            self.live.insert(flow.name.clone(), flow.version);
        }
        self.flows.insert((flow.name.clone(), flow.version), flow);
    }

    /// Stops new entries into a journey (running instances finish).
    pub fn retire(&mut self, journey: &JourneyName) {
        self.live.remove(journey);
    }

    pub fn set_rules(&mut self, rules: Rules) {
        self.policy = Policy { rules };
    }

    pub fn flow(&self, journey: &JourneyName, version: u32) -> Option<&Flow> {
        self.flows.get(&(journey.clone(), version))
    }

    fn live_flows(&self) -> impl Iterator<Item = &Flow> {
        self.live
            .iter()
            .filter_map(|(name, v)| self.flows.get(&(name.clone(), *v)))
    }

    /// The next instant at which [`Runner::on_time`] has work for this person.
    pub fn next_due(&self, state: &PersonState) -> Option<Timestamp> {
        let wakes = state.instances.iter().filter_map(|i| i.wake);
        let dates = state.anniversaries.values().copied();
        wakes
            .chain(dates)
            .min()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
    }

    /// Whether the event can start an instance of a live journey (a person with no running
    /// instance is only worth loading for such events).
    pub fn could_start(&self, event: &Event) -> bool {
        let input = event.input();
        self.live_flows()
            .any(|flow| self.starts(flow, event, &input))
    }

    fn starts(&self, flow: &Flow, event: &Event, input: &Input) -> bool {
        if flow.live_since.is_some_and(|t| event.received_at < t) {
            return false;
        }
        // Memberships recomputed because a definition changed are not behaviour.
        if event.properties.get("backfill") == Some(&Value::Bool(true))
            && (event.is(SEGMENT_ENTERED) || event.is(SEGMENT_EXITED))
        {
            return false;
        }
        match &flow.start {
            Start::Event(m) => m.matches(input),
            Start::Entered(s) => event.is(SEGMENT_ENTERED) && event.segment() == Some(s.as_str()),
            Start::Left(s) => event.is(SEGMENT_EXITED) && event.segment() == Some(s.as_str()),
            Start::Anniversary { .. } | Start::Api => false,
        }
    }

    /// One event of the person, processed at `now`. An identify must come with the person's
    /// traits already updated in `person`.
    pub fn on_event(
        &self,
        state: &mut PersonState,
        person: &Person,
        event: &Event,
        now: Timestamp,
    ) -> Vec<Action> {
        let mut run = steps::Run::new(self, person, now);
        let input = event.input();
        let mut i = 0;
        while i < state.instances.len() {
            let done = self.observe(&mut run, &mut state.instances[i], event, &input);
            if done {
                state.instances.remove(i);
            } else {
                i += 1;
            }
        }
        for flow in self.live_flows() {
            if self.starts(flow, event, &input) {
                run.enter(state, flow, event.properties);
            }
        }
        if event.kind == MessageKind::Identify {
            self.schedule_anniversaries(state, person, now);
        }
        run.actions
    }

    /// Time passes to `now`: waits end, quiet hours end, anniversaries come.
    pub fn on_time(&self, state: &mut PersonState, person: &Person, now: Timestamp) -> Vec<Action> {
        let mut run = steps::Run::new(self, person, now);
        let now_ms = now.as_millisecond();
        let mut i = 0;
        while i < state.instances.len() {
            let due = state.instances[i].wake.is_some_and(|w| w <= now_ms);
            let done = due && run.wake(&mut state.instances[i]);
            if done {
                state.instances.remove(i);
            } else {
                i += 1;
            }
        }
        let due: Vec<String> = state
            .anniversaries
            .iter()
            .filter(|(_, at)| **at <= now_ms)
            .map(|(j, _)| j.clone())
            .collect();
        for journey in due {
            state.anniversaries.remove(&journey);
            if let Some(flow) = JourneyName::parse(&journey)
                .ok()
                .and_then(|j| self.live.get(&j).and_then(|v| self.flows.get(&(j, *v))))
            {
                run.enter(state, flow, &Map::new());
            }
        }
        self.schedule_anniversaries(state, person, now);
        run.actions
    }

    /// Enrols the person in a journey triggered `on api`, with `properties` as its trigger.
    pub fn enrol(
        &self,
        state: &mut PersonState,
        person: &Person,
        journey: &JourneyName,
        properties: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<Vec<Action>, EnrolError> {
        let flow = self
            .live
            .get(journey)
            .and_then(|v| self.flows.get(&(journey.clone(), *v)))
            .ok_or_else(|| EnrolError::Unknown(journey.to_string()))?;
        if !matches!(flow.start, Start::Api) {
            return Err(EnrolError::NotApi(journey.to_string()));
        }
        let mut run = steps::Run::new(self, person, now);
        if !run.enter(state, flow, properties) {
            return Err(EnrolError::Refused(journey.to_string()));
        }
        Ok(run.actions)
    }

    /// An event seen by a running instance; true when the instance has ended.
    fn observe(
        &self,
        run: &mut steps::Run<'_>,
        inst: &mut Instance,
        event: &Event,
        input: &Input,
    ) -> bool {
        let Some(flow) = self.flows.get(&(inst.journey.clone(), inst.version)) else {
            return false;
        };
        let event_key = key_of(flow, event.properties);
        let inst_key = inst.key.clone();
        let same_key = |needed: bool| -> bool { !needed || event_key == inst_key };
        // Engagement with this instance's messages.
        if let Some(id) = event.properties.get("email_id").and_then(Value::as_str)
            && let Some(sent) = inst.sent.iter_mut().find(|s| s.message_id == id)
        {
            if event.is("Email Delivered") {
                sent.delivered = true;
            } else if event.is("Email Opened") {
                sent.opened = true;
                sent.delivered = true;
            } else if event.is("Email Link Clicked") {
                sent.clicked = true;
                sent.opened = true;
                sent.delivered = true;
            }
        }
        for (i, w) in flow.watches.iter().enumerate() {
            if w.events.matches(input) && same_key(w.same_key) {
                inst.seen |= 1 << i;
            }
        }
        for stop in &flow.stops {
            let hit = match stop {
                Stop::Entered(s) => {
                    event.is(SEGMENT_ENTERED) && event.segment() == Some(s.as_str())
                }
                Stop::Left(s) => event.is(SEGMENT_EXITED) && event.segment() == Some(s.as_str()),
                Stop::Event {
                    events,
                    same_key: k,
                } => events.matches(input) && same_key(*k),
            };
            if hit {
                run.exit(inst, ExitReason::Condition);
                return true;
            }
        }
        if let Some(goal) = &flow.goal
            && goal.events.matches(input)
            && same_key(goal.same_key)
            && event.timestamp.as_millisecond() <= inst.entered + goal.within_ms
        {
            run.record(inst, None, What::Goal);
            run.exit(inst, ExitReason::Goal);
            return true;
        }
        run.event_arrived(flow, inst, input, &same_key)
    }

    /// Whether a live journey starts on an anniversary of a trait.
    pub fn has_anniversaries(&self) -> bool {
        self.live_flows()
            .any(|f| matches!(f.start, Start::Anniversary { .. }))
    }

    /// (Re)computes when the person's anniversary-triggered journeys next start, from their
    /// current traits (done on every identify and wake-up; callers do it for everyone when such
    /// a journey goes live).
    pub fn schedule_anniversaries(&self, state: &mut PersonState, person: &Person, now: Timestamp) {
        let tz = local::zone_of(person.traits, &self.default_zone);
        for flow in self.live_flows() {
            let Start::Anniversary { path, at } = &flow.start else {
                continue;
            };
            // One that is due but not yet fired (time is being caught up with) fires first.
            if state
                .anniversaries
                .get(flow.name.as_str())
                .is_some_and(|t| *t <= now.as_millisecond())
            {
                continue;
            }
            let next = herald_segments::engine::value_at(path, Props::Map(person.traits))
                .and_then(local::month_day)
                .and_then(|md| local::next_anniversary(now.as_millisecond(), md, *at, &tz));
            match next {
                Some(t) => {
                    state.anniversaries.insert(flow.name.to_string(), t);
                }
                None => {
                    state.anniversaries.remove(flow.name.as_str());
                }
            }
        }
    }
}

/// What migrating one instance to a journey's live version did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Migration {
    pub instance: String,
    pub from_version: u32,
    pub to_version: u32,
    /// Where it was, e.g. `steps[2]` (`end`: waiting out its goal's window).
    pub step: String,
    pub moved: bool,
    /// Why it stayed, or what it lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Runner {
    /// Moves this person's running instances of `journey` that started on older versions to the
    /// live one, each to the step at the same place in the definition when that step is of the
    /// same kind (waits keep their wake-up time). Others stay on their version and say why.
    pub fn migrate(&self, state: &mut PersonState, journey: &JourneyName) -> Vec<Migration> {
        let Some(&live) = self.live.get(journey) else {
            return Vec::new();
        };
        let Some(to) = self.flows.get(&(journey.clone(), live)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for inst in state
            .instances
            .iter_mut()
            .filter(|i| &i.journey == journey && i.version != live)
        {
            let Some(from) = self.flows.get(&(journey.clone(), inst.version)) else {
                continue;
            };
            let path = from.step_path(inst.step).to_owned();
            let target = if inst.step == flow::END {
                to.goal
                    .is_some()
                    .then_some(flow::END)
                    .ok_or("the live version has no goal")
            } else {
                to.paths
                    .iter()
                    .position(|p| *p == path)
                    .map(|i| i as u32)
                    .filter(|&i| {
                        std::mem::discriminant(&to.nodes[i as usize])
                            == std::mem::discriminant(&from.nodes[inst.step as usize])
                    })
                    .ok_or("the live version has no step of the same kind there")
            };
            let mut m = Migration {
                instance: inst.id.clone(),
                from_version: inst.version,
                to_version: live,
                step: path,
                moved: false,
                note: None,
            };
            match target {
                Ok(step) => {
                    if from.watches.len() != to.watches.len()
                        || from
                            .watches
                            .iter()
                            .zip(&to.watches)
                            .any(|(a, b)| a.events != b.events || a.same_key != b.same_key)
                    {
                        // Event conditions differ: what was seen under the old ones is dropped.
                        inst.seen = 0;
                        m.note =
                            Some("its `event(...) since entry` conditions start afresh".into());
                    }
                    inst.version = live;
                    inst.step = step;
                    m.moved = true;
                }
                Err(why) => m.note = Some(why.to_owned()),
            }
            out.push(m);
        }
        out
    }
}

/// What a caller's view of a person must learn from actions just taken, before the next call:
/// sends count towards caps, and trait updates are seen by later conditions.
pub fn note_actions(
    actions: &[Action],
    sends: &mut Vec<SendRecord>,
    traits: &mut Map<String, Value>,
) {
    for a in actions {
        match &a.what {
            What::Send { channel, class, .. } => sends.push(SendRecord {
                channel: *channel,
                class: *class,
                at: a.at.as_millisecond(),
            }),
            What::SetTrait { key, value } => {
                traits.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
}

/// The instance key of a trigger (or any event): the grouping key at the journey's key path.
fn key_of(flow: &Flow, properties: &Map<String, Value>) -> Option<String> {
    flow.key
        .as_ref()
        .and_then(|path| key_at(path, Props::Map(properties)))
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnrolError {
    #[error("there is no live journey named `{0}`")]
    Unknown(String),
    #[error("journey `{0}` is not triggered `on api`, so it cannot be enrolled into")]
    NotApi(String),
    #[error("the entry rules of journey `{0}` refuse this person now")]
    Refused(String),
}
