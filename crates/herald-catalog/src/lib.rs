//! Herald's product catalog and coupon offers, free of I/O.
//!
//! A shop tells Herald about its products ([`item`]s) through the API, catalog files ([`import`])
//! or simply the `Product Viewed` events its site already sends. When an update lowers a price or
//! brings a product back into stock, that matters to the people who looked at it: [`changes`]
//! says what an update means, as events journeys can start on. [`offer`]s are pools of coupon
//! codes, imported or generated from a pattern, that templates hand out one per person.
//!
//! Parsing is strict where a person typed the input (an API request, a file) and every error
//! names the field; it is lenient where the input is an event whose other fields are not
//! Herald's to refuse.

pub mod changes;
pub mod import;
pub mod item;
pub mod offer;

pub use changes::{ItemChange, changes};
pub use import::{Format, ImportError, read_items};
pub use item::{Item, ItemError};
pub use offer::{
    CodePattern, Coupon, Offer, OfferCounts, OfferError, valid_code, valid_offer_name,
};

use serde_json::Value;

/// A short rendering of a refused value for error messages: enough to recognise it, never a
/// whole pasted document.
fn describe(value: &Value) -> String {
    const MAX: usize = 60;
    let text = value.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
