//! The live recommender: a model built from the whole log at start-up, then kept up to date as
//! events, merges and erasures arrive.
//!
//! The first build happens off to the side, so the server answers (with popular items) while it
//! runs; the finished model is swapped in whole. After that, new interaction events are observed
//! as they become durable (a wake-up from ingest, or a poll): a person's own history (what they
//! viewed, carted, bought) counts at once. The neighbour lists of the items they touched are
//! recomputed at most once a second, and no more often than four times what the last refresh
//! took, so that a burst of events costs one refresh and a busy shop never spends more than a
//! fifth of a core on it.

use crate::history::{self, Learnt};
use herald_catalog::Item;
use herald_recommend::{Model, Settings};
use herald_store::{ProfileChange, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Events per page once the model is following the log: small, so the write lock is short.
const TAIL_PAGE: usize = 2_000;

/// A recommendation model that follows the event log. Cheap to clone.
#[derive(Clone)]
pub struct Recommender {
    shared: Arc<Shared>,
}

struct Shared {
    settings: Settings,
    model: RwLock<Model>,
    learnt: RwLock<Learnt>,
    /// The catalog, kept in memory: every change goes through this process (the store's
    /// writer), so it never goes stale, and messages describe products without a read.
    catalog: RwLock<HashMap<String, Item>>,
    ready: AtomicBool,
    wake: Notify,
}

/// A model read from the log, with what it learnt about products.
struct Built {
    model: Model,
    learnt: Learnt,
    catalog: HashMap<String, Item>,
    cursor: Cursor,
}

/// Where a recommender has read the logs up to.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    events: u64,
    profile_log: u64,
}

impl Recommender {
    /// A recommender that knows nothing until [`Recommender::run`] has read the log.
    pub fn new(settings: Settings) -> Recommender {
        Recommender {
            shared: Arc::new(Shared {
                model: RwLock::new(Model::new(settings.clone())),
                settings,
                learnt: RwLock::new(Learnt::default()),
                catalog: RwLock::new(HashMap::new()),
                ready: AtomicBool::new(false),
                wake: Notify::new(),
            }),
        }
    }

    /// Builds the model from the whole log and the catalog, for one-shot commands;
    /// `progress(done, total)` follows the neighbour-list build.
    pub async fn load(
        store: &dyn Store,
        settings: Settings,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Recommender, StoreError> {
        let r = Recommender::new(settings.clone());
        let mut built = read_log(store, settings).await?;
        built.model.rebuild(progress);
        r.publish(built);
        Ok(r)
    }

    /// New events may be durable.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Whether the first build has finished (before it, only popular items are known).
    pub fn ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire)
    }

    /// Reads the model.
    pub fn read<R>(&self, f: impl FnOnce(&Model) -> R) -> R {
        f(&self.shared.model.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// What the events say about these products (for those no catalog item describes).
    pub fn learnt(&self, ids: &[String]) -> Vec<Item> {
        let learnt = self.shared.learnt.read().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .filter_map(|id| learnt.get(id).cloned())
            .collect()
    }

    /// The catalog's items (else what the events said) for these ids, from memory; `None`
    /// before the first build, when only the store knows.
    pub fn described(&self, ids: &[String]) -> Option<HashMap<String, Item>> {
        if !self.ready() {
            return None;
        }
        let catalog = self
            .shared
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let learnt = self.shared.learnt.read().unwrap_or_else(|e| e.into_inner());
        Some(
            ids.iter()
                .filter_map(|id| catalog.get(id).or_else(|| learnt.get(id)))
                .map(|i| (i.product_id.clone(), i.clone()))
                .collect(),
        )
    }

    /// Catalog items changed: their category and availability count from now on.
    pub fn set_items(&self, items: &[Item]) {
        let mut model = self.write();
        let mut catalog = self
            .shared
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for item in items {
            model.set_item(&item.product_id, history::info(item));
            catalog.insert(item.product_id.clone(), item.clone());
        }
    }

    /// A product left the catalog: it is not recommended any more.
    pub fn remove_item(&self, id: &str) {
        self.shared
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.write().set_item(
            id,
            herald_recommend::ItemInfo {
                category: None,
                available: false,
            },
        );
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Model> {
        self.shared.model.write().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, built: Built) {
        *self.write() = built.model;
        *self
            .shared
            .learnt
            .write()
            .unwrap_or_else(|e| e.into_inner()) = built.learnt;
        *self
            .shared
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner()) = built.catalog;
        self.shared.ready.store(true, Ordering::Release);
    }

    /// Builds the model from the log, then follows it until `shutdown` completes.
    pub async fn run(self, store: Arc<dyn Store>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let settings = self.shared.settings.clone();
        let started = std::time::Instant::now();
        let built = tokio::select! {
            _ = &mut shutdown => return,
            b = read_log(store.as_ref(), settings) => b,
        };
        // The neighbour lists are the CPU-heavy part; they must not hold up the async workers.
        let built = match built {
            Ok(mut built) => tokio::task::spawn_blocking(move || {
                built.model.rebuild(&|_, _| {});
                built
            })
            .await
            .map_err(|e| StoreError::Backend(format!("the recommendation build failed: {e}"))),
            Err(e) => Err(e),
        };
        let mut cursor = match built {
            Ok(built) => {
                let stats = built.model.stats();
                let cursor = built.cursor;
                self.publish(built);
                tracing::info!(
                    profiles = stats.profiles,
                    items = stats.items,
                    interactions = stats.interactions,
                    seconds = started.elapsed().as_secs_f64(),
                    "recommendations built"
                );
                cursor
            }
            Err(e) => {
                tracing::error!(error = %e, "could not build recommendations; only popular items until a restart");
                self.shared.ready.store(true, Ordering::Release);
                return;
            }
        };
        // Recomputing neighbour lists reads the whole audience of every touched item, which for
        // popular items is most of a rebuild; paced so that it takes at most a fifth of a core.
        let mut next_refresh = tokio::time::Instant::now();
        loop {
            let stale = self.read(Model::stale_items) > 0;
            let pause = if stale {
                next_refresh.saturating_duration_since(tokio::time::Instant::now())
            } else {
                Duration::from_secs(5)
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.shared.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
            match self.catch_up(store.as_ref(), cursor).await {
                Ok(c) => cursor = c,
                Err(e) => {
                    tracing::warn!(error = %e, "recommendations could not read the log; trying again")
                }
            }
            if tokio::time::Instant::now() >= next_refresh && self.read(Model::stale_items) > 0 {
                let started = tokio::time::Instant::now();
                let refreshed = self.refresh().await;
                let cost = started.elapsed();
                tracing::debug!(
                    items = refreshed,
                    seconds = cost.as_secs_f64(),
                    "neighbour lists refreshed"
                );
                next_refresh = tokio::time::Instant::now() + (cost * 4).max(Duration::from_secs(1));
            }
        }
    }

    /// Recomputes the neighbour lists that changed, on a blocking thread under a read lock (so
    /// recommendations are served meanwhile), then puts them in place under a short write lock.
    /// Only this task writes the model, so nothing is observed in between.
    async fn refresh(&self) -> usize {
        let shared = self.shared.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            shared
                .model
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .prepare_refresh()
        })
        .await;
        match prepared {
            Ok(refresh) => self.write().apply_refresh(refresh),
            Err(e) => {
                tracing::error!(error = %e, "refreshing neighbour lists failed");
                0
            }
        }
    }

    /// Observes what arrived after `cursor`, and applies merges and erasures.
    async fn catch_up(&self, store: &dyn Store, cursor: Cursor) -> Result<Cursor, StoreError> {
        let mut next = cursor;
        next.events = history::scan(store, cursor.events, TAIL_PAGE, |events| {
            let mut model = self.write();
            let mut learnt = self
                .shared
                .learnt
                .write()
                .unwrap_or_else(|e| e.into_inner());
            history::feed(&mut model, &mut learnt, events);
        })
        .await?;
        loop {
            let entries = store.profile_log(next.profile_log, 1_000).await?;
            let Some(last) = entries.last() else { break };
            next.profile_log = last.id;
            let mut model = self.write();
            for entry in &entries {
                match entry.change {
                    ProfileChange::Merged { absorbed, into } => {
                        model.merge_profiles(absorbed, into)
                    }
                    ProfileChange::Erased { profile } => model.forget(profile),
                }
            }
        }
        Ok(next)
    }
}

/// The model over the whole log and catalog, before its neighbour lists are built, and where it
/// read up to. Merges and erasures before now are already in the log (events carry their
/// survivor; erased ones are gone), so the profile log is only followed from its current end.
async fn read_log(store: &dyn Store, settings: Settings) -> Result<Built, StoreError> {
    let mut cursor = Cursor::default();
    loop {
        let entries = store.profile_log(cursor.profile_log, 10_000).await?;
        match entries.last() {
            Some(last) => cursor.profile_log = last.id,
            None => break,
        }
    }
    let mut model = Model::new(settings);
    let mut learnt = Learnt::default();
    cursor.events = history::scan(store, 0, history::PAGE, |events| {
        history::feed(&mut model, &mut learnt, events);
    })
    .await?;
    let catalog = history::describe_items(store, &mut model, &learnt).await?;
    Ok(Built {
        model,
        learnt,
        catalog,
        cursor,
    })
}
