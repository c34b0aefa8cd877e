//! What a shop adds to a message: recommendations, offers, and the current state of the
//! products the message is about.
//!
//! The message layer only knows this seam; the catalog, the recommendation model and the coupon
//! pools live behind it (`herald-merchandising`), so templates read `recommendations.for_you`,
//! `offers.NAME.code` or a cart item's current `stock` without the dispatcher knowing how they
//! are made. Everything is asked for only when the template mentions it.

use crate::MessagesError;
use async_trait::async_trait;
use herald_core::Timestamp;
use herald_store::Profile;
use serde_json::{Map, Value};

/// Whether the template being rendered mentions a name (e.g. `recommendations.similar`).
pub type Mentions<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// The shop's side of composing a message.
#[async_trait]
pub trait Merchandise: Send + Sync {
    /// Brings a message's items (cart lines, order products, the viewed product) up to date
    /// with the catalog: current `price` (the one the person saw kept as `previous_price` when
    /// it changed), `stock`, `in_stock`, `url`, `image_url`.
    async fn current(&self, items: &mut [Value]) -> Result<(), MessagesError>;

    /// Top-level template objects for one person: `recommendations` (for_you, similar,
    /// recently_viewed, popular) and `offers` (one coupon per mentioned offer). `about` are the
    /// message's items, which `similar` starts from. Coupons are assigned only when `assign` is
    /// set (sending), never for a preview.
    async fn objects(
        &self,
        profile: &Profile,
        about: &[Value],
        mentions: Mentions<'_>,
        assign: bool,
        now: Timestamp,
    ) -> Result<Map<String, Value>, MessagesError>;
}
