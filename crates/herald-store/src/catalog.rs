//! What the store keeps for the catalog and offers: items, offer definitions, and the coupon
//! codes of each offer's pool with who holds them.
//!
//! A catalog update and the events it raises (`Price Dropped`, `Back In Stock`) are written in
//! one transaction ([`CatalogCommit`]), so a crash never leaves a price changed without the
//! event that tells shoppers, or the other way round. Coupon codes are assigned by the store
//! itself, because only it can make "the next free code" and "this person's code" one atomic
//! decision when many sends want codes at once.

use herald_catalog::Item;
use herald_core::Message;

/// Name of the source catalog events (`Price Dropped`, `Back In Stock`) are appended under.
pub const CATALOG_SOURCE: &str = "catalog";

/// Items to upsert with the events their changes raise, written together.
#[derive(Clone, Debug, Default)]
pub struct CatalogCommit {
    pub items: Vec<Item>,
    /// Appended under [`CATALOG_SOURCE`], deduplicated by message id like any append.
    pub events: Vec<Message>,
}

impl CatalogCommit {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.events.is_empty()
    }
}
