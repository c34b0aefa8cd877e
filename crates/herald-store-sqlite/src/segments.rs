//! Segment definitions, engine state, memberships and the profile log, in SQLite.
//!
//! Writes run on the writer thread inside its group transaction, so an engine step (states,
//! membership changes, their events, the cursor) is durable all at once or not at all.

use crate::apply::{self, WriterState};
use crate::read::{EVENT_COLUMNS, event_from_row};
use crate::sql;
use herald_core::time::{from_millis, to_millis};
use herald_core::{MessageKind, ProfileId, StoredEvent};
use herald_store::{
    Member, MembershipChange, ProfileChange, ProfileLogEntry, SEGMENT_ENTERED, SEGMENT_EXITED,
    SegmentCommit, SegmentCursor, SegmentRecord, StoreError,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// The source Herald's own membership events are recorded under.
pub const SEGMENTS_SOURCE: &str = "segments";

const MERGED: i64 = 1;
const ERASED: i64 = 2;

/// Records a merge or an erasure for engines that follow profiles (called by the writer).
pub fn log_profile_change(tx: &Transaction<'_>, change: ProfileChange) -> Result<(), StoreError> {
    let after: i64 = tx
        .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
        .map_err(sql)?;
    let (kind, profile, into) = match change {
        ProfileChange::Merged { absorbed, into } => (MERGED, absorbed, Some(into.0 as i64)),
        ProfileChange::Erased { profile } => (ERASED, profile, None),
    };
    tx.prepare_cached(
        "INSERT INTO profile_log (after_event, kind, profile_id, into_id) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(sql)?
    .execute(params![after, kind, profile.0 as i64, into])
    .map_err(sql)?;
    // Derived segment data of a profile that is gone goes with it.
    tx.execute(
        "DELETE FROM segment_members WHERE profile_id = ?1",
        [profile.0 as i64],
    )
    .map_err(sql)?;
    tx.execute(
        "DELETE FROM segment_state WHERE profile_id = ?1",
        [profile.0 as i64],
    )
    .map_err(sql)?;
    Ok(())
}

/// Applies one engine step. Writes about profiles that no longer exist (merged away or erased
/// while the engine was working) are skipped: the profile log tells the engine about them.
pub fn commit(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    commit: &SegmentCommit,
) -> Result<(), StoreError> {
    if let Some(defs) = &commit.definitions {
        replace_definitions(tx, defs)?;
    }
    let exists = |p: ProfileId| -> Result<bool, StoreError> {
        tx.prepare_cached("SELECT 1 FROM profiles WHERE id = ?1")
            .map_err(sql)?
            .exists([p.0 as i64])
            .map_err(sql)
    };
    for s in &commit.states {
        let p = s.profile.0 as i64;
        match &s.state {
            Some(bytes) if exists(s.profile)? => {
                tx.prepare_cached(
                    "INSERT INTO segment_state (profile_id, state, due) VALUES (?1, ?2, ?3)
                     ON CONFLICT (profile_id) DO UPDATE SET state = excluded.state, due = excluded.due",
                )
                .map_err(sql)?
                .execute(params![p, bytes, s.due.map(to_millis)])
                .map_err(sql)?;
            }
            _ => {
                tx.prepare_cached("DELETE FROM segment_state WHERE profile_id = ?1")
                    .map_err(sql)?
                    .execute([p])
                    .map_err(sql)?;
            }
        }
    }
    if !commit.changes.is_empty() {
        let source = apply::named_source(tx, state, SEGMENTS_SOURCE)?;
        for c in &commit.changes {
            if exists(c.profile)? {
                record_change(tx, source.0, c)?;
            }
        }
    }
    let cursor = commit.cursor;
    let mut stmt = tx
        .prepare_cached("UPDATE counters SET value = ?2 WHERE name = ?1")
        .map_err(sql)?;
    stmt.execute(params!["segment_events_cursor", cursor.events as i64])
        .map_err(sql)?;
    stmt.execute(params!["segment_log_cursor", cursor.profile_log as i64])
        .map_err(sql)?;
    // The bits of the fingerprint, kept in a signed column.
    stmt.execute(params!["segment_program", cursor.program as i64])
        .map_err(sql)?;
    Ok(())
}

fn replace_definitions(tx: &Transaction<'_>, defs: &[SegmentRecord]) -> Result<(), StoreError> {
    let names: Vec<String> = {
        let mut stmt = tx.prepare("SELECT name FROM segments").map_err(sql)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?
    };
    for gone in names.iter().filter(|n| !defs.iter().any(|d| &d.name == *n)) {
        tx.execute("DELETE FROM segments WHERE name = ?1", [gone])
            .map_err(sql)?;
        tx.execute("DELETE FROM segment_members WHERE segment = ?1", [gone])
            .map_err(sql)?;
    }
    for d in defs {
        tx.execute(
            "INSERT INTO segments (name, definition, version, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET definition = excluded.definition,
                 version = excluded.version, updated_at = excluded.updated_at",
            params![
                d.name,
                d.definition.to_string(),
                d.version as i64,
                to_millis(d.updated_at)
            ],
        )
        .map_err(sql)?;
    }
    Ok(())
}

/// Updates the membership table and records the change as an event of the profile. The event's
/// message id is derived from the change, so a replayed step is a duplicate, not a second event.
fn record_change(
    tx: &Transaction<'_>,
    source: u32,
    c: &MembershipChange,
) -> Result<(), StoreError> {
    let p = c.profile.0 as i64;
    let at = to_millis(c.at);
    if c.entered {
        tx.prepare_cached(
            "INSERT INTO segment_members (segment, profile_id, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (segment, profile_id) DO NOTHING",
        )
        .map_err(sql)?
        .execute(params![c.segment, p, at])
        .map_err(sql)?;
    } else {
        tx.prepare_cached("DELETE FROM segment_members WHERE segment = ?1 AND profile_id = ?2")
            .map_err(sql)?
            .execute(params![c.segment, p])
            .map_err(sql)?;
    }
    let name = if c.entered {
        SEGMENT_ENTERED
    } else {
        SEGMENT_EXITED
    };
    let message_id = format!(
        "seg-{}-{}-{}-{at}",
        c.segment,
        c.profile,
        if c.entered { "in" } else { "out" }
    );
    let body = serde_json::json!({
        "type": "track",
        "event": name,
        "properties": {"segment": c.segment, "backfill": c.backfill},
        "timestamp": c.at.to_string(),
    });
    tx.prepare_cached(
        "INSERT INTO events (source_id, message_id, profile_id, ts, received_at, kind, name, body)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)
         ON CONFLICT (source_id, message_id) DO NOTHING",
    )
    .map_err(sql)?
    .execute(params![
        source,
        message_id,
        p,
        at,
        MessageKind::Track.code(),
        name,
        body.to_string()
    ])
    .map_err(sql)?;
    Ok(())
}

pub fn definitions(conn: &Connection) -> Result<Vec<SegmentRecord>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT name, definition, version, updated_at FROM segments ORDER BY name")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        let (name, definition, version, updated_at) = row.map_err(sql)?;
        let definition = serde_json::from_str(&definition)
            .map_err(|e| StoreError::Corrupt(format!("definition of segment {name}: {e}")))?;
        out.push(SegmentRecord {
            name,
            definition,
            version: version as u64,
            updated_at: from_millis(updated_at),
        });
    }
    Ok(out)
}

pub fn event_names(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT DISTINCT name FROM events WHERE kind = ?1 AND name IS NOT NULL")
        .map_err(sql)?;
    let rows = stmt
        .query_map([MessageKind::Track.code()], |r| r.get(0))
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub fn cursor(conn: &Connection) -> Result<SegmentCursor, StoreError> {
    let get = |name: &str| -> Result<u64, StoreError> {
        conn.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .map(|v| v as u64)
        .map_err(sql)
    };
    Ok(SegmentCursor {
        events: get("segment_events_cursor")?,
        profile_log: get("segment_log_cursor")?,
        program: get("segment_program")?,
    })
}

pub fn states(conn: &Connection) -> Result<Vec<(ProfileId, Vec<u8>)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT profile_id, state FROM segment_state")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                ProfileId(r.get::<_, i64>(0)? as u64),
                r.get::<_, Vec<u8>>(1)?,
            ))
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub fn profile_log(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<ProfileLogEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, after_event, kind, profile_id, into_id FROM profile_log
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![after as i64, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, after_event, kind, profile, into) = row.map_err(sql)?;
        let profile = ProfileId(profile as u64);
        let change = match (kind, into) {
            (MERGED, Some(into)) => ProfileChange::Merged {
                absorbed: profile,
                into: ProfileId(into as u64),
            },
            (ERASED, _) => ProfileChange::Erased { profile },
            _ => return Err(StoreError::Corrupt(format!("profile log entry {id}"))),
        };
        out.push(ProfileLogEntry {
            id: id as u64,
            after_event: after_event as u64,
            change,
        });
    }
    Ok(out)
}

pub fn history(
    conn: &Connection,
    profile: ProfileId,
    upto: u64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE profile_id = ?1 AND seq <= ?2 ORDER BY seq"
        ))
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![profile.0 as i64, upto as i64], event_from_row)
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

/// The id a member is shown by: the `userId`, else the smallest `anonymousId`.
const MEMBER_ID: &str = "coalesce(p.user_id,
    (SELECT min(value) FROM identities i WHERE i.profile_id = p.id AND i.kind = 1))";

pub fn members(
    conn: &Connection,
    segment: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Member>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT * FROM (
                 SELECT m.profile_id, {MEMBER_ID} AS shown, m.since
                 FROM segment_members m JOIN profiles p ON p.id = m.profile_id
                 WHERE m.segment = ?1)
             WHERE shown IS NOT NULL AND (?2 IS NULL OR shown > ?2)
             ORDER BY shown LIMIT ?3"
        ))
        .map_err(sql)?;
    let rows = stmt
        .query_map(params![segment, after, limit as i64], |r| {
            Ok(Member {
                profile: ProfileId(r.get::<_, i64>(0)? as u64),
                id: r.get(1)?,
                since: from_millis(r.get(2)?),
            })
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub fn display_ids(
    conn: &Connection,
    profiles: &[ProfileId],
) -> Result<Vec<(ProfileId, String)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {MEMBER_ID} FROM profiles p WHERE p.id = ?1"
        ))
        .map_err(sql)?;
    let mut out = Vec::with_capacity(profiles.len());
    for p in profiles {
        let shown: Option<Option<String>> = stmt
            .query_row([p.0 as i64], |r| r.get(0))
            .optional()
            .map_err(sql)?;
        if let Some(Some(id)) = shown {
            out.push((*p, id));
        }
    }
    Ok(out)
}

pub fn sizes(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT s.name, (SELECT count(*) FROM segment_members m WHERE m.segment = s.name)
             FROM segments s ORDER BY s.name",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub fn of_profile(
    conn: &Connection,
    profile: ProfileId,
) -> Result<Vec<(String, herald_core::Timestamp)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT segment, since FROM segment_members WHERE profile_id = ?1 ORDER BY segment",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([profile.0 as i64], |r| {
            Ok((r.get(0)?, from_millis(r.get(1)?)))
        })
        .map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

/// The profile an id resolves to, for callers outside the writer.
pub fn resolve(conn: &Connection, id: &str) -> Result<Option<ProfileId>, StoreError> {
    apply::resolve(conn, id)
}
