//! Applying commands inside the writer's transaction: appending events, resolving and merging
//! profiles, erasing people.
//!
//! Per-profile counters (event count, first and last seen, traits) change with nearly every event;
//! they are gathered in [`Deltas`] and written once per profile per transaction.

use crate::sql;
use herald_core::credentials::erased_id_digest;
use herald_core::identity::{self, Found, Lookup, Target};
use herald_core::time::to_millis;
use herald_core::{Identity, IdentityKind, Message, MessageKind, ProfileId, SourceId, traits};
use herald_store::{AppendReport, Erasure, ProfileChange, StoreError};
use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;

/// How many id → profile mappings the writer keeps in memory per id kind.
const IDENTITY_CACHE: usize = 262_144;

/// What the writer remembers between transactions.
pub struct WriterState {
    users: LruCache<Box<str>, ProfileId>,
    anonymous: LruCache<Box<str>, ProfileId>,
    erased: HashSet<[u8; 32]>,
    erasure_salt: Vec<u8>,
    /// Counter changes of the open transaction.
    pending_events: i64,
    pending_profiles: i64,
    pending_dropped: i64,
}

impl WriterState {
    pub fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let erasure_salt: Vec<u8> = conn.query_row(
            "SELECT value FROM meta WHERE key = 'erasure_salt'",
            [],
            |r| r.get(0),
        )?;
        let mut state = WriterState {
            users: LruCache::new(NonZeroUsize::new(IDENTITY_CACHE).expect("non-zero")),
            anonymous: LruCache::new(NonZeroUsize::new(IDENTITY_CACHE).expect("non-zero")),
            erased: HashSet::new(),
            erasure_salt,
            pending_events: 0,
            pending_profiles: 0,
            pending_dropped: 0,
        };
        state.reload(conn)?;
        Ok(state)
    }

    /// Forgets cached state after a rollback and reads what is durable again.
    pub fn reload(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.users.clear();
        self.anonymous.clear();
        self.pending_events = 0;
        self.pending_profiles = 0;
        self.pending_dropped = 0;
        let mut stmt = conn.prepare("SELECT digest FROM erased_ids")?;
        self.erased = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))?
            .filter_map(|d| d.ok().and_then(|d| <[u8; 32]>::try_from(d).ok()))
            .collect();
        Ok(())
    }

    /// Called after a successful commit.
    pub fn committed(&mut self) {
        self.pending_events = 0;
        self.pending_profiles = 0;
        self.pending_dropped = 0;
    }

    fn cache(&mut self, kind: IdentityKind) -> &mut LruCache<Box<str>, ProfileId> {
        match kind {
            IdentityKind::User => &mut self.users,
            IdentityKind::Anonymous => &mut self.anonymous,
        }
    }

    fn is_erased(&self, kind: IdentityKind, value: &str) -> bool {
        !self.erased.is_empty()
            && self
                .erased
                .contains(&erased_id_digest(&self.erasure_salt, kind.code(), value))
    }
}

/// Pending per-profile changes of the open transaction.
#[derive(Default)]
pub struct Deltas(HashMap<ProfileId, Delta>);

impl Deltas {
    /// The profile's traits as the open transaction has them, for changes that must go through
    /// the pending ones: writing the row directly would be overwritten when they are flushed.
    pub fn traits_of(
        &mut self,
        tx: &Transaction<'_>,
        profile: ProfileId,
    ) -> Result<&mut Map<String, Value>, StoreError> {
        let delta = self.0.entry(profile).or_default();
        if delta.traits.is_none() {
            delta.traits = Some(load_traits(tx, profile)?);
        }
        Ok(delta.traits.as_mut().expect("just loaded"))
    }
}

#[derive(Default)]
struct Delta {
    events: i64,
    first: Option<i64>,
    last: Option<i64>,
    /// Present once an identify changed the traits (loaded from the row first).
    traits: Option<Map<String, Value>>,
}

fn find(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    kind: IdentityKind,
    value: &str,
) -> Result<Option<ProfileId>, StoreError> {
    if let Some(p) = state.cache(kind).get(value) {
        return Ok(Some(*p));
    }
    let found: Option<i64> = tx
        .prepare_cached("SELECT profile_id FROM identities WHERE kind = ?1 AND value = ?2")
        .map_err(sql)?
        .query_row(params![kind.code(), value], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    let found = found.map(|p| ProfileId(p as u64));
    if let Some(p) = found {
        state.cache(kind).put(value.into(), p);
    }
    Ok(found)
}

fn is_known(tx: &Transaction<'_>, profile: ProfileId) -> Result<bool, StoreError> {
    tx.prepare_cached("SELECT user_id IS NOT NULL FROM profiles WHERE id = ?1")
        .map_err(sql)?
        .query_row([profile.0 as i64], |r| r.get(0))
        .optional()
        .map(|k| k.unwrap_or(false))
        .map_err(sql)
}

fn lookup(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    m: &Message,
) -> Result<Lookup, StoreError> {
    let user = match &m.user_id {
        Some(u) => find(tx, state, IdentityKind::User, u.as_str())?.map(|profile| Found {
            profile,
            known: true,
        }),
        None => None,
    };
    let anonymous = match &m.anonymous_id {
        Some(a) => match find(tx, state, IdentityKind::Anonymous, a.as_str())? {
            // Knownness matters only when the message names a user that may not own this device.
            Some(p) if m.user_id.is_some() && user.map(|u| u.profile) != Some(p) => Some(Found {
                profile: p,
                known: is_known(tx, p)?,
            }),
            Some(p) => Some(Found {
                profile: p,
                known: user.is_some(),
            }),
            None => None,
        },
        None => None,
    };
    let previous = match &m.previous_id {
        Some(prev) => match find(tx, state, IdentityKind::User, prev)? {
            Some(p) => Some(Found {
                profile: p,
                known: true,
            }),
            None => find(tx, state, IdentityKind::Anonymous, prev)?.map(|p| Found {
                profile: p,
                known: false,
            }),
        },
        None => None,
    };
    Ok(Lookup {
        user,
        anonymous,
        previous,
    })
}

fn is_erased(state: &WriterState, m: &Message) -> bool {
    m.user_id
        .as_ref()
        .is_some_and(|u| state.is_erased(IdentityKind::User, u.as_str()))
        || m.anonymous_id
            .as_ref()
            .is_some_and(|a| state.is_erased(IdentityKind::Anonymous, a.as_str()))
        || m.previous_id.as_ref().is_some_and(|p| {
            state.is_erased(IdentityKind::User, p) || state.is_erased(IdentityKind::Anonymous, p)
        })
}

/// The traits an identify records consent with (see `herald_core::consent`).
const CONSENT_TRAITS: [&str; 2] = ["unsubscribed", "subscriptions"];

/// Appends messages in order, resolving each to its profile.
pub fn append(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
    source: SourceId,
    messages: &[Message],
) -> Result<AppendReport, StoreError> {
    let mut report = AppendReport::default();
    for m in messages {
        if is_erased(state, m) {
            report.dropped_erased += 1;
            state.pending_dropped += 1;
            continue;
        }
        let found = lookup(tx, state, m)?;
        let plan = identity::plan(m, found);
        // A plan that changes profiles must not run for a duplicate, so it checks first; the
        // common plan (a known profile, nothing to attach) lets the insert itself find duplicates
        // and saves a probe of the message index per event.
        let changes_profiles =
            matches!(plan.target, Target::New) || plan.absorb.is_some() || !plan.attach.is_empty();
        if changes_profiles && is_duplicate(tx, source, m)? {
            report.duplicates += 1;
            continue;
        }
        let target = match plan.target {
            Target::Existing(p) => p,
            Target::New => create_profile(tx, state)?,
        };
        if let Some(absorbed) = plan.absorb {
            merge(tx, state, deltas, target, absorbed, to_millis(m.timestamp))?;
        }
        for identity in &plan.attach {
            attach(tx, state, target, identity)?;
        }
        let ts = to_millis(m.timestamp);
        let inserted = tx
            .prepare_cached(
                "INSERT INTO events (source_id, message_id, profile_id, ts, received_at, kind, name, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (source_id, message_id) DO NOTHING",
            )
            .map_err(sql)?
            .execute(params![
                source.0,
                m.message_id.as_str(),
                target.0 as i64,
                ts,
                to_millis(m.received_at),
                m.kind.code(),
                m.name.as_deref(),
                &*m.body,
            ])
            .map_err(sql)?;
        if inserted == 0 {
            report.duplicates += 1;
            continue;
        }
        state.pending_events += 1;
        if m.kind == MessageKind::Track {
            crate::catalog::redeem(tx, m, ts)?;
        }

        let delta = deltas.0.entry(target).or_default();
        delta.events += 1;
        delta.first = Some(delta.first.map_or(ts, |f| f.min(ts)));
        delta.last = Some(delta.last.map_or(ts, |l| l.max(ts)));
        match (m.kind, &m.traits) {
            (MessageKind::Identify, Some(incoming)) => {
                let current = deltas.traits_of(tx, target)?;
                let about_consent = CONSENT_TRAITS.iter().any(|k| incoming.contains_key(*k));
                let before: Map<String, Value> = if about_consent {
                    CONSENT_TRAITS
                        .iter()
                        .filter_map(|k| Some(((*k).to_owned(), current.get(*k)?.clone())))
                        .collect()
                } else {
                    Map::new()
                };
                traits::apply_identify(current, incoming);
                if about_consent {
                    for (key, subscribed) in herald_core::consent::changed(&before, current) {
                        let consent = herald_core::consent::Consent {
                            channel: key.channel,
                            topic: key.topic,
                            subscribed,
                            source: "identify".to_owned(),
                            at: m.timestamp,
                        };
                        crate::messages::record_consent(
                            tx,
                            &herald_store::ConsentChange {
                                profile: target,
                                consent,
                            },
                        )?;
                    }
                }
            }
            (MessageKind::Group, _) => join_group(tx, target, m, ts)?,
            _ => {}
        }
        report.stored += 1;
    }
    Ok(report)
}

fn is_duplicate(tx: &Transaction<'_>, source: SourceId, m: &Message) -> Result<bool, StoreError> {
    tx.prepare_cached("SELECT 1 FROM events WHERE source_id = ?1 AND message_id = ?2")
        .map_err(sql)?
        .exists(params![source.0, m.message_id.as_str()])
        .map_err(sql)
}

fn create_profile(tx: &Transaction<'_>, state: &mut WriterState) -> Result<ProfileId, StoreError> {
    tx.prepare_cached("INSERT INTO profiles (traits) VALUES ('{}')")
        .map_err(sql)?
        .execute([])
        .map_err(sql)?;
    state.pending_profiles += 1;
    Ok(ProfileId(tx.last_insert_rowid() as u64))
}

fn attach(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    profile: ProfileId,
    identity: &Identity,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO identities (kind, value, profile_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, value) DO UPDATE SET profile_id = excluded.profile_id",
    )
    .map_err(sql)?
    .execute(params![
        identity.kind.code(),
        identity.value,
        profile.0 as i64
    ])
    .map_err(sql)?;
    if identity.kind == IdentityKind::User {
        // The latest userId given is the one the profile is known by.
        tx.prepare_cached("UPDATE profiles SET user_id = ?1 WHERE id = ?2")
            .map_err(sql)?
            .execute(params![identity.value, profile.0 as i64])
            .map_err(sql)?;
    }
    state
        .cache(identity.kind)
        .put(identity.value.as_str().into(), profile);
    Ok(())
}

fn load_traits(tx: &Transaction<'_>, profile: ProfileId) -> Result<Map<String, Value>, StoreError> {
    let text: String = tx
        .prepare_cached("SELECT traits FROM profiles WHERE id = ?1")
        .map_err(sql)?
        .query_row([profile.0 as i64], |r| r.get(0))
        .map_err(sql)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("traits of profile {profile}: {e}")))
}

fn join_group(
    tx: &Transaction<'_>,
    profile: ProfileId,
    m: &Message,
    ts: i64,
) -> Result<(), StoreError> {
    let group_id = m
        .group_id
        .as_deref()
        .expect("validated group calls have a groupId");
    let current: Option<String> = tx
        .prepare_cached("SELECT traits FROM groups WHERE group_id = ?1")
        .map_err(sql)?
        .query_row([group_id], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    let mut group_traits: Map<String, Value> = match current {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("traits of group {group_id}: {e}")))?,
        None => Map::new(),
    };
    if let Some(incoming) = &m.traits {
        traits::apply_identify(&mut group_traits, incoming);
    }
    let text = serde_json::to_string(&group_traits).expect("a JSON map serialises");
    tx.prepare_cached(
        "INSERT INTO groups (group_id, traits, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (group_id) DO UPDATE SET traits = excluded.traits, updated_at = excluded.updated_at",
    )
    .map_err(sql)?
    .execute(params![group_id, text, ts])
    .map_err(sql)?;
    tx.prepare_cached("INSERT OR IGNORE INTO group_members (group_id, profile_id) VALUES (?1, ?2)")
        .map_err(sql)?
        .execute(params![group_id, profile.0 as i64])
        .map_err(sql)?;
    Ok(())
}

/// Writes the pending per-profile changes.
fn flush(tx: &Transaction<'_>, deltas: &mut Deltas) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "UPDATE profiles SET
                event_count = event_count + ?1,
                first_seen = CASE WHEN ?2 IS NULL THEN first_seen
                                  ELSE min(coalesce(first_seen, ?2), ?2) END,
                last_seen = CASE WHEN ?3 IS NULL THEN last_seen
                                 ELSE max(coalesce(last_seen, ?3), ?3) END,
                traits = coalesce(?4, traits)
             WHERE id = ?5",
        )
        .map_err(sql)?;
    for (profile, d) in deltas.0.drain() {
        let traits = d
            .traits
            .map(|t| serde_json::to_string(&t).expect("a JSON map serialises"));
        stmt.execute(params![d.events, d.first, d.last, traits, profile.0 as i64])
            .map_err(sql)?;
    }
    Ok(())
}

fn identities_of(tx: &Transaction<'_>, profile: ProfileId) -> Result<Vec<Identity>, StoreError> {
    let mut stmt = tx
        .prepare_cached("SELECT kind, value FROM identities WHERE profile_id = ?1")
        .map_err(sql)?;
    let rows = stmt
        .query_map([profile.0 as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, value) = row.map_err(sql)?;
        let kind = IdentityKind::from_code(kind)
            .ok_or_else(|| StoreError::Corrupt(format!("identity kind {kind}")))?;
        out.push(Identity { kind, value });
    }
    Ok(out)
}

/// Joins `absorbed` into `into`: ids, events, groups, counters and traits move; the absorbed
/// profile disappears and the merge is recorded.
fn merge(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
    into: ProfileId,
    absorbed: ProfileId,
    at: i64,
) -> Result<(), StoreError> {
    flush(tx, deltas)?;
    for identity in identities_of(tx, absorbed)? {
        state.cache(identity.kind).put(identity.value.into(), into);
    }
    let (a, b) = (into.0 as i64, absorbed.0 as i64);
    let row: (Option<String>, String, i64, Option<i64>, Option<i64>) = tx
        .query_row(
            "SELECT user_id, traits, event_count, first_seen, last_seen FROM profiles WHERE id = ?1",
            [b],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .map_err(sql)?;
    let (absorbed_user, absorbed_traits, count, first, last) = row;
    let absorbed_traits: Map<String, Value> = serde_json::from_str(&absorbed_traits)
        .map_err(|e| StoreError::Corrupt(format!("traits of profile {absorbed}: {e}")))?;
    let mut merged = load_traits(tx, into)?;
    traits::fill_gaps(&mut merged, absorbed_traits);
    let merged = serde_json::to_string(&merged).expect("a JSON map serialises");

    tx.execute(
        "UPDATE identities SET profile_id = ?1 WHERE profile_id = ?2",
        [a, b],
    )
    .map_err(sql)?;
    tx.execute(
        "UPDATE events SET profile_id = ?1 WHERE profile_id = ?2",
        [a, b],
    )
    .map_err(sql)?;
    tx.execute(
        "INSERT OR IGNORE INTO group_members (group_id, profile_id) SELECT group_id, ?1 FROM group_members WHERE profile_id = ?2",
        [a, b],
    )
    .map_err(sql)?;
    tx.execute("DELETE FROM group_members WHERE profile_id = ?1", [b])
        .map_err(sql)?;
    crate::messages::merge_consent(tx, a, b)?;
    crate::catalog::merge_coupons(tx, a, b)?;
    tx.execute(
        "UPDATE profiles SET
            user_id = coalesce(user_id, ?2),
            traits = ?3,
            event_count = event_count + ?4,
            first_seen = CASE WHEN ?5 IS NULL THEN first_seen ELSE min(coalesce(first_seen, ?5), ?5) END,
            last_seen = CASE WHEN ?6 IS NULL THEN last_seen ELSE max(coalesce(last_seen, ?6), ?6) END
         WHERE id = ?1",
        params![a, absorbed_user, merged, count, first, last],
    )
    .map_err(sql)?;
    tx.execute("DELETE FROM profiles WHERE id = ?1", [b])
        .map_err(sql)?;
    tx.execute(
        "UPDATE profile_merges SET into_id = ?1 WHERE into_id = ?2",
        [a, b],
    )
    .map_err(sql)?;
    tx.execute(
        "INSERT OR REPLACE INTO profile_merges (absorbed, into_id, at) VALUES (?1, ?2, ?3)",
        params![b, a, at],
    )
    .map_err(sql)?;
    crate::segments::log_profile_change(
        tx,
        ProfileChange::Merged {
            absorbed: ProfileId(b as u64),
            into: ProfileId(a as u64),
        },
    )?;
    state.pending_profiles -= 1;
    Ok(())
}

/// Resolves a `userId` or `anonymousId` to its profile, user ids first.
pub fn resolve(conn: &Connection, id: &str) -> Result<Option<ProfileId>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT profile_id FROM identities WHERE kind = ?1 AND value = ?2")
        .map_err(sql)?;
    for kind in [IdentityKind::User, IdentityKind::Anonymous] {
        if let Some(p) = stmt
            .query_row(params![kind.code(), id], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(sql)?
        {
            return Ok(Some(ProfileId(p as u64)));
        }
    }
    Ok(None)
}

/// Removes a person everywhere and remembers their ids to drop later messages.
pub fn erase(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
    id: &str,
) -> Result<Option<Erasure>, StoreError> {
    let Some(profile) = resolve(tx, id)? else {
        return Ok(None);
    };
    flush(tx, deltas)?;
    let ids = identities_of(tx, profile)?;
    for identity in &ids {
        let digest = erased_id_digest(&state.erasure_salt, identity.kind.code(), &identity.value);
        tx.execute(
            "INSERT OR IGNORE INTO erased_ids (digest) VALUES (?1)",
            [&digest[..]],
        )
        .map_err(sql)?;
        state.erased.insert(digest);
        state.cache(identity.kind).pop(identity.value.as_str());
    }
    let p = profile.0 as i64;
    // Herald's own events (segment memberships, journey trait updates) are not counted as
    // ingested, so they are not uncounted.
    let own: i64 = tx
        .query_row(
            "SELECT count(*) FROM events WHERE profile_id = ?1
             AND source_id IN (SELECT id FROM sources WHERE name IN (?2, ?3))",
            params![
                p,
                crate::segments::SEGMENTS_SOURCE,
                crate::journeys::JOURNEYS_SOURCE
            ],
            |r| r.get(0),
        )
        .map_err(sql)?;
    let events = tx
        .execute("DELETE FROM events WHERE profile_id = ?1", [p])
        .map_err(sql)? as u64
        - own as u64;
    crate::segments::log_profile_change(tx, ProfileChange::Erased { profile })?;
    // Before `profile_merges` loses the people this one absorbed.
    crate::journeys::forget(tx, profile)?;
    crate::catalog::forget(tx, p)?;
    tx.execute("DELETE FROM identities WHERE profile_id = ?1", [p])
        .map_err(sql)?;
    tx.execute("DELETE FROM group_members WHERE profile_id = ?1", [p])
        .map_err(sql)?;
    tx.execute("DELETE FROM profile_merges WHERE into_id = ?1", [p])
        .map_err(sql)?;
    tx.execute("DELETE FROM profiles WHERE id = ?1", [p])
        .map_err(sql)?;
    state.pending_events -= events as i64;
    state.pending_profiles -= 1;
    Ok(Some(Erasure {
        profile_id: profile,
        events_deleted: events,
        ids_suppressed: ids.len() as u64,
    }))
}

pub fn named_source(
    tx: &Transaction<'_>,
    _state: &mut WriterState,
    name: &str,
) -> Result<SourceId, StoreError> {
    let existing: Option<i64> = tx
        .query_row("SELECT id FROM sources WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?;
    if let Some(id) = existing {
        return Ok(SourceId(id as u32));
    }
    tx.execute(
        "INSERT INTO sources (name, key_digest, created_at) VALUES (?1, NULL, ?2)",
        params![name, to_millis(herald_core::Timestamp::now())],
    )
    .map_err(sql)?;
    Ok(SourceId(tx.last_insert_rowid() as u32))
}

/// Writes pending profile changes and counters before the commit.
pub fn finish(
    tx: &Transaction<'_>,
    state: &mut WriterState,
    deltas: &mut Deltas,
) -> Result<(), StoreError> {
    flush(tx, deltas)?;
    let mut stmt = tx
        .prepare_cached("UPDATE counters SET value = value + ?1 WHERE name = ?2")
        .map_err(sql)?;
    for (name, delta) in [
        ("events", state.pending_events),
        ("profiles", state.pending_profiles),
        ("dropped_erased", state.pending_dropped),
    ] {
        if delta != 0 {
            stmt.execute(params![delta, name]).map_err(sql)?;
        }
    }
    Ok(())
}
