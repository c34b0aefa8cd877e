//! The embedded store: one SQLite database in WAL mode under the data directory.
//!
//! Writes go through a single writer thread that group-commits ([`writer`]); reads use a small
//! pool of read-only connections on blocking threads. The data directory is locked by the process
//! that opens it for writing, so a second `herald serve` or a write verb beside a running server
//! fails at once with a clear message instead of fighting over the database.

mod apply;
mod catalog;
mod checkpoint;
mod journeys;
mod messages;
mod read;
mod schema;
mod segments;
mod templates;
mod writer;

use async_trait::async_trait;
use herald_catalog::{Coupon, Item, Offer, OfferCounts};
use herald_core::credentials::{
    hash_admin_token, token_fingerprint, verify_admin_token, write_key_digest,
};
use herald_core::time::to_millis;
use herald_core::{Message, ProfileId, SourceId, StoredEvent, Timestamp};
use herald_store::{
    AppendReport, BodyFilter, CatalogCommit, Erasure, IMPORT_SOURCE, JourneyCommit, JourneyCursor,
    JourneyRecord, Member, NewStore, OutboxMessage, Profile, ProfileExport, ProfileLogEntry,
    SegmentCommit, SegmentCursor, SegmentRecord, Stats, StepCount, Store, StoreError,
    TemplateRecord, Waiting,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

const DB_FILE: &str = "herald.db";
const LOCK_FILE: &str = "herald.lock";
/// Commands waiting for the writer; senders wait beyond this, which is the backpressure.
const QUEUE_DEPTH: usize = 1024;

pub(crate) fn sql(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Whether a store is opened to change it or only to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Takes the directory lock; fails if another process holds it.
    ReadWrite,
    /// Reads beside a running writer (another process's or none).
    ReadOnly,
}

/// The embedded SQLite store.
pub struct SqliteStore {
    dir: PathBuf,
    writer: RwLock<Option<mpsc::Sender<writer::Command>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<ReadPool>,
    sources: RwLock<HashMap<[u8; 32], SourceId>>,
    admin_hash: String,
    verified_tokens: Mutex<HashSet<[u8; 32]>>,
    lock: Mutex<Option<File>>,
    access: Access,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.idle.lock().expect("pool lock").pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(sql)?;
                schema::configure(&c, false).map_err(sql)?;
                c
            }
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < 8 {
            idle.push(conn);
        }
        result
    }
}

fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(dir.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io(e)),
    }
}

impl SqliteStore {
    /// Creates a new store in `dir` (created if missing). Refuses a directory that holds one.
    pub fn create(dir: &Path, new: &NewStore) -> Result<(), StoreError> {
        std::fs::create_dir_all(dir)?;
        let lock = lock_dir(dir)?;
        let path = dir.join(DB_FILE);
        if path.exists() {
            return Err(StoreError::AlreadyExists(dir.to_owned()));
        }
        let result = Self::create_db(&path, new);
        if result.is_err() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{DB_FILE}{suffix}")));
            }
        }
        drop(lock);
        result
    }

    fn create_db(path: &Path, new: &NewStore) -> Result<(), StoreError> {
        let mut conn = Connection::open(path).map_err(sql)?;
        schema::configure(&conn, true).map_err(sql)?;
        let tx = conn.transaction().map_err(sql)?;
        schema::create(&tx).map_err(sql)?;
        let now = to_millis(Timestamp::now());
        let admin_hash = hash_admin_token(new.admin_token.expose(), &rand::random::<[u8; 16]>())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let salt: [u8; 32] = rand::random();
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('admin_token_hash', ?1)",
            [admin_hash],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('erasure_salt', ?1)",
            [&salt[..]],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('created_at', ?1)",
            [now],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO sources (name, key_digest, created_at) VALUES ('default', ?1, ?2)",
            params![&write_key_digest(new.write_key.expose())[..], now],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO sources (name, key_digest, created_at) VALUES (?1, NULL, ?2)",
            params![IMPORT_SOURCE, now],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        conn.close().map_err(|(_, e)| sql(e))?;
        Ok(())
    }

    /// Opens an existing store.
    pub fn open(dir: &Path, access: Access) -> Result<Self, StoreError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(StoreError::NotFound(dir.to_owned()));
        }
        let lock = match access {
            Access::ReadWrite => Some(lock_dir(dir)?),
            Access::ReadOnly => None,
        };
        let flags = match access {
            Access::ReadWrite => {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
            }
            Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        };
        let conn = Connection::open_with_flags(&path, flags).map_err(sql)?;
        schema::configure(&conn, access == Access::ReadWrite).map_err(sql)?;
        let found = schema::version(&conn).map_err(sql)?;
        if found > schema::VERSION {
            return Err(StoreError::SchemaTooNew {
                path: dir.to_owned(),
                found,
                known: schema::VERSION,
            });
        }
        let mut conn = conn;
        if found < schema::VERSION {
            if access == Access::ReadOnly {
                return Err(StoreError::Backend(format!(
                    "the store at {} has schema version {found} and this Herald needs {}: open it \
                     once for writing (e.g. `herald serve`) to upgrade it",
                    dir.display(),
                    schema::VERSION
                )));
            }
            let tx = conn.transaction().map_err(sql)?;
            schema::migrate(&tx, found).map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        let admin_hash: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'admin_token_hash'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?
            .ok_or_else(|| StoreError::Corrupt("the admin token hash is missing".into()))?;
        let mut sources = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT id, key_digest FROM sources WHERE key_digest IS NOT NULL")
                .map_err(sql)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
                .map_err(sql)?;
            for row in rows {
                let (id, digest) = row.map_err(sql)?;
                let digest: [u8; 32] = digest.try_into().map_err(|_| {
                    StoreError::Corrupt("a write key digest has the wrong length".into())
                })?;
                sources.insert(digest, SourceId(id as u32));
            }
        }
        let readers = Arc::new(ReadPool {
            path: path.clone(),
            idle: Mutex::new(Vec::new()),
        });
        let (sender, thread) = match access {
            Access::ReadWrite => {
                let state = apply::WriterState::load(&conn).map_err(sql)?;
                let checkpointer = checkpoint::Checkpointer::start(&path)?;
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                let thread = std::thread::Builder::new()
                    .name("herald-writer".into())
                    .spawn(move || writer::run(conn, rx, state, checkpointer))?;
                (Some(tx), Some(thread))
            }
            Access::ReadOnly => {
                readers.idle.lock().expect("pool lock").push(conn);
                (None, None)
            }
        };
        Ok(SqliteStore {
            dir: dir.to_owned(),
            writer: RwLock::new(sender),
            writer_thread: Mutex::new(thread),
            readers,
            sources: RwLock::new(sources),
            admin_hash,
            verified_tokens: Mutex::new(HashSet::new()),
            lock: Mutex::new(lock),
            access,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> writer::Command,
    ) -> Result<T, StoreError> {
        let sender = self.writer.read().expect("writer lock").clone();
        let Some(sender) = sender else {
            return Err(match self.access {
                Access::ReadWrite => StoreError::Closed,
                Access::ReadOnly => StoreError::ReadOnly,
            });
        };
        let (reply, answer) = oneshot::channel();
        sender
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(
        &self,
        source: SourceId,
        messages: Vec<Message>,
    ) -> Result<AppendReport, StoreError> {
        if messages.is_empty() {
            return Ok(AppendReport::default());
        }
        self.send(|reply| writer::Command::Append {
            source,
            messages,
            reply,
        })
        .await
    }

    async fn source_for_write_key(&self, write_key: &str) -> Result<Option<SourceId>, StoreError> {
        Ok(self
            .sources
            .read()
            .expect("sources lock")
            .get(&write_key_digest(write_key))
            .copied())
    }

    async fn named_source(&self, name: &str) -> Result<SourceId, StoreError> {
        let name = name.to_owned();
        self.send(|reply| writer::Command::NamedSource { name, reply })
            .await
    }

    async fn verify_admin_token(&self, token: &str) -> Result<bool, StoreError> {
        let fingerprint = token_fingerprint(token);
        if self
            .verified_tokens
            .lock()
            .expect("token lock")
            .contains(&fingerprint)
        {
            return Ok(true);
        }
        let (token, hash) = (token.to_owned(), self.admin_hash.clone());
        // Argon2 is deliberately slow: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || verify_admin_token(&token, &hash))
            .await
            .map_err(|e| StoreError::Backend(format!("token check failed: {e}")))?;
        if ok {
            self.verified_tokens
                .lock()
                .expect("token lock")
                .insert(fingerprint);
        }
        Ok(ok)
    }

    async fn profile(&self, id: &str) -> Result<Option<Profile>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| read::profile(c, &id)).await
    }

    async fn profile_events(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| read::profile_events(c, &id, limit))
            .await
    }

    async fn export_profile(&self, id: &str) -> Result<Option<ProfileExport>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| read::export(c, &id)).await
    }

    async fn erase(&self, id: &str) -> Result<Option<Erasure>, StoreError> {
        let id = id.to_owned();
        self.send(|reply| writer::Command::Erase { id, reply })
            .await
    }

    async fn scan_events(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |c| read::scan(c, after, limit)).await
    }

    async fn scan_events_sparse(
        &self,
        after: u64,
        limit: usize,
        wanted: BodyFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |c| read::scan_sparse(c, after, limit, &wanted))
            .await
    }

    async fn stats(&self) -> Result<Stats, StoreError> {
        self.read(read::stats).await
    }

    async fn resolve(&self, id: &str) -> Result<Option<ProfileId>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| segments::resolve(c, &id)).await
    }

    async fn profile_history(
        &self,
        profile: ProfileId,
        upto: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |c| segments::history(c, profile, upto))
            .await
    }

    async fn event_names(&self) -> Result<Vec<String>, StoreError> {
        self.read(segments::event_names).await
    }

    async fn profile_log(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ProfileLogEntry>, StoreError> {
        self.read(move |c| segments::profile_log(c, after, limit))
            .await
    }

    async fn segment_definitions(&self) -> Result<Vec<SegmentRecord>, StoreError> {
        self.read(segments::definitions).await
    }

    async fn segment_cursor(&self) -> Result<SegmentCursor, StoreError> {
        self.read(segments::cursor).await
    }

    async fn segment_states(&self) -> Result<Vec<(ProfileId, Vec<u8>)>, StoreError> {
        self.read(segments::states).await
    }

    async fn commit_segments(&self, commit: SegmentCommit) -> Result<(), StoreError> {
        self.send(|reply| writer::Command::Segments { commit, reply })
            .await
    }

    async fn segment_members(
        &self,
        segment: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError> {
        let (segment, after) = (segment.to_owned(), after.map(str::to_owned));
        self.read(move |c| segments::members(c, &segment, after.as_deref(), limit))
            .await
    }

    async fn display_ids(
        &self,
        profiles: Vec<ProfileId>,
    ) -> Result<Vec<(ProfileId, String)>, StoreError> {
        self.read(move |c| segments::display_ids(c, &profiles))
            .await
    }

    async fn segment_sizes(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(segments::sizes).await
    }

    async fn profile_segments(
        &self,
        profile: ProfileId,
    ) -> Result<Vec<(String, Timestamp)>, StoreError> {
        self.read(move |c| segments::of_profile(c, profile)).await
    }

    async fn journey_definitions(&self) -> Result<Vec<JourneyRecord>, StoreError> {
        self.read(journeys::definitions).await
    }

    async fn journey_rules(&self) -> Result<Option<Value>, StoreError> {
        self.read(journeys::rules).await
    }

    async fn journey_cursor(&self) -> Result<JourneyCursor, StoreError> {
        self.read(journeys::cursor).await
    }

    async fn journey_states(
        &self,
        profiles: Vec<ProfileId>,
    ) -> Result<Vec<(ProfileId, Vec<u8>)>, StoreError> {
        self.read(move |c| journeys::states(c, &profiles)).await
    }

    async fn due_journey_profiles(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<ProfileId>, StoreError> {
        self.read(move |c| journeys::due_profiles(c, now, limit))
            .await
    }

    async fn next_journey_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(journeys::next_due).await
    }

    async fn commit_journeys(&self, commit: JourneyCommit) -> Result<(), StoreError> {
        self.send(|reply| writer::Command::Journeys { commit, reply })
            .await
    }

    async fn journey_step_counts(&self) -> Result<Vec<StepCount>, StoreError> {
        self.read(journeys::step_counts).await
    }

    async fn journey_waiting(&self) -> Result<Vec<Waiting>, StoreError> {
        self.read(journeys::waiting).await
    }

    async fn outbox_message(&self, id: &str) -> Result<Option<OutboxMessage>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| journeys::outbox_message(c, &id)).await
    }

    async fn link_key(&self) -> Result<[u8; 32], StoreError> {
        self.read(templates::link_key).await
    }

    async fn template_records(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        self.read(templates::records).await
    }

    async fn commit_templates(&self, records: Vec<TemplateRecord>) -> Result<(), StoreError> {
        self.send(|reply| writer::Command::Templates { records, reply })
            .await
    }

    async fn claim_deliveries(
        &self,
        channels: Vec<String>,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<herald_store::Claimed>, StoreError> {
        self.send(|reply| writer::Command::Claim {
            channels,
            now,
            lease_until,
            limit,
            reply,
        })
        .await
    }

    async fn next_delivery_due(
        &self,
        channels: Vec<String>,
    ) -> Result<Option<Timestamp>, StoreError> {
        self.read(move |c| messages::next_due(c, &channels)).await
    }

    async fn commit_messages(&self, commit: herald_store::MessageCommit) -> Result<(), StoreError> {
        if commit.is_empty() {
            return Ok(());
        }
        self.send(|reply| writer::Command::Messages { commit, reply })
            .await
    }

    async fn consent(
        &self,
        profile: ProfileId,
    ) -> Result<Vec<herald_core::consent::Consent>, StoreError> {
        self.read(move |c| messages::consent(c, profile)).await
    }

    async fn suppression(
        &self,
        channel: &str,
        address: &str,
    ) -> Result<Option<herald_store::Suppression>, StoreError> {
        let (channel, address) = (channel.to_owned(), address.to_owned());
        self.read(move |c| messages::suppression(c, &channel, &address))
            .await
    }

    async fn suppressions(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<herald_store::Suppression>, StoreError> {
        self.read(move |c| messages::suppressions(c, after, limit))
            .await
    }

    async fn message_for_provider_id(
        &self,
        channel: &str,
        provider_id: &str,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        let (channel, provider_id) = (channel.to_owned(), provider_id.to_owned());
        self.read(move |c| messages::message_for_provider_id(c, &channel, &provider_id))
            .await
    }

    async fn deliveries_in_state(
        &self,
        state: herald_store::DeliveryState,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.read(move |c| messages::in_state(c, state, after, limit))
            .await
    }

    async fn journey_profiles_off_version(
        &self,
        journey: &str,
        version: u32,
    ) -> Result<Vec<ProfileId>, StoreError> {
        let journey = journey.to_owned();
        self.read(move |c| journeys::profiles_off_version(c, &journey, version))
            .await
    }

    async fn outbox(
        &self,
        after: u64,
        limit: usize,
        profile: Option<ProfileId>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.read(move |c| journeys::outbox(c, after, limit, profile))
            .await
    }

    async fn recent_sends(
        &self,
        profile: ProfileId,
        since: Timestamp,
    ) -> Result<Vec<(String, String, Timestamp)>, StoreError> {
        self.read(move |c| journeys::recent_sends(c, profile, since))
            .await
    }

    async fn catalog_items(&self, ids: Vec<String>) -> Result<Vec<Item>, StoreError> {
        self.read(move |c| catalog::items(c, &ids)).await
    }

    async fn catalog_page(
        &self,
        category: Option<String>,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.read(move |c| catalog::page(c, category.as_deref(), after.as_deref(), limit))
            .await
    }

    async fn catalog_count(&self) -> Result<u64, StoreError> {
        self.read(catalog::count).await
    }

    async fn commit_catalog(&self, commit: CatalogCommit) -> Result<AppendReport, StoreError> {
        if commit.is_empty() {
            return Ok(AppendReport::default());
        }
        let answer = self.write_catalog(catalog::Request::Commit(commit)).await?;
        Ok(answer.appended())
    }

    async fn delete_catalog_item(&self, id: String) -> Result<bool, StoreError> {
        let answer = self.write_catalog(catalog::Request::Delete(id)).await?;
        Ok(answer.deleted())
    }

    async fn put_offer(&self, offer: Offer) -> Result<(), StoreError> {
        let answer = self
            .write_catalog(catalog::Request::PutOffer(offer))
            .await?;
        answer.done();
        Ok(())
    }

    async fn offers(&self) -> Result<Vec<(Offer, OfferCounts)>, StoreError> {
        self.read(catalog::offers).await
    }

    async fn offer(&self, name: &str) -> Result<Option<(Offer, OfferCounts)>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| catalog::offer(c, &name)).await
    }

    async fn add_coupon_codes(&self, offer: &str, codes: Vec<String>) -> Result<u64, StoreError> {
        let offer = offer.to_owned();
        let answer = self
            .write_catalog(catalog::Request::AddCodes { offer, codes })
            .await?;
        answer.added()
    }

    async fn assign_coupon(
        &self,
        offer: &str,
        profile: ProfileId,
        now: Timestamp,
        candidates: Vec<String>,
    ) -> Result<Option<Coupon>, StoreError> {
        let offer = offer.to_owned();
        let answer = self
            .write_catalog(catalog::Request::Assign {
                offer,
                profile,
                now,
                candidates,
            })
            .await?;
        answer.assigned()
    }

    async fn coupons(&self, profile: ProfileId) -> Result<Vec<Coupon>, StoreError> {
        self.read(move |c| catalog::coupons(c, profile)).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        // Dropping the last sender ends the writer loop once the queue is drained.
        drop(self.writer.write().expect("writer lock").take());
        let thread = self.writer_thread.lock().expect("thread lock").take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| StoreError::Backend(format!("writer join failed: {e}")))?
                .map_err(|_| StoreError::Backend("the writer thread panicked".into()))?;
        }
        self.readers.idle.lock().expect("pool lock").clear();
        // Only now may another process write here.
        drop(self.lock.lock().expect("lock file lock").take());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_catalog;
#[cfg(test)]
mod tests_coupons;
#[cfg(test)]
mod tests_journeys;
#[cfg(test)]
mod tests_journeys_people;
#[cfg(test)]
mod tests_messages;
#[cfg(test)]
mod tests_segments;
#[cfg(test)]
mod tests_templates;
