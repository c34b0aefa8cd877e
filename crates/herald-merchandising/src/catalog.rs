//! Catalog updates and the events they raise.
//!
//! A price that falls or a product that comes back in stock matters to the people who looked at
//! it or carted it recently, so an update raises `Price Dropped` / `Back In Stock` for each of
//! them, in the same commit as the items: a journey (`price_drop`, `back_in_stock`) then sends
//! the news. The event's id is made from the product, the version of the item it changed and
//! the person, so repeating a failed update raises nothing twice.

use crate::Recommender;
use herald_catalog::{Item, changes};
use herald_core::{ProfileId, Timestamp};
use herald_store::{CatalogCommit, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;

/// How recently a person must have viewed or carted a product to hear about it.
pub const RECENT_DAYS: i64 = 30;

/// Items stored per commit.
const CHUNK: usize = 1_000;

/// What an update did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CatalogReport {
    /// Items written (new or changed).
    pub stored: u64,
    /// Items whose price fell.
    pub price_dropped: u64,
    /// Items that came back in stock.
    pub back_in_stock: u64,
    /// Events raised for the people interested in them.
    pub events: u64,
}

impl CatalogReport {
    fn add(&mut self, other: CatalogReport) {
        self.stored += other.stored;
        self.price_dropped += other.price_dropped;
        self.back_in_stock += other.back_in_stock;
        self.events += other.events;
    }
}

/// Stores `items` and raises the events their changes mean, `CHUNK` items per commit.
pub async fn update(
    store: &dyn Store,
    recommender: &Recommender,
    items: Vec<Item>,
    now: Timestamp,
) -> Result<CatalogReport, StoreError> {
    let mut report = CatalogReport::default();
    let mut items = items;
    while !items.is_empty() {
        let rest = items.split_off(items.len().min(CHUNK));
        report.add(update_chunk(store, recommender, items, now).await?);
        items = rest;
    }
    Ok(report)
}

async fn update_chunk(
    store: &dyn Store,
    recommender: &Recommender,
    items: Vec<Item>,
    now: Timestamp,
) -> Result<CatalogReport, StoreError> {
    let mut report = CatalogReport::default();
    // The last of several entries for one product wins, as it would one after another.
    let mut latest: HashMap<String, Item> = HashMap::new();
    for item in items {
        latest.insert(item.product_id.clone(), item);
    }
    let old: HashMap<String, Item> = store
        .catalog_items(latest.keys().cloned().collect())
        .await?
        .into_iter()
        .map(|i| (i.product_id.clone(), i))
        .collect();
    let since = now - jiff::SignedDuration::from_hours(24 * RECENT_DAYS);
    let mut wanted: Vec<(ProfileId, String, herald_catalog::ItemChange, String)> = Vec::new();
    let mut stored = Vec::new();
    for (id, item) in latest {
        let Some(before) = old.get(&id) else {
            stored.push(item);
            continue;
        };
        if same(before, &item) {
            continue;
        }
        for change in changes(before, &item) {
            match change {
                herald_catalog::ItemChange::PriceDropped { .. } => report.price_dropped += 1,
                herald_catalog::ItemChange::BackInStock { .. } => report.back_in_stock += 1,
            }
            let version = before.updated_at.as_millisecond();
            for p in recommender.read(|m| m.recent_profiles(&id, since)) {
                wanted.push((p, id.clone(), change.clone(), format!("{version}")));
            }
        }
        stored.push(item);
    }
    let profiles: HashMap<ProfileId, herald_store::Profile> = store
        .profiles_by_id(wanted.iter().map(|w| w.0).collect())
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let by_id: HashMap<&str, &Item> = stored.iter().map(|i| (i.product_id.as_str(), i)).collect();
    let mut events = Vec::new();
    for (p, id, change, version) in &wanted {
        let (Some(profile), Some(item)) = (profiles.get(p), by_id.get(id.as_str())) else {
            continue;
        };
        let kind = match change {
            herald_catalog::ItemChange::PriceDropped { .. } => "price",
            herald_catalog::ItemChange::BackInStock { .. } => "stock",
        };
        let message_id = format!("catalog.{kind}.{id}.{version}.{p}");
        events.extend(herald_messages::events::track(
            profile,
            change.event_name(),
            change.properties(item),
            &message_id,
            now,
        ));
    }
    report.stored = stored.len() as u64;
    report.events = events.len() as u64;
    if stored.is_empty() {
        return Ok(report);
    }
    store
        .commit_catalog(CatalogCommit {
            items: stored.clone(),
            events,
        })
        .await?;
    recommender.set_items(&stored);
    Ok(report)
}

/// Whether an update changes nothing but the time it was made.
fn same(a: &Item, b: &Item) -> bool {
    let mut b = b.clone();
    b.updated_at = a.updated_at;
    *a == b
}
