//! Item-to-item recommendations: "similar items", "you may also like" for a cart, "recommended
//! for you", "popular in this category" and "products you viewed", for templates and segments.
//!
//! * [`signal`]: which stored events are product interactions, and how strong each is.
//! * [`Model`]: learns from interactions one at a time ([`Model::observe`]), keeps each item's
//!   most similar items, and answers queries. Similarity is a cosine over time-decayed
//!   profile–item weights (`decay` explains how weights decay without ever being rewritten).
//! * [`evaluate`]: replays history, holds the last part out, and measures how often the model
//!   would have recommended what people went on to buy, next to a popularity baseline.
//!
//! Plain code over plain data: no I/O, and `now` is always an argument. Everything is
//! deterministic: equal scores are ordered by product id.

mod decay;
pub mod evaluate;
mod history;
mod items;
mod model;
mod rank;
mod recommend;
mod settings;
pub mod signal;
mod similarity;

pub use evaluate::{Evaluation, Metrics, evaluate};
pub use herald_core::ProfileId;
pub use model::Model;
pub use settings::Settings;
pub use signal::{INTERACTION_EVENTS, Signal, signals};
pub use similarity::Refresh;

/// What the model needs to know about a catalog item.
#[derive(Clone, Debug, Default)]
pub struct ItemInfo {
    /// For "popular in this category" and the top-up of thin histories.
    pub category: Option<String>,
    /// Whether it may be recommended (in stock, published). Unavailable items keep their history
    /// and similarities, so they come back as they were when available again.
    pub available: bool,
}

/// A recommended item and how strongly it is recommended (comparable within one answer's
/// strategy only).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Scored {
    pub product_id: String,
    pub score: f32,
}

/// Where a "for you" answer came from: the strategy that produced its top item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// From the person's own history through item similarities.
    Personal,
    /// Popular in the categories the person was interested in.
    PopularInCategory,
    /// Popular overall.
    Popular,
}

/// Personal picks, best first: personal ones, then popular-in-category, then popular items (the
/// latter two only when the history gives too few).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Recommendations {
    pub items: Vec<Scored>,
    pub strategy: Strategy,
}

/// The model's size.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ModelStats {
    pub profiles: u64,
    pub items: u64,
    /// Interactions observed for the profiles the model keeps.
    pub interactions: u64,
    /// Items with at least one neighbour.
    pub neighbour_lists: u64,
    /// Items whose neighbour list waits for a refresh.
    pub stale_items: u64,
}
