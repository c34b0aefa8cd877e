//! The conductor: the journey runner kept in step with a store.
//!
//! Each step reads a page of the event log and of the profile log after the cursor, loads the
//! runner state of the people concerned (with their traits, segments and recent sends), feeds
//! them each event with the current time, wakes the people whose waits are over, and commits
//! everything with the new cursor at once. A crash resumes from the last commit; decisions made
//! again get the same message ids, which the outbox keeps once.

use crate::ConductorError;
use crate::records::{decode_state, properties_of, record_actions, state_row};
use herald_core::{ProfileId, Timestamp};
use herald_journeys::ast::{Channel, Document, Journey, JourneyName, MessageClass, Rules};
use herald_journeys::runner::{
    Action, Event, Flow, Migration, Person, PersonState, Runner, SendRecord, note_actions,
};
use herald_store::{
    JourneyCommit, JourneyCursor, JourneyRecord, ProfileChange, ProfileLogEntry, Store,
};
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Events (and due people) handled per step.
const PAGE: usize = 4096;

/// How far back sends count for caps beyond the longest cap (calendar days start at midnight).
const CAP_SLACK_MS: i64 = 2 * 86_400_000;

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    pub events: usize,
    pub woken: usize,
    pub actions: usize,
}

/// What applying definitions did (or would do), per journey.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ApplyReport {
    pub journeys: Vec<JourneyChange>,
    pub rules_changed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JourneyChange {
    pub name: String,
    /// `new`, `changed` or `unchanged`.
    pub status: &'static str,
    /// The version new instances start on.
    pub version: u32,
}

/// A person's stored runner state, when the caller has already read it (only the conductor
/// writes states, so a read made earlier in the same step is current).
enum Stored {
    Unread,
    Read(Option<Vec<u8>>),
}

/// A person as loaded for one step.
struct Loaded {
    state: PersonState,
    traits: Map<String, Value>,
    segments: BTreeSet<String>,
    sends: Vec<SendRecord>,
    /// Whether anything changed that must be committed.
    dirty: bool,
}

pub struct Conductor {
    store: Arc<dyn Store>,
    runner: Runner,
    records: Vec<JourneyRecord>,
    rules: Rules,
    cursor: JourneyCursor,
    zone: TimeZone,
}

fn compile(record: &JourneyRecord) -> Result<Flow, ConductorError> {
    let journey: Journey = serde_json::from_value(record.definition.clone()).map_err(|e| {
        ConductorError::Stored(format!(
            "journey {} version {}: {e}",
            record.name, record.version
        ))
    })?;
    Flow::compile(&journey, record.version)
        .map(|f| f.live_since(record.created_at))
        .map_err(ConductorError::Stored)
}

impl Conductor {
    /// Loads definitions, rules and the cursor. Times of day of people without a `timezone`
    /// trait are in `zone`.
    pub async fn load(store: Arc<dyn Store>, zone: TimeZone) -> Result<Self, ConductorError> {
        let records = store.journey_definitions().await?;
        let rules: Rules = match store.journey_rules().await? {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| ConductorError::Stored(format!("the journey rules: {e}")))?,
            None => Rules::default(),
        };
        let mut runner = Runner::new(zone.clone());
        for r in &records {
            runner.add(compile(r)?, r.live);
        }
        runner.set_rules(rules.clone());
        let cursor = store.journey_cursor().await?;
        Ok(Conductor {
            store,
            runner,
            records,
            rules,
            cursor,
            zone,
        })
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    pub fn records(&self) -> &[JourneyRecord] {
        &self.records
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn cursor(&self) -> JourneyCursor {
        self.cursor
    }

    /// Stores new versions of the document's journeys (those whose definition changed; the
    /// others are left alone) and its rules; with `dry_run`, only says what would change.
    /// Running instances finish on the version they started.
    pub async fn apply(
        &mut self,
        doc: &Document,
        dry_run: bool,
        now: Timestamp,
    ) -> Result<ApplyReport, ConductorError> {
        let mut report = ApplyReport::default();
        let mut records = self.records.clone();
        let mut touched = Vec::new();
        for journey in &doc.journeys {
            let name = journey.name.to_string();
            let definition = serde_json::to_value(journey).expect("journeys serialize");
            let versions: Vec<&JourneyRecord> = records.iter().filter(|r| r.name == name).collect();
            let live = versions.iter().find(|r| r.live);
            let latest = versions.iter().map(|r| r.version).max().unwrap_or(0);
            let (status, version) = match live {
                Some(r) if r.definition == definition => ("unchanged", r.version),
                Some(_) => ("changed", latest + 1),
                None if latest > 0 => ("changed", latest + 1),
                None => ("new", 1),
            };
            Flow::compile(journey, version).map_err(ConductorError::Invalid)?;
            report.journeys.push(JourneyChange {
                name: name.clone(),
                status,
                version,
            });
            if status != "unchanged" {
                for r in records.iter_mut().filter(|r| r.name == name) {
                    r.live = false;
                }
                records.push(JourneyRecord {
                    name: name.clone(),
                    version,
                    definition,
                    live: true,
                    created_at: now,
                });
                touched.push(name);
            }
        }
        let rules = doc.rules.clone();
        report.rules_changed = rules.as_ref().is_some_and(|r| *r != self.rules);
        if dry_run || (touched.is_empty() && !report.rules_changed) {
            return Ok(report);
        }
        let changed: Vec<JourneyRecord> = records
            .iter()
            .filter(|r| touched.contains(&r.name))
            .cloned()
            .collect();
        self.store
            .commit_journeys(JourneyCommit {
                cursor: self.cursor,
                definitions: Some(changed),
                rules: rules
                    .as_ref()
                    .filter(|_| report.rules_changed)
                    .map(|r| serde_json::to_value(r).expect("rules serialize")),
                ..JourneyCommit::default()
            })
            .await?;
        for r in records.iter().filter(|r| touched.contains(&r.name)) {
            self.runner.add(compile(r)?, r.live);
        }
        if let Some(rules) = rules {
            self.rules = rules.clone();
            self.runner.set_rules(rules);
        }
        records.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
        self.records = records;
        if self.runner.has_anniversaries() {
            self.schedule_anniversaries(now).await?;
        }
        Ok(report)
    }

    /// Schedules the anniversary-triggered journeys of everyone (whose traits may have been set
    /// long before such a journey went live, with no identify since).
    async fn schedule_anniversaries(&mut self, now: Timestamp) -> Result<(), ConductorError> {
        let everyone = crate::backtest::all_profiles(self.store.as_ref()).await?.0;
        for chunk in everyone.chunks(PAGE) {
            let mut people = HashMap::new();
            let mut commit = JourneyCommit {
                cursor: self.cursor,
                ..JourneyCommit::default()
            };
            for &p in chunk {
                let Some(person) = self.person(&mut people, p, now, Stored::Unread).await? else {
                    continue;
                };
                let before = person.state.anniversaries.clone();
                let view = Person {
                    profile: p,
                    traits: &person.traits,
                    segments: &person.segments,
                    recent_sends: &person.sends,
                };
                self.runner
                    .schedule_anniversaries(&mut person.state, &view, now);
                if person.state.anniversaries != before {
                    commit
                        .states
                        .push(state_row(&self.runner, p, &person.state));
                }
            }
            if !commit.states.is_empty() {
                self.store.commit_journeys(commit).await?;
            }
        }
        Ok(())
    }

    /// Moves running instances of `journey` that started on older versions to its live version
    /// (see [`Runner::migrate`]); with `dry_run`, only says what would happen.
    pub async fn migrate(
        &mut self,
        journey: &JourneyName,
        dry_run: bool,
    ) -> Result<Vec<Migration>, ConductorError> {
        let Some(live) = self
            .records
            .iter()
            .find(|r| r.live && r.name == journey.as_str())
            .map(|r| r.version)
        else {
            return Err(ConductorError::Invalid(format!(
                "there is no live journey named `{journey}`"
            )));
        };
        let profiles = self
            .store
            .journey_profiles_off_version(journey.as_str(), live)
            .await?;
        let mut out = Vec::new();
        for chunk in profiles.chunks(PAGE) {
            let mut commit = JourneyCommit {
                cursor: self.cursor,
                ..JourneyCommit::default()
            };
            for (p, bytes) in self.store.journey_states(chunk.to_vec()).await? {
                let mut state = decode_state(p, &bytes)?;
                let found = self.runner.migrate(&mut state, journey);
                if found.iter().any(|m| m.moved) {
                    commit.states.push(state_row(&self.runner, p, &state));
                }
                out.extend(found);
            }
            if !dry_run && !commit.states.is_empty() {
                self.store.commit_journeys(commit).await?;
            }
        }
        Ok(out)
    }

    /// Enrols a person in a journey triggered `on api`, with `properties` as its trigger, and
    /// commits what that does. `None` when the profile does not exist.
    pub async fn enrol(
        &mut self,
        profile: ProfileId,
        journey: &JourneyName,
        properties: Map<String, Value>,
        now: Timestamp,
    ) -> Result<Option<Vec<Action>>, ConductorError> {
        let mut people = HashMap::new();
        let Some(person) = self
            .person(&mut people, profile, now, Stored::Unread)
            .await?
        else {
            return Ok(None);
        };
        let actions = {
            let view = Person {
                profile,
                traits: &person.traits,
                segments: &person.segments,
                recent_sends: &person.sends,
            };
            self.runner
                .enrol(&mut person.state, &view, journey, &properties, now)
                .map_err(|e| ConductorError::Invalid(e.to_string()))?
        };
        let mut commit = JourneyCommit {
            cursor: self.cursor,
            ..JourneyCommit::default()
        };
        record_actions(&mut commit, &actions);
        commit
            .states
            .push(state_row(&self.runner, profile, &person.state));
        self.store.commit_journeys(commit).await?;
        Ok(Some(actions))
    }

    /// The earliest instant any person has work due.
    pub async fn next_due(&self) -> Result<Option<Timestamp>, ConductorError> {
        Ok(self.store.next_journey_due().await?)
    }

    /// Follows the logs until both are read to their end and nobody is due at `now`.
    pub async fn catch_up(&mut self, now: Timestamp) -> Result<StepReport, ConductorError> {
        let mut total = StepReport::default();
        loop {
            let r = self.step(now).await?;
            total.events += r.events;
            total.woken += r.woken;
            total.actions += r.actions;
            if r.events < PAGE && r.woken < PAGE {
                return Ok(total);
            }
        }
    }

    /// Reads one page of both logs, wakes the people due at `now`, and commits.
    pub async fn step(&mut self, now: Timestamp) -> Result<StepReport, ConductorError> {
        let events = self.store.scan_events(self.cursor.events, PAGE).await?;
        let log = self
            .store
            .profile_log(self.cursor.profile_log, PAGE)
            .await?;
        let mut cursor = self.cursor;
        let mut people: HashMap<ProfileId, Loaded> = HashMap::new();
        let mut commit = JourneyCommit::default();
        let mut report = StepReport {
            events: events.len(),
            ..StepReport::default()
        };
        let mut log = log.into_iter().peekable();
        // Only people with a state, or whose event can start a journey, need loading.
        let candidates: Vec<ProfileId> = {
            let mut ids: Vec<ProfileId> = events.iter().map(|e| e.profile_id).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        // Read once for the page: it says who must be loaded, and is what they load.
        let mut stored: HashMap<ProfileId, Vec<u8>> = self
            .store
            .journey_states(candidates)
            .await?
            .into_iter()
            .collect();
        for e in &events {
            while let Some(entry) = log.next_if(|l| l.after_event < e.seq) {
                self.follow(entry, &mut people, &mut commit).await?;
                cursor.profile_log = entry.id;
            }
            cursor.events = e.seq;
            let properties = properties_of(e.kind, &e.body);
            let event = Event {
                kind: e.kind,
                name: e.name.as_deref(),
                timestamp: e.timestamp,
                received_at: e.received_at,
                properties: &properties,
            };
            if !people.contains_key(&e.profile_id)
                && !stored.contains_key(&e.profile_id)
                && !self.runner.could_start(&event)
            {
                continue;
            }
            let read = Stored::Read(stored.remove(&e.profile_id));
            let person = self.person(&mut people, e.profile_id, now, read).await?;
            let Some(person) = person else { continue };
            let actions = {
                let view = Person {
                    profile: e.profile_id,
                    traits: &person.traits,
                    segments: &person.segments,
                    recent_sends: &person.sends,
                };
                self.runner.on_event(&mut person.state, &view, &event, now)
            };
            // A running instance may have noted the event without acting on it (engagement,
            // `event(...) since entry`): its state must be written back all the same.
            person.dirty |= !person.state.instances.is_empty();
            absorb(person, &actions);
            report.actions += actions.len();
            record_actions(&mut commit, &actions);
        }
        while let Some(entry) = log.next_if(|l| l.after_event <= cursor.events) {
            self.follow(entry, &mut people, &mut commit).await?;
            cursor.profile_log = entry.id;
        }
        let due = self.store.due_journey_profiles(now, PAGE).await?;
        report.woken = due.len();
        for p in due {
            let Some(person) = self.person(&mut people, p, now, Stored::Unread).await? else {
                continue;
            };
            let actions = {
                let view = Person {
                    profile: p,
                    traits: &person.traits,
                    segments: &person.segments,
                    recent_sends: &person.sends,
                };
                self.runner.on_time(&mut person.state, &view, now)
            };
            // Even with no action the state is written back: its due time moves on.
            person.dirty = true;
            absorb(person, &actions);
            report.actions += actions.len();
            record_actions(&mut commit, &actions);
        }
        for (p, person) in &people {
            if person.dirty {
                commit
                    .states
                    .push(state_row(&self.runner, *p, &person.state));
            }
        }
        let idle = commit.states.is_empty()
            && commit.actions.is_empty()
            && commit.traits.is_empty()
            && cursor == self.cursor;
        if idle {
            return Ok(report);
        }
        metrics::counter!("herald_journey_actions_total").increment(report.actions as u64);
        commit.cursor = cursor;
        self.store.commit_journeys(commit).await?;
        self.cursor = cursor;
        Ok(report)
    }

    /// Loads a person into the step's working set (`None` when the profile no longer exists).
    async fn person<'p>(
        &self,
        people: &'p mut HashMap<ProfileId, Loaded>,
        profile: ProfileId,
        now: Timestamp,
        stored: Stored,
    ) -> Result<Option<&'p mut Loaded>, ConductorError> {
        let vacant = match people.entry(profile) {
            Entry::Occupied(o) => return Ok(Some(o.into_mut())),
            Entry::Vacant(v) => v,
        };
        {
            let Some(found) = self.store.profiles_by_id(vec![profile]).await?.pop() else {
                return Ok(None);
            };
            let bytes = match stored {
                Stored::Read(bytes) => bytes,
                Stored::Unread => self
                    .store
                    .journey_states(vec![profile])
                    .await?
                    .pop()
                    .map(|(_, b)| b),
            };
            let state = match bytes {
                Some(bytes) => decode_state(profile, &bytes)?,
                None => PersonState::default(),
            };
            let segments = self
                .store
                .profile_segments(profile)
                .await?
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            let longest = self
                .rules
                .caps
                .iter()
                .map(|c| c.per.millis())
                .max()
                .unwrap_or(0);
            let since = Timestamp::from_millisecond(now.as_millisecond() - longest - CAP_SLACK_MS)
                .unwrap_or(Timestamp::UNIX_EPOCH);
            let sends = if longest == 0 {
                Vec::new()
            } else {
                self.store
                    .recent_sends(profile, since)
                    .await?
                    .into_iter()
                    .filter_map(|(channel, class, at)| {
                        Some(SendRecord {
                            channel: Channel::parse(&channel)?,
                            class: match class.as_str() {
                                "transactional" => MessageClass::Transactional,
                                _ => MessageClass::Marketing,
                            },
                            at: at.as_millisecond(),
                        })
                    })
                    .collect()
            };
            Ok(Some(vacant.insert(Loaded {
                state,
                traits: found.traits,
                segments,
                sends,
                dirty: false,
            })))
        }
    }

    /// Applies one merge or erasure: a merged person's instances and history join the
    /// surviving profile; an erased person's state is already gone from the store.
    async fn follow(
        &self,
        entry: ProfileLogEntry,
        people: &mut HashMap<ProfileId, Loaded>,
        commit: &mut JourneyCommit,
    ) -> Result<(), ConductorError> {
        match entry.change {
            ProfileChange::Erased { profile } => {
                people.remove(&profile);
                commit.states.retain(|s| s.profile != profile);
            }
            ProfileChange::Merged { absorbed, into } => {
                let absorbed_state = match people.remove(&absorbed) {
                    Some(l) => Some(l.state),
                    None => match self.store.journey_states(vec![absorbed]).await?.pop() {
                        Some((p, bytes)) => Some(decode_state(p, &bytes)?),
                        None => None,
                    },
                };
                let Some(absorbed_state) = absorbed_state else {
                    return Ok(());
                };
                commit
                    .states
                    .push(state_row(&self.runner, absorbed, &PersonState::default()));
                if let Some(person) = self
                    .person(people, into, Timestamp::now(), Stored::Unread)
                    .await?
                {
                    person.state.absorb(absorbed_state);
                    person.dirty = true;
                }
            }
        }
        Ok(())
    }
}

/// Keeps a loaded person in step with the actions taken on them within this step.
fn absorb(person: &mut Loaded, actions: &[Action]) {
    if actions.is_empty() {
        return;
    }
    person.dirty = true;
    note_actions(actions, &mut person.sends, &mut person.traits);
}
