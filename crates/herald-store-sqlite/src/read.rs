//! Queries on read-only connections, run beside the writer thanks to WAL.

use crate::apply::resolve;
use crate::sql;
use herald_core::time::from_millis;
use herald_core::{IdentityKind, MessageKind, ProfileId, StoredEvent};
use herald_store::{BodyFilter, Group, Profile, ProfileExport, Stats, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

pub(crate) const EVENT_COLUMNS: &str =
    "seq, profile_id, kind, name, message_id, ts, received_at, body";

pub(crate) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let kind: i64 = r.get(2)?;
    Ok(StoredEvent {
        seq: r.get::<_, i64>(0)? as u64,
        profile_id: ProfileId(r.get::<_, i64>(1)? as u64),
        kind: MessageKind::from_code(kind).unwrap_or(MessageKind::Track),
        name: r.get(3)?,
        message_id: r.get(4)?,
        timestamp: from_millis(r.get(5)?),
        received_at: from_millis(r.get(6)?),
        body: r.get::<_, String>(7)?.into_boxed_str(),
    })
}

fn traits_from(text: &str, whose: &str) -> Result<Map<String, Value>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("traits of {whose}: {e}")))
}

pub fn profile(conn: &Connection, id: &str) -> Result<Option<Profile>, StoreError> {
    match resolve(conn, id)? {
        Some(p) => profile_by_id(conn, p),
        None => Ok(None),
    }
}

fn profile_by_id(conn: &Connection, p: ProfileId) -> Result<Option<Profile>, StoreError> {
    let row = conn
        .prepare_cached("SELECT user_id, traits, event_count, first_seen, last_seen FROM profiles WHERE id = ?1")
        .map_err(sql)?
        .query_row([p.0 as i64], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })
        .optional()
        .map_err(sql)?;
    let Some((user_id, traits, event_count, first, last)) = row else {
        return Ok(None);
    };
    let mut user_ids = Vec::new();
    let mut anonymous_ids = Vec::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT kind, value FROM identities WHERE profile_id = ?1 ORDER BY kind, value",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([p.0 as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(sql)?;
    for row in rows {
        let (kind, value) = row.map_err(sql)?;
        match IdentityKind::from_code(kind) {
            Some(IdentityKind::User) => user_ids.push(value),
            Some(IdentityKind::Anonymous) => anonymous_ids.push(value),
            None => return Err(StoreError::Corrupt(format!("identity kind {kind}"))),
        }
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT group_id FROM group_members WHERE profile_id = ?1 ORDER BY group_id",
        )
        .map_err(sql)?;
    let groups = stmt
        .query_map([p.0 as i64], |r| r.get::<_, String>(0))
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)?;
    Ok(Some(Profile {
        id: p,
        user_id,
        user_ids,
        anonymous_ids,
        traits: traits_from(&traits, &format!("profile {p}"))?,
        event_count: event_count as u64,
        first_seen: first.map(from_millis),
        last_seen: last.map(from_millis),
        groups,
    }))
}

pub fn profile_events(
    conn: &Connection,
    id: &str,
    limit: usize,
) -> Result<Option<Vec<StoredEvent>>, StoreError> {
    let Some(p) = resolve(conn, id)? else {
        return Ok(None);
    };
    events_of(conn, p, Some(limit)).map(Some)
}

fn events_of(
    conn: &Connection,
    p: ProfileId,
    limit: Option<usize>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let limit = limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE profile_id = ?1 ORDER BY ts DESC, seq DESC LIMIT ?2"
        ))
        .map_err(sql)?;
    stmt.query_map(params![p.0 as i64, limit], event_from_row)
        .map_err(sql)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql)
}

pub fn export(conn: &Connection, id: &str) -> Result<Option<ProfileExport>, StoreError> {
    let Some(p) = resolve(conn, id)? else {
        return Ok(None);
    };
    let Some(profile) = profile_by_id(conn, p)? else {
        return Ok(None);
    };
    let mut groups = Vec::new();
    let mut stmt = conn
        .prepare_cached("SELECT traits FROM groups WHERE group_id = ?1")
        .map_err(sql)?;
    for group_id in &profile.groups {
        let traits: Option<String> = stmt
            .query_row([group_id], |r| r.get(0))
            .optional()
            .map_err(sql)?;
        groups.push(Group {
            group_id: group_id.clone(),
            traits: traits_from(
                traits.as_deref().unwrap_or("{}"),
                &format!("group {group_id}"),
            )?,
        });
    }
    let mut events = events_of(conn, p, None)?;
    events.reverse();
    Ok(Some(ProfileExport {
        profile,
        groups,
        events,
    }))
}

/// A scan that copies out only the bodies `wanted` accepts: SQLite reads a column's value only
/// when asked for it, and most of a scan's cost is copying bodies.
pub fn scan_sparse(
    conn: &Connection,
    after: u64,
    limit: usize,
    wanted: &BodyFilter,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, profile_id, kind, name, ts, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![after as i64, limit.min(i64::MAX as usize) as i64])
        .map_err(sql)?;
    let mut out = Vec::with_capacity(limit.min(65_536));
    while let Some(r) = rows.next().map_err(sql)? {
        let kind = MessageKind::from_code(r.get(2).map_err(sql)?).unwrap_or(MessageKind::Track);
        let name: Option<String> = r.get(3).map_err(sql)?;
        let timestamp = from_millis(r.get(4).map_err(sql)?);
        let body: Box<str> = if wanted(kind, name.as_deref()) {
            r.get_ref(5)
                .map_err(sql)?
                .as_str()
                .map_err(|e| StoreError::Corrupt(format!("an event body: {e}")))?
                .into()
        } else {
            Box::default()
        };
        out.push(StoredEvent {
            seq: r.get::<_, i64>(0).map_err(sql)? as u64,
            profile_id: ProfileId(r.get::<_, i64>(1).map_err(sql)? as u64),
            kind,
            name,
            message_id: String::new(),
            timestamp,
            received_at: timestamp,
            body,
        });
    }
    Ok(out)
}

pub fn scan(conn: &Connection, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(sql)?;
    stmt.query_map(
        params![after as i64, limit.min(i64::MAX as usize) as i64],
        event_from_row,
    )
    .map_err(sql)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(sql)
}

pub fn stats(conn: &Connection) -> Result<Stats, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT name, value FROM counters")
        .map_err(sql)?;
    let mut stats = Stats::default();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(sql)?;
    for row in rows {
        let (name, value) = row.map_err(sql)?;
        let value = value.max(0) as u64;
        match name.as_str() {
            "events" => stats.events = value,
            "profiles" => stats.profiles = value,
            "dropped_erased" => stats.dropped_erased = value,
            _ => {}
        }
    }
    Ok(stats)
}
