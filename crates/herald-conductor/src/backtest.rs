//! Backtests: stored history replayed through journeys with a simulated clock. Nothing is sent.
//!
//! Each person is simulated on their own (journeys and segments are per person): their history
//! before `from` builds their segment state and traits; from `from` to `to`, their events, the
//! instants at which their segment memberships flip by the passing of time, and their journey
//! wake-ups are processed in time order, with the same runner the live conductor uses and in the
//! same order it would see them (an event; the membership changes it causes, as `Segment
//! Entered` / `Exited` events; then whoever is due at that instant). So a backtest of a period
//! tells what the live journeys would have done over it.

use crate::ConductorError;
use crate::records::properties_of;
use herald_core::{MessageKind, ProfileId, StoredEvent, Timestamp};
use herald_journeys::ast::{Journey, Rules};
use herald_journeys::runner::{
    Action, Event, Flow, Person, PersonState, Runner, SendRecord, What, note_actions,
};
use herald_segments::engine::{Input, ProfileState, Program, Props};
use herald_store::{SEGMENT_ENTERED, SEGMENT_EXITED, Store};
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Profiles whose histories are read per store query.
const PAGE: usize = 8192;

/// Totals of a backtest.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub profiles: u64,
    /// Per journey.
    pub entered: BTreeMap<String, u64>,
    /// Per `journey/step/template` (a step's sends).
    pub sends: BTreeMap<String, u64>,
    pub skipped: BTreeMap<String, u64>,
    pub goals: BTreeMap<String, u64>,
    /// Per `journey/reason`.
    pub exits: BTreeMap<String, u64>,
}

impl Summary {
    fn count(&mut self, a: &Action) {
        let j = a.journey.to_string();
        let at_step = |t: &dyn std::fmt::Display| format!("{j}/{}/{t}", a.step.unwrap_or(0));
        match &a.what {
            What::Enter => *self.entered.entry(j).or_default() += 1,
            What::Send { template, .. } => *self.sends.entry(at_step(template)).or_default() += 1,
            What::Skip { template, .. } => *self.skipped.entry(at_step(template)).or_default() += 1,
            What::Goal => *self.goals.entry(j).or_default() += 1,
            What::Exit { reason } => {
                let reason = serde_json::to_value(reason).unwrap_or_default();
                *self
                    .exits
                    .entry(format!("{j}/{}", reason.as_str().unwrap_or("")))
                    .or_default() += 1
            }
            _ => {}
        }
    }
}

/// One action as a backtest prints it: `time`, `profile` (the id people know), and the action.
pub fn action_json(action: &Action, display: &str) -> Value {
    let mut v = serde_json::to_value(action).expect("actions serialize");
    if let Value::Object(m) = &mut v {
        if let Some(at) = m.remove("at") {
            m.insert("time".into(), at);
        }
        m.insert("profile".into(), json!(display));
    }
    v
}

/// Replays history from `from` to `to` through `journeys` (under `rules`, with the stored
/// segments) and returns every action in time order with the id each person is known by, and
/// the totals.
pub async fn backtest(
    store: Arc<dyn Store>,
    journeys: &[Journey],
    rules: Rules,
    zone: TimeZone,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Vec<(Action, String)>, Summary), ConductorError> {
    let program = herald_segmenter::stored_program(store.as_ref())
        .await
        .map_err(|e| ConductorError::Stored(e.to_string()))?;
    let mut runner = Runner::new(zone);
    for j in journeys {
        runner.add(Flow::compile(j, 1).map_err(ConductorError::Invalid)?, true);
    }
    runner.set_rules(rules);
    let (profiles, upto) = all_profiles(store.as_ref()).await?;
    let mut summary = Summary::default();
    let mut actions = Vec::new();
    for chunk in profiles.chunks(PAGE) {
        let names: BTreeMap<ProfileId, String> = store
            .display_ids(chunk.to_vec())
            .await?
            .into_iter()
            .collect();
        for &p in chunk {
            let history = store.profile_history(p, upto).await?;
            let sim = Simulation::new(&program, &runner, p, from, to);
            let found = sim.run(&history);
            summary.profiles += 1;
            let display = names.get(&p).cloned().unwrap_or_else(|| p.to_string());
            for a in found {
                summary.count(&a);
                actions.push((a, display.clone()));
            }
        }
    }
    actions.sort_by(|a, b| (a.0.at, &a.1).cmp(&(b.0.at, &b.1)));
    Ok((actions, summary))
}

/// Every profile with an event, by id, and the log position read up to (histories are read up
/// to it, so events arriving meanwhile are left out consistently).
pub(crate) async fn all_profiles(
    store: &dyn Store,
) -> Result<(Vec<ProfileId>, u64), ConductorError> {
    let none: herald_store::BodyFilter = Arc::new(|_, _| false);
    let mut seen = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store
            .scan_events_sparse(after, 32_768, none.clone())
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        seen.extend(page.iter().map(|e| e.profile_id));
    }
    Ok((seen.into_iter().collect(), after))
}

/// One person's simulated timeline.
struct Simulation<'a> {
    program: &'a Program,
    runner: &'a Runner,
    profile: ProfileId,
    /// The simulated now: the start of the period, then the instant last handled.
    clock: Timestamp,
    to: Timestamp,
    segments: ProfileState,
    journeys: PersonState,
    traits: Map<String, Value>,
    sends: Vec<SendRecord>,
    actions: Vec<Action>,
}

impl<'a> Simulation<'a> {
    fn new(
        program: &'a Program,
        runner: &'a Runner,
        profile: ProfileId,
        from: Timestamp,
        to: Timestamp,
    ) -> Self {
        Simulation {
            program,
            runner,
            profile,
            clock: from,
            to,
            segments: program.new_state(),
            journeys: PersonState::default(),
            traits: Map::new(),
            sends: Vec::new(),
            actions: Vec::new(),
        }
    }

    fn run(mut self, history: &[StoredEvent]) -> Vec<Action> {
        let mut events: Vec<(&StoredEvent, Map<String, Value>)> = history
            .iter()
            .filter(|e| {
                !(e.kind == MessageKind::Track
                    && matches!(e.name.as_deref(), Some(SEGMENT_ENTERED | SEGMENT_EXITED)))
            })
            .map(|e| (e, properties_of(e.kind, &e.body)))
            .collect();
        events.sort_by_key(|(e, _)| (e.timestamp, e.seq));
        let mut events = events.into_iter().peekable();
        // History before the period: segment state and traits only.
        while let Some((e, props)) = events.next_if(|(e, _)| e.timestamp < self.clock) {
            self.segment_event(e, &props);
        }
        self.program.advance(&mut self.segments, self.clock);
        loop {
            let next_event = events.peek().map(|(e, _)| e.timestamp);
            let next_segment = self.program.next_deadline(&self.segments, self.clock);
            let next_journey = self.runner.next_due(&self.journeys);
            let Some(t) = [next_event, next_segment, next_journey]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            if t > self.to {
                break;
            }
            if next_event == Some(t) {
                let (e, props) = events.next().expect("peeked");
                let changes = self.segment_event(e, &props);
                self.journey_event(e.kind, e.name.as_deref(), &props, t);
                self.membership_events(changes, t);
            } else {
                let changes = self.program.advance(&mut self.segments, t);
                self.membership_events(changes, t);
            }
            if self.runner.next_due(&self.journeys).is_some_and(|d| d <= t) {
                let members = self.members();
                let person = person(self.profile, &self.traits, &members, &self.sends);
                let found = self.runner.on_time(&mut self.journeys, &person, t);
                self.absorb(found);
            }
            // Each instant is handled once: later work comes strictly after it.
            self.clock = t;
        }
        self.actions
    }

    /// Feeds an event to the segments (at its own time) and traits; returns membership changes.
    fn segment_event(
        &mut self,
        e: &StoredEvent,
        props: &Map<String, Value>,
    ) -> Vec<herald_segments::engine::Change> {
        let identify = e.kind == MessageKind::Identify;
        if identify {
            herald_core::traits::apply_identify(&mut self.traits, props);
        }
        let empty = Map::new();
        let input = Input {
            kind: e.kind,
            name: match e.kind {
                MessageKind::Track => e.name.as_deref(),
                _ => None,
            },
            timestamp: e.timestamp,
            properties: Props::Map(if identify { &empty } else { props }),
            traits: identify.then_some(Props::Map(props)),
            route: None,
        };
        self.program
            .observe(&mut self.segments, &input, e.timestamp)
    }

    fn members(&self) -> BTreeSet<String> {
        self.program
            .members(&self.segments)
            .map(|i| self.program.segments()[i.index()].to_string())
            .collect()
    }

    fn journey_event(
        &mut self,
        kind: MessageKind,
        name: Option<&str>,
        props: &Map<String, Value>,
        t: Timestamp,
    ) {
        let members = self.members();
        let person = person(self.profile, &self.traits, &members, &self.sends);
        let event = Event {
            kind,
            name,
            timestamp: t,
            received_at: t,
            properties: props,
        };
        let found = self.runner.on_event(&mut self.journeys, &person, &event, t);
        self.absorb(found);
    }

    /// Membership changes reach journeys as the events the segment engine records.
    fn membership_events(&mut self, changes: Vec<herald_segments::engine::Change>, t: Timestamp) {
        for c in changes {
            let name = if c.entered {
                SEGMENT_ENTERED
            } else {
                SEGMENT_EXITED
            };
            let mut props = Map::new();
            props.insert(
                "segment".into(),
                json!(self.program.segments()[c.segment.index()].as_str()),
            );
            self.journey_event(MessageKind::Track, Some(name), &props, t);
        }
    }

    fn absorb(&mut self, found: Vec<Action>) {
        note_actions(&found, &mut self.sends, &mut self.traits);
        self.actions.extend(found);
    }
}

fn person<'p>(
    profile: ProfileId,
    traits: &'p Map<String, Value>,
    segments: &'p BTreeSet<String>,
    sends: &'p [SendRecord],
) -> Person<'p> {
    Person {
        profile,
        traits,
        segments,
        recent_sends: sends,
    }
}
