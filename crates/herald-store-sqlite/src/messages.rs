//! Delivery: the send queue over the outbox, consent and the suppression list.
//!
//! Claims are writes (they lease rows), so they go through the writer like every other write;
//! the claimed rows are read back in the same transaction. A queued outbox message gets its
//! delivery row in the transaction that queues it ([`queue`]), and an erasure takes both away.

use crate::apply::{self, Deltas, WriterState};
use crate::journeys::read::{OUTBOX_COLUMNS_O, raw_message};
use crate::sql;
use herald_core::Channel;
use herald_core::consent::Consent;
use herald_core::time::{from_millis, to_millis};
use herald_core::{ProfileId, Timestamp};
use herald_store::{
    Claimed, ConsentChange, DeliveryState, MESSAGES_SOURCE, MessageCommit, OutboxMessage,
    StoreError, Suppression,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Puts a newly queued message in the send queue, due at once.
pub fn queue(tx: &Transaction<'_>, m: &OutboxMessage) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO deliveries (message_id, channel, state, attempts, due, updated_at)
         VALUES (?1, ?2, 'pending', 0, ?3, ?3) ON CONFLICT DO NOTHING",
    )
    .map_err(sql)?
    .execute(params![m.id, m.channel, to_millis(m.created_at)])
    .map_err(sql)?;
    Ok(())
}

fn in_list(n: usize, first: usize) -> String {
    (0..n)
        .map(|i| format!("?{}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn claim(
    tx: &Transaction<'_>,
    channels: &[String],
    now: Timestamp,
    lease_until: Timestamp,
    limit: usize,
) -> Result<Vec<Claimed>, StoreError> {
    if channels.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let ids: Vec<(String, u32)> = {
        let mut stmt = tx
            .prepare_cached(&format!(
                "UPDATE deliveries SET due = ?1, attempts = attempts + 1, updated_at = ?2
                 WHERE message_id IN (
                     SELECT message_id FROM deliveries
                     WHERE state = 'pending' AND channel IN ({}) AND due <= ?2
                     ORDER BY due LIMIT ?3)
                 RETURNING message_id, attempts",
                in_list(channels.len(), 4)
            ))
            .map_err(sql)?;
        let mut args: Vec<rusqlite::types::Value> = vec![
            to_millis(lease_until).into(),
            to_millis(now).into(),
            (limit.min(i64::MAX as usize) as i64).into(),
        ];
        args.extend(channels.iter().map(|c| c.clone().into()));
        stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?
    };
    let mut out = Vec::with_capacity(ids.len());
    for (id, attempt) in ids {
        if let Some(message) = message(tx, &id)? {
            out.push(Claimed { message, attempt });
        }
    }
    out.sort_by_key(|c| c.message.seq);
    Ok(out)
}

/// One outbox message with its delivery, its recipient followed through merges.
pub fn message(conn: &Connection, id: &str) -> Result<Option<OutboxMessage>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS_O} FROM outbox o
             LEFT JOIN deliveries d ON d.message_id = o.id
             WHERE o.id = ?1"
        ))
        .map_err(sql)?;
    let row = stmt.query_row([id], raw_message).optional().map_err(sql)?;
    let Some(mut m) = row.map(|r| r.into_message()).transpose()? else {
        return Ok(None);
    };
    let into: Option<i64> = conn
        .prepare_cached("SELECT into_id FROM profile_merges WHERE absorbed = ?1")
        .map_err(sql)?
        .query_row([m.profile.0 as i64], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    if let Some(into) = into {
        m.profile = ProfileId(into as u64);
    }
    Ok(Some(m))
}

pub fn next_due(conn: &Connection, channels: &[String]) -> Result<Option<Timestamp>, StoreError> {
    if channels.is_empty() {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT min(due) FROM deliveries WHERE state = 'pending' AND channel IN ({})",
            in_list(channels.len(), 1)
        ))
        .map_err(sql)?;
    let due: Option<i64> = stmt
        .query_row(rusqlite::params_from_iter(channels), |r| r.get(0))
        .map_err(sql)?;
    Ok(due.map(from_millis))
}

pub fn commit(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
    commit: &MessageCommit,
) -> Result<(), StoreError> {
    let mut update = tx
        .prepare_cached(
            "UPDATE deliveries SET state = ?2, due = ?3, address = coalesce(?4, address),
                 provider_id = coalesce(?5, provider_id), error = ?6, updated_at = ?7
             WHERE message_id = ?1",
        )
        .map_err(sql)?;
    for u in &commit.updates {
        update
            .execute(params![
                u.message_id,
                u.state.as_str(),
                u.due.map(to_millis),
                u.address,
                u.provider_id,
                u.error,
                to_millis(u.at)
            ])
            .map_err(sql)?;
    }
    for c in &commit.consent {
        record_consent(tx, c)?;
    }
    let mut suppress = tx
        .prepare_cached(
            "INSERT INTO suppressions (channel, address, reason, detail, at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (channel, address) DO UPDATE SET
                 reason = excluded.reason, detail = excluded.detail, at = excluded.at",
        )
        .map_err(sql)?;
    for s in &commit.suppress {
        suppress
            .execute(params![
                s.channel,
                s.address,
                s.reason,
                s.detail,
                to_millis(s.at)
            ])
            .map_err(sql)?;
    }
    for (channel, address) in &commit.unsuppress {
        tx.execute(
            "DELETE FROM suppressions WHERE channel = ?1 AND address = ?2",
            params![channel, address],
        )
        .map_err(sql)?;
    }
    if !commit.events.is_empty() {
        let source = apply::named_source(tx, state, MESSAGES_SOURCE)?;
        apply::append(tx, state, deltas, source, &commit.events)?;
    }
    Ok(())
}

/// Records a consent unless a newer one for the same key is already recorded.
pub fn record_consent(tx: &Transaction<'_>, c: &ConsentChange) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO consent (profile_id, channel, topic, subscribed, source, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (profile_id, channel, topic) DO UPDATE SET
             subscribed = excluded.subscribed, source = excluded.source, at = excluded.at
         WHERE excluded.at >= consent.at",
    )
    .map_err(sql)?
    .execute(params![
        c.profile.0 as i64,
        c.consent.channel.as_str(),
        c.consent.topic,
        c.consent.subscribed,
        c.consent.source,
        to_millis(c.consent.at)
    ])
    .map_err(sql)?;
    Ok(())
}

/// Moves an absorbed profile's consent to the profile it merged into, newest per key winning.
pub fn merge_consent(tx: &Transaction<'_>, into: i64, absorbed: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO consent (profile_id, channel, topic, subscribed, source, at)
         SELECT ?1, channel, topic, subscribed, source, at FROM consent WHERE profile_id = ?2
         ON CONFLICT (profile_id, channel, topic) DO UPDATE SET
             subscribed = excluded.subscribed, source = excluded.source, at = excluded.at
         WHERE excluded.at > consent.at",
        [into, absorbed],
    )
    .map_err(sql)?;
    tx.execute("DELETE FROM consent WHERE profile_id = ?1", [absorbed])
        .map_err(sql)?;
    Ok(())
}

/// Forgets an erased person's deliveries and consent (their outbox rows go with the journeys).
pub fn forget(tx: &Transaction<'_>, profile: i64) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM deliveries WHERE message_id IN (SELECT id FROM outbox WHERE profile_id = ?1)",
        [profile],
    )
    .map_err(sql)?;
    tx.execute("DELETE FROM consent WHERE profile_id = ?1", [profile])
        .map_err(sql)?;
    Ok(())
}

pub fn consent(conn: &Connection, profile: ProfileId) -> Result<Vec<Consent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT channel, topic, subscribed, source, at FROM consent WHERE profile_id = ?1
             ORDER BY channel, topic",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([profile.0 as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(sql)?;
    rows.map(|row| {
        let (channel, topic, subscribed, source, at) = row.map_err(sql)?;
        Ok(Consent {
            channel: Channel::parse(&channel).ok_or_else(|| {
                StoreError::Corrupt(format!("consent recorded for channel `{channel}`"))
            })?,
            topic,
            subscribed,
            source,
            at: from_millis(at),
        })
    })
    .collect()
}

fn suppression_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Suppression> {
    Ok(Suppression {
        channel: r.get(0)?,
        address: r.get(1)?,
        reason: r.get(2)?,
        detail: r.get(3)?,
        at: from_millis(r.get(4)?),
    })
}

pub fn suppression(
    conn: &Connection,
    channel: &str,
    address: &str,
) -> Result<Option<Suppression>, StoreError> {
    conn.prepare_cached(
        "SELECT channel, address, reason, detail, at FROM suppressions
         WHERE channel = ?1 AND address = ?2",
    )
    .map_err(sql)?
    .query_row(params![channel, address], suppression_row)
    .optional()
    .map_err(sql)
}

pub fn suppressions(
    conn: &Connection,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<Vec<Suppression>, StoreError> {
    let (c, a) = after.unwrap_or_default();
    let mut stmt = conn
        .prepare_cached(
            "SELECT channel, address, reason, detail, at FROM suppressions
             WHERE (channel, address) > (?1, ?2) ORDER BY channel, address LIMIT ?3",
        )
        .map_err(sql)?;
    stmt.query_map(
        params![c, a, limit.min(i64::MAX as usize) as i64],
        suppression_row,
    )
    .map_err(sql)?
    .collect::<Result<_, _>>()
    .map_err(sql)
}

pub fn message_for_provider_id(
    conn: &Connection,
    channel: &str,
    provider_id: &str,
) -> Result<Option<OutboxMessage>, StoreError> {
    let id: Option<String> = conn
        .prepare_cached(
            "SELECT message_id FROM deliveries WHERE channel = ?1 AND provider_id = ?2 LIMIT 1",
        )
        .map_err(sql)?
        .query_row(params![channel, provider_id], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    match id {
        Some(id) => message(conn, &id),
        None => Ok(None),
    }
}

pub fn in_state(
    conn: &Connection,
    state: DeliveryState,
    after: u64,
    limit: usize,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS_O} FROM deliveries d JOIN outbox o ON o.id = d.message_id
             WHERE d.state = ?1 AND o.seq > ?2 ORDER BY o.seq LIMIT ?3"
        ))
        .map_err(sql)?;
    let rows: Vec<_> = stmt
        .query_map(
            params![
                state.as_str(),
                after as i64,
                limit.min(i64::MAX as usize) as i64
            ],
            raw_message,
        )
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    rows.into_iter().map(|r| r.into_message()).collect()
}
