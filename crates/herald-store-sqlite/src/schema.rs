//! The SQLite schema and its versions.
//!
//! Event times are integer milliseconds since the Unix epoch. Profile ids come from
//! `AUTOINCREMENT` so that an erased person's id is never given to someone else.

use rusqlite::Connection;

/// The schema version this build writes. Stores with a higher `user_version` are refused.
pub const VERSION: i64 = 7;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters(name, value) VALUES ('events', 0), ('profiles', 0), ('dropped_erased', 0);

CREATE TABLE sources (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    key_digest BLOB UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE profiles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT,
    traits      TEXT NOT NULL DEFAULT '{}',
    event_count INTEGER NOT NULL DEFAULT 0,
    first_seen  INTEGER,
    last_seen   INTEGER
);

CREATE TABLE identities (
    kind       INTEGER NOT NULL,
    value      TEXT NOT NULL,
    profile_id INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX identities_profile ON identities(profile_id);

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL,
    message_id  TEXT NOT NULL,
    profile_id  INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    name        TEXT,
    body        TEXT NOT NULL
);
CREATE UNIQUE INDEX events_message ON events(source_id, message_id);
CREATE INDEX events_profile ON events(profile_id, ts);

CREATE TABLE groups (
    group_id   TEXT PRIMARY KEY,
    traits     TEXT NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE group_members (
    group_id   TEXT NOT NULL,
    profile_id INTEGER NOT NULL,
    PRIMARY KEY (group_id, profile_id)
) WITHOUT ROWID;
CREATE INDEX group_members_profile ON group_members(profile_id);

-- Which profile absorbed which, so engines holding per-profile state can follow.
CREATE TABLE profile_merges (
    absorbed INTEGER PRIMARY KEY,
    into_id  INTEGER NOT NULL,
    at       INTEGER NOT NULL
);

-- Keyed digests of erased people's ids: messages naming them are dropped.
CREATE TABLE erased_ids (
    digest BLOB PRIMARY KEY
) WITHOUT ROWID;
"#;

/// Segments: definitions, the engine's per-profile state and cursor, memberships, and the log of
/// merges and erasures the engine follows.
const V2: &str = r#"
CREATE TABLE segments (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE segment_members (
    segment    TEXT NOT NULL,
    profile_id INTEGER NOT NULL,
    since      INTEGER NOT NULL,
    PRIMARY KEY (segment, profile_id)
) WITHOUT ROWID;
CREATE INDEX segment_members_profile ON segment_members(profile_id);

CREATE TABLE segment_state (
    profile_id INTEGER PRIMARY KEY,
    state      BLOB NOT NULL,
    due        INTEGER
);
CREATE INDEX segment_state_due ON segment_state(due) WHERE due IS NOT NULL;

CREATE TABLE profile_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    after_event INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    profile_id  INTEGER NOT NULL,
    into_id     INTEGER
);

INSERT INTO counters(name, value) VALUES ('segment_events_cursor', 0), ('segment_log_cursor', 0);
"#;

/// The fingerprint of the segment program that the stored per-profile states belong to: states
/// of another program are recomputed from history instead of being misread.
const V3: &str = r#"
INSERT INTO counters(name, value) VALUES ('segment_program', 0);
"#;

/// Journeys: versioned definitions, the runner's per-profile state and cursor, the running
/// instances (for reports), the outbox of messages and the log of what the runner did.
///
/// Per-step action counts are kept in `journey_counts`, updated with each action, so reports
/// read a few rows instead of grouping the whole action log; a step-less action is counted under
/// step -1 because a primary key cannot tell NULLs apart. The global rules live in `meta` under
/// `journey_rules`.
const V4: &str = r#"
CREATE TABLE journeys (
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT NOT NULL,
    live       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

CREATE TABLE journey_state (
    profile_id INTEGER PRIMARY KEY,
    state      BLOB NOT NULL,
    due        INTEGER
);
CREATE INDEX journey_state_due ON journey_state(due) WHERE due IS NOT NULL;

CREATE TABLE journey_instances (
    id         TEXT PRIMARY KEY,
    profile_id INTEGER NOT NULL,
    journey    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    step       INTEGER NOT NULL,
    key        TEXT,
    entered_at INTEGER NOT NULL,
    wake       INTEGER
) WITHOUT ROWID;
CREATE INDEX journey_instances_profile ON journey_instances(profile_id);
CREATE INDEX journey_instances_step ON journey_instances(journey, version, step);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    profile_id INTEGER NOT NULL,
    journey    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    instance   TEXT NOT NULL,
    step       INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    template   TEXT NOT NULL,
    class      TEXT NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    context    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_profile ON outbox(profile_id, created_at);

CREATE TABLE journey_actions (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    journey    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    instance   TEXT NOT NULL,
    profile_id INTEGER NOT NULL,
    step       INTEGER,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX journey_actions_profile ON journey_actions(profile_id);

CREATE TABLE journey_counts (
    journey TEXT NOT NULL,
    version INTEGER NOT NULL,
    step    INTEGER NOT NULL,
    action  TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (journey, version, step, action)
) WITHOUT ROWID;

INSERT INTO counters(name, value) VALUES ('journey_events_cursor', 0), ('journey_log_cursor', 0);
"#;

/// Messages: versioned templates (one per name and channel), and the key that signs tracking and
/// unsubscribe links (SQLite's `randomblob` draws from its generator seeded by the OS).
const V5: &str = r#"
CREATE TABLE templates (
    name       TEXT NOT NULL,
    channel    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT NOT NULL,
    live       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, channel, version)
) WITHOUT ROWID;

INSERT OR IGNORE INTO meta (key, value) VALUES ('link_key', randomblob(32));
"#;

/// Delivery: the send queue over the outbox (one row per queued message; `due` is the next
/// attempt, or the end of a claim's lease), recorded consent per person, channel and topic (the
/// empty topic is the whole channel), and the suppression list of addresses. Messages queued
/// before this version join the queue as they are.
const V6: &str = r#"
CREATE TABLE deliveries (
    message_id  TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    due         INTEGER,
    address     TEXT,
    provider_id TEXT,
    error       TEXT,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries(channel, due) WHERE state = 'pending';
CREATE INDEX deliveries_state ON deliveries(state) WHERE state != 'delivered';
CREATE INDEX deliveries_provider ON deliveries(channel, provider_id) WHERE provider_id IS NOT NULL;
INSERT INTO deliveries (message_id, channel, state, attempts, due, updated_at)
    SELECT id, channel, 'pending', 0, created_at, created_at FROM outbox WHERE status = 'queued';

CREATE TABLE consent (
    profile_id INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    topic      TEXT NOT NULL,
    subscribed INTEGER NOT NULL,
    source     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (profile_id, channel, topic)
) WITHOUT ROWID;

CREATE TABLE suppressions (
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    reason  TEXT NOT NULL,
    detail  TEXT,
    at      INTEGER NOT NULL,
    PRIMARY KEY (channel, address)
) WITHOUT ROWID;
"#;

/// Catalog and offers: items (their JSON form, with the category pulled out to list by), offer
/// definitions with their pools' counts (kept up to date by every change, so that reports never
/// count codes), and the codes of each pool.
///
/// A code's `assigned_at` is set once and never cleared: erasure clears `profile_id` only, so
/// an erased person's code is never handed out again. Free codes are exactly the entries of the
/// partial index `coupon_codes_free`, whose order within an offer is the rowid, i.e. the order
/// codes were added: the next code to assign is its first entry, found by a seek. Codes compare
/// without regard to case (`NOCASE`), as shops' checkouts do.
const V7: &str = r#"
CREATE TABLE catalog_items (
    product_id TEXT PRIMARY KEY,
    category   TEXT,
    item       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX catalog_items_category ON catalog_items(category, product_id);

CREATE TABLE offers (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    codes      INTEGER NOT NULL DEFAULT 0,
    assigned   INTEGER NOT NULL DEFAULT 0,
    redeemed   INTEGER NOT NULL DEFAULT 0,
    available  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE coupon_codes (
    offer       TEXT NOT NULL,
    code        TEXT NOT NULL COLLATE NOCASE,
    profile_id  INTEGER,
    assigned_at INTEGER,
    expires_at  INTEGER,
    redeemed_at INTEGER,
    PRIMARY KEY (offer, code)
);
CREATE UNIQUE INDEX coupon_codes_holder ON coupon_codes(profile_id, offer)
    WHERE profile_id IS NOT NULL;
CREATE INDEX coupon_codes_code ON coupon_codes(code);
CREATE INDEX coupon_codes_free ON coupon_codes(offer)
    WHERE assigned_at IS NULL AND redeemed_at IS NULL;
"#;

/// The migrations, in order: entry `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: [&str; 7] = [V1, V2, V3, V4, V5, V6, V7];

/// Creates the schema in an empty database.
pub fn create(conn: &Connection) -> rusqlite::Result<()> {
    migrate(conn, 0)
}

/// Brings a database at version `from` to [`VERSION`].
pub fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    for (i, step) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        conn.execute_batch(step)?;
        conn.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    Ok(())
}

/// The schema version of an existing database.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies the settings every connection needs: WAL for concurrent readers, and a full sync on
/// each commit so that an acknowledged event survives power loss.
pub fn configure(conn: &Connection, writer: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "cache_size", -131_072)?; // 128 MiB
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // The checkpoint thread copies the WAL back (see `checkpoint`), not the commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    } else {
        conn.pragma_update(None, "cache_size", -32_768)?;
        conn.pragma_update(None, "query_only", true)?;
    }
    Ok(())
}
