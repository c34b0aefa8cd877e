//! Message templates (versioned per name and channel) and the link-signing key.

use crate::sql;
use herald_core::time::{from_millis, to_millis};
use herald_store::{StoreError, TemplateRecord};
use rusqlite::{Connection, Transaction, params};
use std::collections::BTreeSet;

pub fn records(conn: &Connection) -> Result<Vec<TemplateRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, channel, version, definition, live, created_at FROM templates
             ORDER BY name, channel, version",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .map_err(sql)?;
    rows.map(|row| {
        let (name, channel, version, definition, live, created_at) = row.map_err(sql)?;
        Ok(TemplateRecord {
            definition: serde_json::from_str(&definition).map_err(|e| {
                StoreError::Corrupt(format!(
                    "template {name} ({channel}) version {version}: {e}"
                ))
            })?,
            name,
            channel,
            version,
            live,
            created_at: from_millis(created_at),
        })
    })
    .collect()
}

pub fn commit(tx: &Transaction<'_>, records: &[TemplateRecord]) -> Result<(), StoreError> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO templates (name, channel, version, definition, live, created_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT DO NOTHING",
        )
        .map_err(sql)?;
    for r in records {
        insert
            .execute(params![
                r.name,
                r.channel,
                r.version,
                r.definition.to_string(),
                to_millis(r.created_at)
            ])
            .map_err(sql)?;
    }
    let keys: BTreeSet<(&str, &str)> = records
        .iter()
        .map(|r| (r.name.as_str(), r.channel.as_str()))
        .collect();
    for (name, channel) in keys {
        tx.execute(
            "UPDATE templates SET live = 0 WHERE name = ?1 AND channel = ?2",
            params![name, channel],
        )
        .map_err(sql)?;
    }
    for r in records.iter().filter(|r| r.live) {
        tx.execute(
            "UPDATE templates SET live = 1 WHERE name = ?1 AND channel = ?2 AND version = ?3",
            params![r.name, r.channel, r.version],
        )
        .map_err(sql)?;
    }
    Ok(())
}

pub fn link_key(conn: &Connection) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'link_key'", [], |r| {
            r.get(0)
        })
        .map_err(sql)?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("the link key is not 32 bytes".into()))
}
