//! Creating, changing and deleting segments: recompute from history, preview, apply.
//!
//! A new set of definitions compiles to a new program whose per-profile state starts empty, so
//! applying it replays the whole history through the engine, from the in-memory [`ReplayLog`]
//! (ingest goes on meanwhile; the segmenter catches up afterwards). Before anything is written, [`Plan::preview`] says how many
//! profiles each segment gains and loses, with samples.

use crate::SegmenterError;
use crate::inputs::PropertyNeeds;
use crate::replay::ReplayLog;
use crate::segmenter::Segmenter;
use herald_core::{ProfileId, Timestamp};
use herald_segments::Definition;
use herald_segments::engine::{ProfileState, Program};
use herald_store::{MembershipChange, SegmentCommit, SegmentCursor, SegmentRecord, SegmentState};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How many profiles a preview names per direction.
const SAMPLES: usize = 5;

/// A computed but not yet applied set of definitions.
pub struct Plan {
    records: Vec<SegmentRecord>,
    definitions: Vec<Definition>,
    program: Program,
    states: HashMap<ProfileId, ProfileState>,
    changes: Vec<MembershipChange>,
    pub preview: Preview,
}

impl Plan {
    /// Profiles with state, and the bytes of their encoded states.
    pub fn state_size(&self) -> (usize, usize) {
        (
            self.states.len(),
            self.states.values().map(|s| s.encode().len()).sum(),
        )
    }
}

/// What applying a plan would change.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Preview {
    pub segments: Vec<SegmentPreview>,
    /// Events replayed to compute it.
    pub events: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentPreview {
    pub name: String,
    /// `new`, `changed`, `unchanged` or `deleted`.
    pub status: &'static str,
    pub before: u64,
    pub after: u64,
    pub entering: u64,
    pub leaving: u64,
    /// Internal profile ids; callers show them by the ids people know.
    pub sample_entering: Vec<ProfileId>,
    pub sample_leaving: Vec<ProfileId>,
}

impl Segmenter {
    /// Computes memberships under `definitions` (the complete new set) from all history, at `now`.
    pub async fn plan(
        &mut self,
        mut definitions: Vec<Definition>,
        now: Timestamp,
    ) -> Result<Plan, SegmenterError> {
        // States index segments and trackers by position: one canonical order (the store's)
        // keeps them meaningful across restarts.
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        let program =
            Program::compile(&definitions).map_err(|e| SegmenterError::Invalid(e.to_string()))?;
        // Start from a state that has seen every event so far, so the swap loses none.
        self.catch_up(now).await?;
        let needs = PropertyNeeds::of(&program);
        let replay = match self.replay.take() {
            Some(r) if r.needs().covers(&needs) => r,
            held => {
                // The first backfill, or one reading values the cache lacks: one scan of the
                // log, keeping what the old and the new rules read.
                let mut all = needs;
                if let Some(r) = &held {
                    all.extend(r.needs());
                }
                drop(held);
                ReplayLog::build(self.store.clone(), all, self.cursor.events).await?
            }
        };
        let events = replay.messages();
        // Replaying is CPU work on every core: off the async runtime's threads.
        let (replay, program, states) = tokio::task::spawn_blocking(move || {
            let out = replay.replay(&program, now);
            (replay, program, out)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        self.replay = Some(replay);

        let old = match &self.recovered {
            Some(stored) => stored.clone(),
            None => memberships(&self.program, &self.states),
        };
        let new = memberships(&program, &states);
        let old_defs: BTreeMap<&str, &Definition> = self
            .definitions
            .iter()
            .map(|d| (d.name.as_str(), d))
            .collect();
        let empty = Vec::new();
        let mut preview = Preview {
            segments: Vec::new(),
            events,
        };
        let mut changes = Vec::new();
        let mut names: BTreeSet<&str> = old.keys().map(String::as_str).collect();
        names.extend(new.keys().map(String::as_str));
        for name in names {
            let before = old.get(name).unwrap_or(&empty);
            let now_in = new.get(name).unwrap_or(&empty);
            let status = match (
                old_defs.get(name),
                definitions.iter().find(|d| d.name.as_str() == name),
            ) {
                (None, _) => "new",
                (Some(_), None) => "deleted",
                (Some(a), Some(b)) if *a == b => "unchanged",
                _ => "changed",
            };
            let entering = difference(now_in, before);
            let leaving = difference(before, now_in);
            if status != "deleted" {
                for (list, entered) in [(&entering, true), (&leaving, false)] {
                    changes.extend(list.iter().map(|p| MembershipChange {
                        segment: name.to_owned(),
                        profile: *p,
                        entered,
                        at: now,
                        backfill: true,
                    }));
                }
            }
            preview.segments.push(SegmentPreview {
                name: name.to_owned(),
                status,
                before: before.len() as u64,
                after: now_in.len() as u64,
                entering: entering.len() as u64,
                leaving: leaving.len() as u64,
                sample_entering: entering.iter().take(SAMPLES).copied().collect(),
                sample_leaving: leaving.iter().take(SAMPLES).copied().collect(),
            });
        }
        let records = definitions
            .iter()
            .map(|d| {
                let old = self.records.iter().find(|r| r.name == d.name.as_str());
                let definition = serde_json::to_value(d).expect("definitions serialize");
                match old {
                    Some(r) if r.definition == definition => r.clone(),
                    _ => SegmentRecord {
                        name: d.name.to_string(),
                        definition,
                        version: old.map_or(1, |r| r.version + 1),
                        updated_at: now,
                    },
                }
            })
            .collect();
        Ok(Plan {
            records,
            definitions,
            program,
            states,
            changes,
            preview,
        })
    }

    /// Writes a plan's definitions, states and membership changes, and switches to its program.
    /// Events that arrived since the plan was computed are applied by the next steps.
    pub async fn apply(&mut self, plan: Plan, now: Timestamp) -> Result<(), SegmenterError> {
        let mut states: Vec<SegmentState> = plan
            .states
            .iter()
            .map(|(p, s)| SegmentState {
                profile: *p,
                state: Some(s.encode()),
                due: plan.program.next_deadline(s, now),
            })
            .collect();
        states.extend(
            self.states
                .keys()
                .filter(|p| !plan.states.contains_key(p))
                .map(|p| SegmentState {
                    profile: *p,
                    state: None,
                    due: None,
                }),
        );
        self.store
            .commit_segments(SegmentCommit {
                cursor: SegmentCursor {
                    program: plan.program.fingerprint(),
                    ..self.cursor
                },
                definitions: Some(plan.records.clone()),
                states,
                changes: plan.changes,
            })
            .await?;
        self.records = plan.records;
        self.definitions = plan.definitions;
        self.program = plan.program;
        self.states = plan.states;
        self.cursor.program = self.program.fingerprint();
        self.recovered = None;
        self.reschedule_all(now);
        Ok(())
    }
}

/// Members of each segment of `program`, by name, sorted.
fn memberships(
    program: &Program,
    states: &HashMap<ProfileId, ProfileState>,
) -> BTreeMap<String, Vec<ProfileId>> {
    let mut lists: Vec<Vec<ProfileId>> = vec![Vec::new(); program.segments().len()];
    for (p, state) in states {
        for idx in program.members(state) {
            lists[idx.index()].push(*p);
        }
    }
    program
        .segments()
        .iter()
        .zip(lists)
        .map(|(name, mut list)| {
            list.sort_unstable();
            (name.to_string(), list)
        })
        .collect()
}

/// The members of sorted `a` that are not in sorted `b`.
fn difference(a: &[ProfileId], b: &[ProfileId]) -> Vec<ProfileId> {
    let mut out = Vec::new();
    let mut rest = b;
    for p in a {
        let skip = rest.partition_point(|q| q < p);
        rest = &rest[skip..];
        if rest.first() != Some(p) {
            out.push(*p);
        }
    }
    out
}
