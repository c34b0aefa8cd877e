//! The segmenter: the engine's program and every profile's state, kept in step with the log.
//!
//! It reads the event log and the profile log after its cursor, feeds each event to the engine
//! with the current time, fires per-profile timers when membership can flip by the mere passing
//! of time, and commits the new states, the membership changes and the cursor together. After a
//! crash it resumes from the last commit, so every event is counted once.

use crate::SegmenterError;
use crate::inputs::Parsed;
use crate::replay::ReplayLog;
use herald_core::{ProfileId, Timestamp};
use herald_segments::Definition;
use herald_segments::engine::{Change, ProfileState, Program};
use herald_store::{
    MembershipChange, ProfileChange, ProfileLogEntry, SegmentCommit, SegmentCursor, SegmentRecord,
    SegmentState, Store,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// Events read (and committed) per step.
pub(crate) const PAGE: usize = 8192;

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    pub events: usize,
    pub timers: usize,
    pub changes: usize,
}

impl StepReport {
    pub fn is_idle(&self) -> bool {
        self.events == 0 && self.timers == 0 && self.changes == 0
    }
}

pub struct Segmenter {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) records: Vec<SegmentRecord>,
    pub(crate) definitions: Vec<Definition>,
    pub(crate) program: Program,
    pub(crate) states: HashMap<ProfileId, ProfileState>,
    timers: BTreeSet<(Timestamp, ProfileId)>,
    due: HashMap<ProfileId, Timestamp>,
    pub(crate) cursor: SegmentCursor,
    /// The log in memory for backfills, once one has needed it (see [`crate::replay`]).
    pub(crate) replay: Option<ReplayLog>,
    /// Memberships as stored, when the stored states could not be used: what a recomputation
    /// is compared with, so that only real changes are recorded.
    pub(crate) recovered: Option<BTreeMap<String, Vec<ProfileId>>>,
}

/// The definitions of stored records.
fn parse_records(records: &[SegmentRecord]) -> Result<Vec<Definition>, SegmenterError> {
    records
        .iter()
        .map(|r| {
            serde_json::from_value::<Definition>(r.definition.clone())
                .map_err(|e| SegmenterError::Stored(format!("the stored segment {}: {e}", r.name)))
        })
        .collect()
}

fn compile_stored(definitions: &[Definition]) -> Result<Program, SegmenterError> {
    Program::compile(definitions)
        .map_err(|e| SegmenterError::Stored(format!("the stored segments: {e}")))
}

/// The program of the stored definitions, without loading any profile's state (for as-of
/// membership and explanations, which replay history themselves).
pub async fn stored_program(store: &dyn Store) -> Result<Program, SegmenterError> {
    compile_stored(&parse_records(&store.segment_definitions().await?)?)
}

/// Every stored segment's members, sorted.
async fn stored_members(
    store: &dyn Store,
) -> Result<BTreeMap<String, Vec<ProfileId>>, SegmenterError> {
    let mut out = BTreeMap::new();
    for (name, _) in store.segment_sizes().await? {
        let mut list = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.segment_members(&name, after.as_deref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            list.extend(page.iter().map(|m| m.profile));
        }
        list.sort_unstable();
        out.insert(name, list);
    }
    Ok(out)
}

impl Segmenter {
    /// Loads the definitions, the states and the cursor from the store.
    pub async fn load(store: Arc<dyn Store>, now: Timestamp) -> Result<Self, SegmenterError> {
        let records = store.segment_definitions().await?;
        let definitions = parse_records(&records)?;
        let program = compile_stored(&definitions)?;
        let mut states = HashMap::new();
        let mut unreadable = 0usize;
        for (profile, bytes) in store.segment_states().await? {
            match ProfileState::decode(&bytes) {
                Ok(state) => {
                    states.insert(profile, state);
                }
                Err(_) => unreadable += 1,
            }
        }
        let cursor = store.segment_cursor().await?;
        // States are only meaningful to the program that made them (a store from an older
        // Herald, or definitions stored in another order, makes a different one).
        let foreign = cursor.program != program.fingerprint() && !states.is_empty();
        if foreign {
            unreadable += states.len();
        }
        let mut segmenter = Segmenter {
            store,
            records,
            definitions,
            program,
            states,
            timers: BTreeSet::new(),
            due: HashMap::new(),
            cursor,
            replay: None,
            recovered: None,
        };
        segmenter.reschedule_all(now);
        if unreadable > 0 {
            // States written by another version of the engine: recompute them from history.
            tracing::warn!(
                unreadable,
                "segment states from another Herald version or program; recomputing them from history"
            );
            segmenter.states.clear();
            segmenter.recovered = Some(stored_members(segmenter.store.as_ref()).await?);
            let definitions = segmenter.definitions.clone();
            let plan = segmenter.plan(definitions, now).await?;
            segmenter.apply(plan, now).await?;
        }
        Ok(segmenter)
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn definitions(&self) -> &[Definition] {
        &self.definitions
    }

    pub fn records(&self) -> &[SegmentRecord] {
        &self.records
    }

    pub fn cursor(&self) -> SegmentCursor {
        self.cursor
    }

    /// Messages held by the in-memory log that backfills replay, and its approximate bytes
    /// (`None` until a backfill has built it).
    pub fn replay_log_size(&self) -> Option<(u64, usize)> {
        self.replay.as_ref().map(|r| (r.messages(), r.bytes()))
    }

    /// The earliest pending timer.
    pub fn next_timer(&self) -> Option<Timestamp> {
        self.timers.first().map(|(t, _)| *t)
    }

    pub fn state(&self, profile: ProfileId) -> Option<&ProfileState> {
        self.states.get(&profile)
    }

    pub(crate) fn reschedule_all(&mut self, now: Timestamp) {
        self.timers.clear();
        self.due.clear();
        let profiles: Vec<ProfileId> = self.states.keys().copied().collect();
        for p in profiles {
            self.reschedule(p, now);
        }
    }

    fn reschedule(&mut self, profile: ProfileId, now: Timestamp) {
        if let Some(old) = self.due.remove(&profile) {
            self.timers.remove(&(old, profile));
        }
        let next = self
            .states
            .get(&profile)
            .and_then(|s| self.program.next_deadline(s, now));
        if let Some(t) = next {
            self.due.insert(profile, t);
            self.timers.insert((t, profile));
        }
    }

    fn forget(&mut self, profile: ProfileId) {
        self.states.remove(&profile);
        if let Some(old) = self.due.remove(&profile) {
            self.timers.remove(&(old, profile));
        }
    }

    pub(crate) fn to_changes(
        &self,
        profile: ProfileId,
        changes: Vec<Change>,
        backfill: bool,
    ) -> impl Iterator<Item = MembershipChange> + '_ {
        changes.into_iter().map(move |c| MembershipChange {
            segment: self.program.segments()[c.segment.index()].to_string(),
            profile,
            entered: c.entered,
            at: c.at,
            backfill,
        })
    }

    /// Follows the logs until both are read to their end and no timer is due at `now`.
    pub async fn catch_up(&mut self, now: Timestamp) -> Result<StepReport, SegmenterError> {
        let mut total = StepReport::default();
        loop {
            let r = self.step(now).await?;
            total.events += r.events;
            total.timers += r.timers;
            total.changes += r.changes;
            if r.events < PAGE && r.timers == 0 {
                return Ok(total);
            }
        }
    }

    /// Reads one page of both logs, fires the timers due at `now`, and commits.
    pub async fn step(&mut self, now: Timestamp) -> Result<StepReport, SegmenterError> {
        let events = self.store.scan_events(self.cursor.events, PAGE).await?;
        let log = self
            .store
            .profile_log(self.cursor.profile_log, PAGE)
            .await?;
        let mut log = log.into_iter().peekable();
        let mut report = StepReport {
            events: events.len(),
            ..StepReport::default()
        };
        let mut dirty = HashSet::new();
        let mut changes = Vec::new();
        let mut cursor = self.cursor;
        for e in &events {
            // A merge or erasure takes effect before the first event written after it.
            while let Some(entry) = log.next_if(|l| l.after_event < e.seq) {
                self.follow(entry, now, &mut dirty, &mut changes).await?;
                cursor.profile_log = entry.id;
            }
            cursor.events = e.seq;
            let parsed = Parsed::from_stored(&self.program, e);
            if let Some(replay) = &mut self.replay {
                replay.append(e, parsed.as_ref());
            }
            let Some(parsed) = parsed else {
                continue;
            };
            let program = &self.program;
            let state = self
                .states
                .entry(e.profile_id)
                .or_insert_with(|| program.new_state());
            let found = program.observe(state, &parsed.input(), now);
            changes.extend(self.to_changes(e.profile_id, found, false));
            dirty.insert(e.profile_id);
        }
        // Entries left refer to events already read (the log was written after them).
        while let Some(entry) = log.next_if(|l| l.after_event <= cursor.events) {
            self.follow(entry, now, &mut dirty, &mut changes).await?;
            cursor.profile_log = entry.id;
        }
        while let Some(&(t, profile)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            self.due.remove(&profile);
            report.timers += 1;
            if let Some(state) = self.states.get_mut(&profile) {
                let found = self.program.advance(state, now);
                changes.extend(self.to_changes(profile, found, false));
                dirty.insert(profile);
            }
        }
        report.changes = changes.len();
        if dirty.is_empty() && changes.is_empty() && cursor == self.cursor {
            return Ok(report);
        }
        let mut states = Vec::with_capacity(dirty.len());
        for profile in dirty {
            self.reschedule(profile, now);
            states.push(SegmentState {
                profile,
                state: self.states.get(&profile).map(ProfileState::encode),
                due: self.due.get(&profile).copied(),
            });
        }
        metrics::counter!("herald_segment_changes_total").increment(changes.len() as u64);
        self.store
            .commit_segments(SegmentCommit {
                cursor,
                definitions: None,
                states,
                changes,
            })
            .await?;
        self.cursor = cursor;
        Ok(report)
    }

    /// Applies one merge or erasure to the in-memory states.
    async fn follow(
        &mut self,
        entry: ProfileLogEntry,
        now: Timestamp,
        dirty: &mut HashSet<ProfileId>,
        changes: &mut Vec<MembershipChange>,
    ) -> Result<(), SegmenterError> {
        match entry.change {
            ProfileChange::Erased { profile } => {
                // Interned values are shared: dropping the cache is how none of theirs stays.
                self.replay = None;
                self.forget(profile);
                dirty.insert(profile);
            }
            ProfileChange::Merged { absorbed, into } => {
                // The store dropped the absorbed profile's memberships; the surviving profile's
                // history now holds both, so its state is rebuilt from it.
                self.forget(absorbed);
                dirty.insert(absorbed);
                let history = self.store.profile_history(into, entry.after_event).await?;
                if let Some(replay) = &mut self.replay {
                    replay.remove(absorbed);
                    replay.replace(into, &history);
                }
                let mut state = self.program.new_state();
                for e in &history {
                    if let Some(parsed) = Parsed::from_stored(&self.program, e) {
                        self.program.observe(&mut state, &parsed.input(), now);
                    }
                }
                let before: HashSet<_> = match self.states.get(&into) {
                    Some(s) => self.program.members(s).collect(),
                    None => HashSet::new(),
                };
                let after: HashSet<_> = self.program.members(&state).collect();
                for (idx, entered) in before
                    .symmetric_difference(&after)
                    .map(|i| (*i, after.contains(i)))
                {
                    changes.push(MembershipChange {
                        segment: self.program.segments()[idx.index()].to_string(),
                        profile: into,
                        entered,
                        at: now,
                        backfill: false,
                    });
                }
                self.states.insert(into, state);
                dirty.insert(into);
            }
        }
        Ok(())
    }
}
