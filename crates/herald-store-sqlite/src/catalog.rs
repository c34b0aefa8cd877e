//! The catalog and coupon offers: items, offer definitions, and the pools of codes.
//!
//! Every write is a [`Request`] to the single writer, so assigning "the next free code" can never
//! hand one code to two people or two codes to one person, however many sends ask at once.
//!
//! Finding the next free code among millions is a seek: free codes (neither assigned nor
//! redeemed) are the only entries of the partial index `coupon_codes_free`, in insertion order
//! by rowid, so the oldest is its first entry for the offer. An assigned code leaves that index
//! for good: erasure takes the person from a code but keeps it assigned, so it never goes to
//! someone else. The pool's counts live on the offer's row, updated with each change, so that
//! reports never count a million codes.

use crate::apply::{self, Deltas, WriterState};
use crate::{SqliteStore, sql};
use herald_catalog::{Coupon, Item, Offer, OfferCounts, valid_code};
use herald_core::time::{from_millis, to_millis};
use herald_core::{Message, ProfileId, Timestamp};
use herald_store::{AppendReport, CATALOG_SOURCE, CatalogCommit, StoreError};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::Value;
use std::collections::HashSet;

/// A write to the catalog or the offers.
pub enum Request {
    Commit(CatalogCommit),
    Delete(String),
    PutOffer(Offer),
    AddCodes {
        offer: String,
        codes: Vec<String>,
    },
    Assign {
        offer: String,
        profile: ProfileId,
        now: Timestamp,
        candidates: Vec<String>,
    },
}

/// What a [`Request`] gave; each request has its own kind of answer.
pub enum Answer {
    Appended(AppendReport),
    Deleted(bool),
    Done,
    Added(u64),
    Assigned(Option<Coupon>),
    /// The request named an offer that does not exist. An answer rather than an error: an error
    /// fails the writer's whole group, and this is the caller's mistake alone.
    NoSuchOffer(String),
}

impl Answer {
    pub fn appended(self) -> AppendReport {
        match self {
            Answer::Appended(r) => r,
            other => other.mismatch(),
        }
    }

    pub fn deleted(self) -> bool {
        match self {
            Answer::Deleted(d) => d,
            other => other.mismatch(),
        }
    }

    pub fn done(self) {
        match self {
            Answer::Done => {}
            other => other.mismatch(),
        }
    }

    pub fn added(self) -> Result<u64, StoreError> {
        match self {
            Answer::Added(n) => Ok(n),
            Answer::NoSuchOffer(name) => Err(StoreError::UnknownOffer(name)),
            other => other.mismatch(),
        }
    }

    pub fn assigned(self) -> Result<Option<Coupon>, StoreError> {
        match self {
            Answer::Assigned(c) => Ok(c),
            Answer::NoSuchOffer(name) => Err(StoreError::UnknownOffer(name)),
            other => other.mismatch(),
        }
    }

    fn mismatch(self) -> ! {
        unreachable!("each catalog request gets its own answer")
    }
}

impl Request {
    /// Roughly the bytes the request writes, for the writer's group size.
    pub fn weight(&self) -> usize {
        match self {
            Request::Commit(c) => {
                c.items.len() * 512 + c.events.iter().map(Message::weight).sum::<usize>()
            }
            Request::AddCodes { codes, .. } => codes.len() * 64,
            _ => 1024,
        }
    }
}

impl SqliteStore {
    pub(crate) async fn write_catalog(&self, request: Request) -> Result<Answer, StoreError> {
        self.send(|reply| crate::writer::Command::Catalog { request, reply })
            .await
    }
}

pub fn apply(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
    request: &Request,
) -> Result<Answer, StoreError> {
    Ok(match request {
        Request::Commit(commit) => Answer::Appended(commit_items(tx, state, deltas, commit)?),
        Request::Delete(id) => Answer::Deleted(
            tx.prepare_cached("DELETE FROM catalog_items WHERE product_id = ?1")
                .map_err(sql)?
                .execute([id])
                .map_err(sql)?
                > 0,
        ),
        Request::PutOffer(offer) => {
            put_offer(tx, offer)?;
            Answer::Done
        }
        Request::AddCodes { offer, codes } => match add_codes(tx, offer, codes)? {
            Some(added) => Answer::Added(added),
            None => Answer::NoSuchOffer(offer.clone()),
        },
        Request::Assign {
            offer,
            profile,
            now,
            candidates,
        } => match load_offer(tx, offer)? {
            Some((found, _)) => Answer::Assigned(assign(tx, &found, *profile, *now, candidates)?),
            None => Answer::NoSuchOffer(offer.clone()),
        },
    })
}

fn commit_items(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
    commit: &CatalogCommit,
) -> Result<AppendReport, StoreError> {
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO catalog_items (product_id, category, item, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (product_id) DO UPDATE SET
                 category = excluded.category, item = excluded.item,
                 updated_at = excluded.updated_at",
        )
        .map_err(sql)?;
    for item in &commit.items {
        let text = serde_json::to_string(item).expect("an item serialises");
        upsert
            .execute(params![
                item.product_id,
                item.category,
                text,
                to_millis(item.updated_at)
            ])
            .map_err(sql)?;
    }
    if commit.events.is_empty() {
        return Ok(AppendReport::default());
    }
    let source = apply::named_source(tx, state, CATALOG_SOURCE)?;
    apply::append(tx, state, deltas, source, &commit.events)
}

fn put_offer(tx: &Transaction<'_>, offer: &Offer) -> Result<(), StoreError> {
    let definition = offer.to_json().to_string();
    tx.prepare_cached(
        "INSERT INTO offers (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (name) DO UPDATE SET
             definition = excluded.definition, updated_at = excluded.updated_at",
    )
    .map_err(sql)?
    .execute(params![offer.name, definition, to_millis(Timestamp::now())])
    .map_err(sql)?;
    Ok(())
}

/// Adds codes to a pool; `None` when there is no such offer.
fn add_codes(
    tx: &Transaction<'_>,
    offer: &str,
    codes: &[String],
) -> Result<Option<u64>, StoreError> {
    if load_offer(tx, offer)?.is_none() {
        return Ok(None);
    }
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO coupon_codes (offer, code) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .map_err(sql)?;
    let mut added = 0u64;
    for code in codes.iter().filter(|c| valid_code(c)) {
        added += insert.execute(params![offer, code]).map_err(sql)? as u64;
    }
    bump(tx, offer, added as i64, 0, 0, added as i64)?;
    Ok(Some(added))
}

/// Adjusts an offer's counts.
fn bump(
    tx: &Transaction<'_>,
    offer: &str,
    codes: i64,
    assigned: i64,
    redeemed: i64,
    available: i64,
) -> Result<(), StoreError> {
    if (codes, assigned, redeemed, available) == (0, 0, 0, 0) {
        return Ok(());
    }
    tx.prepare_cached(
        "UPDATE offers SET codes = codes + ?2, assigned = assigned + ?3,
             redeemed = redeemed + ?4, available = available + ?5
         WHERE name = ?1",
    )
    .map_err(sql)?
    .execute(params![offer, codes, assigned, redeemed, available])
    .map_err(sql)?;
    Ok(())
}

fn assign(
    tx: &Transaction<'_>,
    offer: &Offer,
    profile: ProfileId,
    now: Timestamp,
    candidates: &[String],
) -> Result<Option<Coupon>, StoreError> {
    let name = offer.name.as_str();
    let Some(profile) = current_profile(tx, profile)? else {
        return Ok(None);
    };
    if let Some(held) = held(tx, name, profile)? {
        return Ok(Some(held));
    }
    if !offer.is_open(now) {
        return Ok(None);
    }
    // Stored in milliseconds: answer what a later read gives.
    let now = from_millis(to_millis(now));
    let expires_at = offer.expiry(now).map(|t| from_millis(to_millis(t)));
    let args = (profile.0 as i64, to_millis(now), expires_at.map(to_millis));
    let code: Option<String> = match &offer.pattern {
        None => {
            let code: Option<String> = tx
                .prepare_cached(
                    "UPDATE coupon_codes SET profile_id = ?2, assigned_at = ?3, expires_at = ?4
                     WHERE rowid = (
                         SELECT rowid FROM coupon_codes
                         WHERE offer = ?1 AND assigned_at IS NULL AND redeemed_at IS NULL
                         ORDER BY rowid LIMIT 1)
                     RETURNING code",
                )
                .map_err(sql)?
                .query_row(params![name, args.0, args.1, args.2], |r| r.get(0))
                .optional()
                .map_err(sql)?;
            if code.is_some() {
                bump(tx, name, 0, 1, 0, -1)?;
            }
            code
        }
        Some(_) => {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO coupon_codes (offer, code, profile_id, assigned_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )
                .map_err(sql)?;
            let mut taken = None;
            for code in candidates.iter().filter(|c| valid_code(c)) {
                if insert
                    .execute(params![name, code, args.0, args.1, args.2])
                    .map_err(sql)?
                    > 0
                {
                    taken = Some(code.clone());
                    break;
                }
            }
            if taken.is_some() {
                bump(tx, name, 0, 1, 0, 0)?;
            }
            taken
        }
    };
    Ok(code.map(|code| Coupon {
        offer: name.to_owned(),
        code,
        profile,
        assigned_at: now,
        expires_at,
        redeemed_at: None,
    }))
}

/// The profile that `profile` is now: itself, the one it was merged into, or none (erased).
fn current_profile(
    tx: &Transaction<'_>,
    profile: ProfileId,
) -> Result<Option<ProfileId>, StoreError> {
    let p = profile.0 as i64;
    let exists = tx
        .prepare_cached("SELECT 1 FROM profiles WHERE id = ?1")
        .map_err(sql)?
        .exists([p])
        .map_err(sql)?;
    if exists {
        return Ok(Some(profile));
    }
    let into: Option<i64> = tx
        .prepare_cached("SELECT into_id FROM profile_merges WHERE absorbed = ?1")
        .map_err(sql)?
        .query_row([p], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    Ok(into.map(|i| ProfileId(i as u64)))
}

const COUPON_COLUMNS: &str = "offer, code, profile_id, assigned_at, expires_at, redeemed_at";

fn coupon_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Coupon> {
    Ok(Coupon {
        offer: r.get(0)?,
        code: r.get(1)?,
        profile: ProfileId(r.get::<_, i64>(2)? as u64),
        assigned_at: from_millis(r.get(3)?),
        expires_at: r.get::<_, Option<i64>>(4)?.map(from_millis),
        redeemed_at: r.get::<_, Option<i64>>(5)?.map(from_millis),
    })
}

fn held(conn: &Connection, offer: &str, profile: ProfileId) -> Result<Option<Coupon>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COUPON_COLUMNS} FROM coupon_codes WHERE profile_id = ?1 AND offer = ?2"
    ))
    .map_err(sql)?
    .query_row(params![profile.0 as i64, offer], coupon_row)
    .optional()
    .map_err(sql)
}

/// The track events that say a code was used, and the properties that may hold it.
fn code_properties(name: &str) -> &'static [&'static str] {
    match name {
        "Coupon Applied" => &["coupon_id", "coupon_name", "coupon", "coupon_code"],
        "Order Completed" => &["coupon"],
        _ => &[],
    }
}

/// Marks the codes a `Coupon Applied` or `Order Completed` event names as redeemed at its time.
/// Other events return at once: this runs for every event ingested.
pub fn redeem(tx: &Transaction<'_>, m: &Message, ts: i64) -> Result<(), StoreError> {
    let keys = m.name.as_deref().map_or(&[][..], code_properties);
    if keys.is_empty() {
        return Ok(());
    }
    let Ok(body) = serde_json::from_str::<Value>(&m.body) else {
        return Ok(());
    };
    let Some(props) = body.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    let codes: HashSet<&str> = keys
        .iter()
        .filter_map(|k| props.get(*k)?.as_str())
        // An order with several codes may list them comma-separated.
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|c| valid_code(c))
        .collect();
    for code in codes {
        // The column's NOCASE collation makes `SAVE10` redeem `save10`.
        let hits: Vec<(String, bool)> = tx
            .prepare_cached(
                "UPDATE coupon_codes SET redeemed_at = ?2 WHERE code = ?1 AND redeemed_at IS NULL
                 RETURNING offer, assigned_at IS NULL",
            )
            .map_err(sql)?
            .query_map(params![code, ts], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        for (offer, was_free) in hits {
            // A free code used at checkout went out some other way: it is not free any more.
            bump(tx, &offer, 0, 0, 1, if was_free { -1 } else { 0 })?;
        }
    }
    Ok(())
}

/// Gives an absorbed person's codes to the person they merged into, except for offers the
/// survivor already has a code of: those stay with the absorbed id, still taken.
pub fn merge_coupons(tx: &Transaction<'_>, into: i64, absorbed: i64) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE OR IGNORE coupon_codes SET profile_id = ?1 WHERE profile_id = ?2")
        .map_err(sql)?
        .execute([into, absorbed])
        .map_err(sql)?;
    Ok(())
}

/// Takes an erased person (and the people merged into them) off their codes. The codes stay
/// assigned, so they are never given to anyone else. Runs before `profile_merges` forgets whom
/// the person absorbed.
pub fn forget(tx: &Transaction<'_>, profile: i64) -> Result<(), StoreError> {
    let mut people: Vec<i64> = tx
        .prepare_cached("SELECT absorbed FROM profile_merges WHERE into_id = ?1")
        .map_err(sql)?
        .query_map([profile], |r| r.get(0))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    people.push(profile);
    let mut clear = tx
        .prepare_cached("UPDATE coupon_codes SET profile_id = NULL WHERE profile_id = ?1")
        .map_err(sql)?;
    for p in people {
        clear.execute([p]).map_err(sql)?;
    }
    Ok(())
}

fn item_from(text: &str) -> Result<Item, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("a catalog item: {e}")))
}

pub fn items(conn: &Connection, ids: &[String]) -> Result<Vec<Item>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT item FROM catalog_items WHERE product_id = ?1")
        .map_err(sql)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for id in ids.iter().filter(|id| seen.insert(id.as_str())) {
        let text: Option<String> = stmt.query_row([id], |r| r.get(0)).optional().map_err(sql)?;
        if let Some(text) = text {
            out.push(item_from(&text)?);
        }
    }
    Ok(out)
}

pub fn page(
    conn: &Connection,
    category: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Item>, StoreError> {
    let limit = limit.min(i64::MAX as usize) as i64;
    let after = after.unwrap_or("");
    // Two statements rather than `?1 IS NULL OR category = ?1`, which no index serves.
    let texts: Vec<String> = match category {
        Some(c) => conn
            .prepare_cached(
                "SELECT item FROM catalog_items WHERE category = ?1 AND product_id > ?2
                 ORDER BY product_id LIMIT ?3",
            )
            .map_err(sql)?
            .query_map(params![c, after, limit], |r| r.get(0))
            .map_err(sql)?
            .collect::<Result<_, _>>(),
        None => conn
            .prepare_cached(
                "SELECT item FROM catalog_items WHERE product_id > ?1
                 ORDER BY product_id LIMIT ?2",
            )
            .map_err(sql)?
            .query_map(params![after, limit], |r| r.get(0))
            .map_err(sql)?
            .collect::<Result<_, _>>(),
    }
    .map_err(sql)?;
    texts.iter().map(|t| item_from(t)).collect()
}

pub fn count(conn: &Connection) -> Result<u64, StoreError> {
    conn.query_row("SELECT count(*) FROM catalog_items", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(sql)
}

const OFFER_COLUMNS: &str = "name, definition, codes, assigned, redeemed, available";

fn offer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, [i64; 4])> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
    ))
}

fn offer_from(
    (name, definition, [codes, assigned, redeemed, available]): (String, String, [i64; 4]),
) -> Result<(Offer, OfferCounts), StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("the definition of offer {name}: {e}"));
    let value: Value = serde_json::from_str(&definition).map_err(|e| corrupt(e.to_string()))?;
    let offer = Offer::parse(&name, &value).map_err(|e| corrupt(e.to_string()))?;
    let counts = OfferCounts {
        codes: codes.max(0) as u64,
        assigned: assigned.max(0) as u64,
        redeemed: redeemed.max(0) as u64,
        available: offer.pattern.is_none().then_some(available.max(0) as u64),
    };
    Ok((offer, counts))
}

fn load_offer(conn: &Connection, name: &str) -> Result<Option<(Offer, OfferCounts)>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {OFFER_COLUMNS} FROM offers WHERE name = ?1"
    ))
    .map_err(sql)?
    .query_row([name], offer_row)
    .optional()
    .map_err(sql)?
    .map(offer_from)
    .transpose()
}

pub fn offer(conn: &Connection, name: &str) -> Result<Option<(Offer, OfferCounts)>, StoreError> {
    load_offer(conn, name)
}

pub fn offers(conn: &Connection) -> Result<Vec<(Offer, OfferCounts)>, StoreError> {
    let rows: Vec<_> = conn
        .prepare_cached(&format!("SELECT {OFFER_COLUMNS} FROM offers ORDER BY name"))
        .map_err(sql)?
        .query_map([], offer_row)
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    rows.into_iter().map(offer_from).collect()
}

pub fn coupons(conn: &Connection, profile: ProfileId) -> Result<Vec<Coupon>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COUPON_COLUMNS} FROM coupon_codes WHERE profile_id = ?1 ORDER BY offer"
    ))
    .map_err(sql)?
    .query_map([profile.0 as i64], coupon_row)
    .map_err(sql)?
    .collect::<Result<_, _>>()
    .map_err(sql)
}
