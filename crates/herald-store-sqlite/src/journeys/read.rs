//! Journey queries on read-only connections: definitions, rules, cursor, runner states and
//! their due times, the outbox, and the per-step figures reports show.

use super::{NO_STEP, RULES_KEY};
use crate::sql;
use herald_core::time::{from_millis, to_millis};
use herald_core::{ProfileId, Timestamp};
use herald_store::{
    DeliveryState, JourneyCursor, JourneyRecord, OutboxMessage, OutboxStatus, StepCount,
    StoreError, Waiting,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

pub fn definitions(conn: &Connection) -> Result<Vec<JourneyRecord>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT name, version, definition, live, created_at FROM journeys
             ORDER BY name, version",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        let (name, version, definition, live, created_at) = row.map_err(sql)?;
        let definition = serde_json::from_str(&definition).map_err(|e| {
            StoreError::Corrupt(format!(
                "definition of journey {name} version {version}: {e}"
            ))
        })?;
        out.push(JourneyRecord {
            name,
            version,
            definition,
            live,
            created_at: from_millis(created_at),
        });
    }
    Ok(out)
}

pub fn rules(conn: &Connection) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [RULES_KEY], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("the journey rules: {e}")))
    })
    .transpose()
}

pub fn cursor(conn: &Connection) -> Result<JourneyCursor, StoreError> {
    let get = |name: &str| -> Result<u64, StoreError> {
        conn.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .map(|v| v as u64)
        .map_err(sql)
    };
    Ok(JourneyCursor {
        events: get("journey_events_cursor")?,
        profile_log: get("journey_log_cursor")?,
    })
}

pub fn states(
    conn: &Connection,
    profiles: &[ProfileId],
) -> Result<Vec<(ProfileId, Vec<u8>)>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT state FROM journey_state WHERE profile_id = ?1")
        .map_err(sql)?;
    let mut out = Vec::new();
    for p in profiles {
        let state: Option<Vec<u8>> = stmt
            .query_row([p.0 as i64], |r| r.get(0))
            .optional()
            .map_err(sql)?;
        if let Some(state) = state {
            out.push((*p, state));
        }
    }
    Ok(out)
}

pub fn due_profiles(
    conn: &Connection,
    now: Timestamp,
    limit: usize,
) -> Result<Vec<ProfileId>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT profile_id FROM journey_state WHERE due IS NOT NULL AND due <= ?1
             ORDER BY due LIMIT ?2",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![to_millis(now), sql_limit(limit)], |r| {
            Ok(ProfileId(r.get::<_, i64>(0)? as u64))
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub fn next_due(conn: &Connection) -> Result<Option<Timestamp>, StoreError> {
    let due: Option<i64> = conn
        .query_row(
            "SELECT min(due) FROM journey_state WHERE due IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    Ok(due.map(from_millis))
}

pub fn step_counts(conn: &Connection) -> Result<Vec<StepCount>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT journey, version, step, action, count FROM journey_counts
             ORDER BY journey, version, step, action",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            let step: i64 = r.get(2)?;
            Ok(StepCount {
                journey: r.get(0)?,
                version: r.get(1)?,
                step: (step != NO_STEP).then_some(step as u32),
                action: r.get(3)?,
                count: r.get::<_, i64>(4)? as u64,
            })
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub fn waiting(conn: &Connection) -> Result<Vec<Waiting>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT journey, version, step, count(*) FROM journey_instances
             GROUP BY journey, version, step ORDER BY journey, version, step",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Waiting {
                journey: r.get(0)?,
                version: r.get(1)?,
                step: r.get(2)?,
                count: r.get::<_, i64>(3)? as u64,
            })
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub fn profiles_off_version(
    conn: &Connection,
    journey: &str,
    version: u32,
) -> Result<Vec<ProfileId>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT profile_id FROM journey_instances
             WHERE journey = ?1 AND version != ?2 ORDER BY profile_id",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(rusqlite::params![journey, version], |r| {
            Ok(ProfileId(r.get::<_, i64>(0)? as u64))
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

/// An outbox row and its delivery, from `outbox o LEFT JOIN deliveries d`.
pub const OUTBOX_COLUMNS_O: &str = "o.seq, o.id, o.profile_id, o.journey, o.version, o.instance, \
    o.step, o.channel, o.template, o.class, o.status, o.reason, o.context, o.created_at, \
    d.state, d.attempts, d.due, d.address, d.provider_id, d.error, d.updated_at";

const FROM_OUTBOX: &str = "FROM outbox o LEFT JOIN deliveries d ON d.message_id = o.id";

pub fn outbox(
    conn: &Connection,
    after: u64,
    limit: usize,
    profile: Option<ProfileId>,
) -> Result<Vec<OutboxMessage>, StoreError> {
    // Two queries rather than `?3 IS NULL OR ...`, which would keep SQLite from using the
    // profile index.
    let rows: Vec<RawMessage> = match profile {
        None => {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS_O} {FROM_OUTBOX} WHERE o.seq > ?1 ORDER BY o.seq LIMIT ?2"
                ))
                .map_err(sql)?;
            stmt.query_map(params![after as i64, sql_limit(limit)], raw_message)
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?
        }
        Some(p) => {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS_O} {FROM_OUTBOX} WHERE o.profile_id = ?3 AND o.seq > ?1
                     ORDER BY o.seq LIMIT ?2"
                ))
                .map_err(sql)?;
            stmt.query_map(
                params![after as i64, sql_limit(limit), p.0 as i64],
                raw_message,
            )
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?
        }
    };
    rows.into_iter().map(RawMessage::into_message).collect()
}

pub fn outbox_message(conn: &Connection, id: &str) -> Result<Option<OutboxMessage>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS_O} {FROM_OUTBOX} WHERE o.id = ?1"
        ))
        .map_err(sql)?;
    let row: Option<RawMessage> = stmt.query_row([id], raw_message).optional().map_err(sql)?;
    row.map(RawMessage::into_message).transpose()
}

pub fn recent_sends(
    conn: &Connection,
    profile: ProfileId,
    since: Timestamp,
) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT channel, class, created_at FROM outbox
             WHERE profile_id = ?1 AND created_at >= ?2 AND status = ?3
             ORDER BY created_at, seq",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(
            params![
                profile.0 as i64,
                to_millis(since),
                OutboxStatus::Queued.as_str()
            ],
            |r| Ok((r.get(0)?, r.get(1)?, from_millis(r.get(2)?))),
        )
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

fn sql_limit(limit: usize) -> i64 {
    limit.min(i64::MAX as usize) as i64
}

/// An outbox row before its text columns are checked.
pub struct RawMessage {
    message: OutboxMessage,
    status: String,
    context: String,
    delivery: Option<String>,
}

pub fn raw_message(r: &Row<'_>) -> rusqlite::Result<RawMessage> {
    let delivery: Option<String> = r.get(14)?;
    let info = match delivery {
        Some(_) => Some(herald_store::Delivery {
            state: DeliveryState::Pending,
            attempts: r.get(15)?,
            due: r.get::<_, Option<i64>>(16)?.map(from_millis),
            address: r.get(17)?,
            provider_id: r.get(18)?,
            error: r.get(19)?,
            updated_at: from_millis(r.get(20)?),
        }),
        None => None,
    };
    Ok(RawMessage {
        message: OutboxMessage {
            seq: r.get::<_, i64>(0)? as u64,
            id: r.get(1)?,
            profile: ProfileId(r.get::<_, i64>(2)? as u64),
            journey: r.get(3)?,
            version: r.get(4)?,
            instance: r.get(5)?,
            step: r.get(6)?,
            channel: r.get(7)?,
            template: r.get(8)?,
            class: r.get(9)?,
            status: OutboxStatus::Queued,
            reason: r.get(11)?,
            context: Value::Null,
            created_at: from_millis(r.get(13)?),
            delivery: info,
        },
        status: r.get(10)?,
        context: r.get(12)?,
        delivery,
    })
}

impl RawMessage {
    pub fn into_message(self) -> Result<OutboxMessage, StoreError> {
        let mut m = self.message;
        if let (Some(d), Some(state)) = (m.delivery.as_mut(), &self.delivery) {
            d.state = DeliveryState::parse(state).ok_or_else(|| {
                StoreError::Corrupt(format!("delivery of message {} is `{state}`", m.id))
            })?;
        }
        m.status = OutboxStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "outbox message {} has status `{}`",
                m.id, self.status
            ))
        })?;
        m.context = serde_json::from_str(&self.context)
            .map_err(|e| StoreError::Corrupt(format!("context of outbox message {}: {e}", m.id)))?;
        Ok(m)
    }
}

/// The instances of a profile, for tests and reports that look at one person.
#[cfg(test)]
pub fn instances(
    conn: &Connection,
    profile: ProfileId,
) -> Result<Vec<herald_store::InstanceRow>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, journey, version, step, key, entered_at, wake FROM journey_instances
             WHERE profile_id = ?1 ORDER BY id",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([profile.0 as i64], |r| {
            Ok(herald_store::InstanceRow {
                id: r.get(0)?,
                journey: r.get(1)?,
                version: r.get(2)?,
                step: r.get(3)?,
                key: r.get(4)?,
                entered_at: from_millis(r.get(5)?),
                wake: r.get::<_, Option<i64>>(6)?.map(from_millis),
            })
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}
