//! Journey definitions, runner state, running instances, the outbox and the action log, in
//! SQLite.
//!
//! A runner step ([`JourneyCommit`]) is applied on the writer thread inside its group
//! transaction, so states, messages, actions, trait updates and the cursor become durable
//! together or not at all: a crash before the commit replays the step, and the outbox's unique
//! message ids make the replay harmless.
//!
//! Writes about a person who was erased while the runner was working are dropped, so a late step
//! cannot bring back what the erasure removed. A person merged into another is still someone:
//! their state is written as given (the runner follows the profile log and moves it), and their
//! trait updates go to the profile that absorbed them.

use crate::apply::{self, Deltas, WriterState};
use crate::sql;
use herald_core::time::to_millis;
use herald_core::{MessageKind, ProfileId, Timestamp, traits};
use herald_store::{
    JourneyAction, JourneyCommit, JourneyRecord, JourneyState, OutboxMessage, OutboxStatus,
    StoreError,
};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

pub(crate) mod read;
pub use read::*;

/// The source the runner's trait updates are recorded under in the event log.
pub const JOURNEYS_SOURCE: &str = "journeys";

/// Where the global rules are kept in `meta`.
const RULES_KEY: &str = "journey_rules";

/// How `journey_counts` stores an action without a step (see the V4 migration).
const NO_STEP: i64 = -1;

/// Applies one runner step.
pub fn commit(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
    commit: &JourneyCommit,
) -> Result<(), StoreError> {
    if let Some(defs) = &commit.definitions {
        store_definitions(tx, defs)?;
    }
    if let Some(rules) = &commit.rules {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![RULES_KEY, rules.to_string()],
        )
        .map_err(sql)?;
    }
    let mut people = People::default();
    for s in &commit.states {
        write_state(tx, &mut people, s)?;
    }
    for m in &commit.messages {
        if people.current(tx, m.profile)?.is_some() {
            insert_message(tx, m)?;
        }
    }
    for a in &commit.actions {
        if people.current(tx, a.profile)?.is_some() {
            record_action(tx, a)?;
        }
    }
    if !commit.traits.is_empty() {
        let source = apply::named_source(tx, state, JOURNEYS_SOURCE)?;
        for (profile, incoming, at) in &commit.traits {
            if let Some(person) = people.current(tx, *profile)? {
                set_traits(tx, deltas, source.0, person, incoming, *at)?;
            }
        }
    }
    let mut stmt = tx
        .prepare_cached("UPDATE counters SET value = ?2 WHERE name = ?1")
        .map_err(sql)?;
    stmt.execute(params![
        "journey_events_cursor",
        commit.cursor.events as i64
    ])
    .map_err(sql)?;
    stmt.execute(params![
        "journey_log_cursor",
        commit.cursor.profile_log as i64
    ])
    .map_err(sql)?;
    Ok(())
}

/// Which profile each profile id of a commit stands for now, looked up once per commit.
#[derive(Default)]
struct People(HashMap<ProfileId, Option<ProfileId>>);

impl People {
    /// The profile itself, the one that absorbed it, or `None` when the person was erased.
    fn current(
        &mut self,
        tx: &Transaction<'_>,
        profile: ProfileId,
    ) -> Result<Option<ProfileId>, StoreError> {
        if let Some(known) = self.0.get(&profile) {
            return Ok(*known);
        }
        let p = profile.0 as i64;
        let exists = tx
            .prepare_cached("SELECT 1 FROM profiles WHERE id = ?1")
            .map_err(sql)?
            .exists([p])
            .map_err(sql)?;
        let found = if exists {
            Some(profile)
        } else {
            // `profile_merges` always points at the final survivor, and an erasure deletes the
            // rows of the people it absorbed, so a hit here is someone who still exists.
            tx.prepare_cached(
                "SELECT m.into_id FROM profile_merges m JOIN profiles p ON p.id = m.into_id
                 WHERE m.absorbed = ?1",
            )
            .map_err(sql)?
            .query_row([p], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(sql)?
            .map(|into| ProfileId(into as u64))
        };
        self.0.insert(profile, found);
        Ok(found)
    }
}

/// Stores the versions not yet stored, then sets `live` on every version of the listed names.
fn store_definitions(tx: &Transaction<'_>, defs: &[JourneyRecord]) -> Result<(), StoreError> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO journeys (name, version, definition, live, created_at)
             VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT (name, version) DO NOTHING",
        )
        .map_err(sql)?;
    for d in defs {
        insert
            .execute(params![
                d.name,
                d.version,
                d.definition.to_string(),
                to_millis(d.created_at)
            ])
            .map_err(sql)?;
    }
    let names: BTreeSet<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    for name in names {
        tx.execute("UPDATE journeys SET live = 0 WHERE name = ?1", [name])
            .map_err(sql)?;
    }
    let mut live = tx
        .prepare_cached("UPDATE journeys SET live = 1 WHERE name = ?1 AND version = ?2")
        .map_err(sql)?;
    for d in defs.iter().filter(|d| d.live) {
        live.execute(params![d.name, d.version]).map_err(sql)?;
    }
    Ok(())
}

fn write_state(
    tx: &Transaction<'_>,
    people: &mut People,
    s: &JourneyState,
) -> Result<(), StoreError> {
    let p = s.profile.0 as i64;
    let bytes = match &s.state {
        Some(bytes) if people.current(tx, s.profile)?.is_some() => bytes,
        _ => {
            tx.prepare_cached("DELETE FROM journey_state WHERE profile_id = ?1")
                .map_err(sql)?
                .execute([p])
                .map_err(sql)?;
            tx.prepare_cached("DELETE FROM journey_instances WHERE profile_id = ?1")
                .map_err(sql)?
                .execute([p])
                .map_err(sql)?;
            return Ok(());
        }
    };
    tx.prepare_cached(
        "INSERT INTO journey_state (profile_id, state, due) VALUES (?1, ?2, ?3)
         ON CONFLICT (profile_id) DO UPDATE SET state = excluded.state, due = excluded.due",
    )
    .map_err(sql)?
    .execute(params![p, bytes, s.due.map(to_millis)])
    .map_err(sql)?;
    tx.prepare_cached("DELETE FROM journey_instances WHERE profile_id = ?1")
        .map_err(sql)?
        .execute([p])
        .map_err(sql)?;
    // An instance belongs to whoever was written last: when a merge moves instances to the
    // surviving profile, its state may come before the absorbed one's deletion in the commit.
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO journey_instances
                 (id, profile_id, journey, version, step, key, entered_at, wake)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET profile_id = excluded.profile_id,
                 journey = excluded.journey, version = excluded.version, step = excluded.step,
                 key = excluded.key, entered_at = excluded.entered_at, wake = excluded.wake",
        )
        .map_err(sql)?;
    for i in &s.instances {
        insert
            .execute(params![
                i.id,
                p,
                i.journey,
                i.version,
                i.step,
                i.key,
                to_millis(i.entered_at),
                i.wake.map(to_millis)
            ])
            .map_err(sql)?;
    }
    Ok(())
}

/// Inserts a message unless one with its id exists: the id is the idempotency key, and a
/// replayed step must neither fail nor send twice.
fn insert_message(tx: &Transaction<'_>, m: &OutboxMessage) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO outbox (id, profile_id, journey, version, instance, step, channel, template,
                             class, status, reason, context, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO NOTHING",
    )
    .map_err(sql)?
    .execute(params![
        m.id,
        m.profile.0 as i64,
        m.journey,
        m.version,
        m.instance,
        m.step,
        m.channel,
        m.template,
        m.class,
        m.status.as_str(),
        m.reason,
        m.context.to_string(),
        to_millis(m.created_at)
    ])
    .map_err(sql)?;
    if m.status == OutboxStatus::Queued {
        crate::messages::queue(tx, m)?;
    }
    Ok(())
}

fn record_action(tx: &Transaction<'_>, a: &JourneyAction) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO journey_actions (at, journey, version, instance, profile_id, step, action,
                                      detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(sql)?
    .execute(params![
        to_millis(a.at),
        a.journey,
        a.version,
        a.instance,
        a.profile.0 as i64,
        a.step,
        a.action,
        a.detail.to_string()
    ])
    .map_err(sql)?;
    tx.prepare_cached(
        "INSERT INTO journey_counts (journey, version, step, action, count)
         VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT (journey, version, step, action) DO UPDATE SET count = count + 1",
    )
    .map_err(sql)?
    .execute(params![
        a.journey,
        a.version,
        a.step.map_or(NO_STEP, i64::from),
        a.action
    ])
    .map_err(sql)?;
    Ok(())
}

/// Merges traits into the profile as an identify does, and records that identify in the event
/// log so that engines following the log (segments) see the change.
fn set_traits(
    tx: &Transaction<'_>,
    deltas: &mut Deltas,
    source: u32,
    profile: ProfileId,
    incoming: &Map<String, Value>,
    at: Timestamp,
) -> Result<(), StoreError> {
    traits::apply_identify(deltas.traits_of(tx, profile)?, incoming);
    let (user_id, anonymous_id): (Option<String>, Option<String>) = tx
        .prepare_cached(
            "SELECT user_id, (SELECT min(value) FROM identities i
                              WHERE i.profile_id = p.id AND i.kind = 1)
             FROM profiles p WHERE p.id = ?1",
        )
        .map_err(sql)?
        .query_row([profile.0 as i64], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql)?;
    // A fresh id: the step that decided this is applied once, so it is never a duplicate.
    let message_id = format!("jrn-{:032x}", rand::random::<u128>());
    let mut body = Map::new();
    body.insert("type".into(), "identify".into());
    match (user_id, anonymous_id) {
        (Some(user), _) => body.insert("userId".into(), user.into()),
        (None, Some(anonymous)) => body.insert("anonymousId".into(), anonymous.into()),
        (None, None) => None,
    };
    body.insert("traits".into(), Value::Object(incoming.clone()));
    body.insert("timestamp".into(), at.to_string().into());
    body.insert("messageId".into(), message_id.clone().into());
    tx.prepare_cached(
        "INSERT INTO events (source_id, message_id, profile_id, ts, received_at, kind, name, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
    )
    .map_err(sql)?
    .execute(params![
        source,
        message_id,
        profile.0 as i64,
        to_millis(at),
        to_millis(Timestamp::now()),
        MessageKind::Identify.code(),
        Value::Object(body).to_string()
    ])
    .map_err(sql)?;
    Ok(())
}

/// Removes a person's journey data (called by an erasure), including that of the profiles they
/// absorbed. The per-step counts are aggregate statistics with no person in them, so they stay.
pub fn forget(tx: &Transaction<'_>, profile: ProfileId) -> Result<(), StoreError> {
    let p = profile.0 as i64;
    let mut people: Vec<i64> = {
        let mut stmt = tx
            .prepare_cached("SELECT absorbed FROM profile_merges WHERE into_id = ?1")
            .map_err(sql)?;
        stmt.query_map([p], |r| r.get(0))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?
    };
    people.push(p);
    for id in &people {
        crate::messages::forget(tx, *id)?;
    }
    for table in [
        "journey_state",
        "journey_instances",
        "outbox",
        "journey_actions",
    ] {
        let mut stmt = tx
            .prepare_cached(&format!("DELETE FROM {table} WHERE profile_id = ?1"))
            .map_err(sql)?;
        for id in &people {
            stmt.execute([id]).map_err(sql)?;
        }
    }
    Ok(())
}
