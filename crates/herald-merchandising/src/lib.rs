//! The shop layer: what a catalog, a recommendation model and coupon pools mean for messages
//! and the API, over a store.
//!
//! - [`history`]: reading the event log into a recommendation model (and learning products
//!   from events when no catalog describes them).
//! - [`live`]: the [`Recommender`], a model kept up to date as events arrive, merges and
//!   erasures included.
//! - [`catalog`]: storing catalog items and raising `Price Dropped` / `Back In Stock` for the
//!   people who recently looked at or carted them.
//! - [`offers`]: one coupon code per person per offer, and pools running low.
//! - [`personal`]: the [`Merchandiser`], which gives templates `recommendations`, `offers` and
//!   current cart items (`herald_messages::merchandise`).

pub mod catalog;
pub mod history;
pub mod live;
pub mod offers;
pub mod personal;

pub use live::Recommender;
pub use personal::Merchandiser;
