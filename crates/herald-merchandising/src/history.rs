//! Reading the event log into a recommendation model.
//!
//! Only `Product Viewed` / `Product Clicked`, `Product Added` and `Order Completed` carry
//! interactions, so the log is scanned sparsely: other events come without their bodies. The
//! same events describe products (name, price, category, url, image), which is how Herald knows
//! a shop's products before, or without, a catalog import: the newest description of each
//! product is kept as a *learnt* item.

use herald_catalog::Item;
use herald_core::{MessageKind, ProfileId, StoredEvent, Timestamp};
use herald_recommend::{INTERACTION_EVENTS, ItemInfo, Model, Signal, signals};
use herald_store::{BodyFilter, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Events per page of a log scan.
pub const PAGE: usize = 20_000;

/// Products as the events describe them, newest description kept.
#[derive(Clone, Debug, Default)]
pub struct Learnt(HashMap<String, Item>);

impl Learnt {
    /// Learns from one interaction event.
    pub fn observe(&mut self, event: &StoredEvent) {
        if event.body.is_empty() {
            return;
        }
        let props = event.properties();
        let mut learn = |p: &serde_json::Map<String, Value>| {
            if let Some(item) = Item::from_event(p, event.timestamp) {
                match self.0.get(&item.product_id) {
                    Some(known) if known.updated_at > item.updated_at => {}
                    _ => {
                        self.0.insert(item.product_id.clone(), item);
                    }
                }
            }
        };
        match event.name.as_deref() {
            Some("Order Completed") => {
                for p in props
                    .get("products")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = p.as_object() {
                        learn(p);
                    }
                }
            }
            Some(_) => learn(&props),
            None => {}
        }
    }

    pub fn get(&self, id: &str) -> Option<&Item> {
        self.0.get(id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.0.values()
    }
}

/// Bodies only for the events that carry interactions.
pub fn interaction_filter() -> BodyFilter {
    Arc::new(|kind, name| {
        kind == MessageKind::Track && name.is_some_and(|n| INTERACTION_EVENTS.contains(&n))
    })
}

/// Calls `each` for every interaction event after log position `after`, oldest first, and
/// returns the last position read (`after` when there was nothing new).
pub async fn scan(
    store: &dyn Store,
    after: u64,
    page: usize,
    mut each: impl FnMut(&[StoredEvent]),
) -> Result<u64, StoreError> {
    let filter = interaction_filter();
    let mut cursor = after;
    loop {
        let events = store
            .scan_events_sparse(cursor, page, filter.clone())
            .await?;
        let Some(last) = events.last() else {
            return Ok(cursor);
        };
        cursor = last.seq;
        let full = events.len() == page;
        let wanted: Vec<StoredEvent> = events.into_iter().filter(|e| !e.body.is_empty()).collect();
        each(&wanted);
        if !full {
            return Ok(cursor);
        }
    }
}

/// Feeds interaction events into the model and the learnt products.
pub fn feed(model: &mut Model, learnt: &mut Learnt, events: &[StoredEvent]) {
    for e in events {
        for (product, signal) in signals(e) {
            model.observe(e.profile_id, &product, signal, e.timestamp);
        }
        learnt.observe(e);
    }
}

/// Every interaction in the log, for offline evaluation.
pub async fn interactions(
    store: &dyn Store,
) -> Result<Vec<(ProfileId, String, Signal, Timestamp)>, StoreError> {
    let mut out = Vec::new();
    scan(store, 0, PAGE, |events| {
        for e in events {
            for (product, signal) in signals(e) {
                out.push((e.profile_id, product, signal, e.timestamp));
            }
        }
    })
    .await?;
    Ok(out)
}

/// Tells the model what the catalog (and, for products it lacks, the events) say about each
/// product's category and availability; returns the catalog.
pub async fn describe_items(
    store: &dyn Store,
    model: &mut Model,
    learnt: &Learnt,
) -> Result<HashMap<String, Item>, StoreError> {
    let mut catalog = HashMap::new();
    let mut after = None;
    loop {
        let page = store.catalog_page(None, after.clone(), 1_000).await?;
        let last = (page.len() == 1_000).then(|| page.last().map(|i| i.product_id.clone()));
        for item in page {
            model.set_item(&item.product_id, info(&item));
            catalog.insert(item.product_id.clone(), item);
        }
        match last.flatten() {
            Some(id) => after = Some(id),
            None => break,
        }
    }
    for item in learnt.items() {
        if !catalog.contains_key(&item.product_id) {
            model.set_item(&item.product_id, info(item));
        }
    }
    Ok(catalog)
}

/// What the model needs to know about an item.
pub fn info(item: &Item) -> ItemInfo {
    ItemInfo {
        category: item.category.clone(),
        available: item.available(),
    }
}
