//! Which stored events are interactions with products, and how strong each one is.
//!
//! Herald reads the Segment e-commerce spec: a product page view, a cart add and a completed
//! order say increasingly much about what a person wants. A click on a product in a list is taken
//! as a view, since both only show interest.

use herald_core::{MessageKind, StoredEvent};
use serde_json::Value;

/// How strongly an interaction says a person wants a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    View,
    Cart,
    Purchase,
}

/// The track events recommendations read, for sparse log scans.
pub const INTERACTION_EVENTS: [&str; 4] = [
    "Product Viewed",
    "Product Added",
    "Order Completed",
    "Product Clicked",
];

/// The products one stored event is about and how strongly: `Product Viewed`/`Product Clicked` →
/// View of `properties.product_id` (else `sku`); `Product Added` → Cart; `Order Completed` →
/// Purchase of each `products[].product_id` (else `sku`). A `product_id` may be a JSON string or
/// number. Anything else gives nothing.
pub fn signals(event: &StoredEvent) -> Vec<(String, Signal)> {
    if event.kind != MessageKind::Track {
        return Vec::new();
    }
    let signal = match event.name.as_deref() {
        Some("Product Viewed" | "Product Clicked") => Signal::View,
        Some("Product Added") => Signal::Cart,
        Some("Order Completed") => Signal::Purchase,
        _ => return Vec::new(),
    };
    let properties = event.properties();
    if signal != Signal::Purchase {
        return product_of(&properties)
            .map(|id| vec![(id, signal)])
            .unwrap_or_default();
    }
    let mut bought: Vec<(String, Signal)> = Vec::new();
    if let Some(Value::Array(products)) = properties.get("products") {
        for product in products.iter().filter_map(Value::as_object) {
            // An order lists a product once per line; two lines of one product are still one
            // purchase of it as far as taste goes.
            if let Some(id) = product_of(product)
                && !bought.iter().any(|(seen, _)| *seen == id)
            {
                bought.push((id, Signal::Purchase));
            }
        }
    }
    bought
}

/// `product_id`, falling back to `sku`; empty ids count as absent.
fn product_of(object: &serde_json::Map<String, Value>) -> Option<String> {
    ["product_id", "sku"]
        .iter()
        .filter_map(|key| match object.get(*key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::ProfileId;

    fn event(kind: MessageKind, name: &str, properties: serde_json::Value) -> StoredEvent {
        let at = "2024-05-01T12:00:00Z".parse().unwrap();
        StoredEvent {
            seq: 1,
            profile_id: ProfileId(7),
            kind,
            name: Some(name.to_owned()),
            message_id: "m1".into(),
            timestamp: at,
            received_at: at,
            body: serde_json::json!({ "event": name, "properties": properties })
                .to_string()
                .into(),
        }
    }

    #[test]
    fn views_clicks_and_carts_name_one_product() {
        let viewed = event(
            MessageKind::Track,
            "Product Viewed",
            serde_json::json!({"product_id": "p1", "sku": "s1"}),
        );
        assert_eq!(signals(&viewed), vec![("p1".to_owned(), Signal::View)]);
        let clicked = event(
            MessageKind::Track,
            "Product Clicked",
            serde_json::json!({"product_id": 42}),
        );
        assert_eq!(signals(&clicked), vec![("42".to_owned(), Signal::View)]);
        let added = event(
            MessageKind::Track,
            "Product Added",
            serde_json::json!({"product_id": "", "sku": "s9"}),
        );
        assert_eq!(signals(&added), vec![("s9".to_owned(), Signal::Cart)]);
    }

    #[test]
    fn an_order_buys_each_distinct_product() {
        let order = event(
            MessageKind::Track,
            "Order Completed",
            serde_json::json!({"products": [
                {"product_id": "a", "quantity": 2},
                {"sku": "b"},
                {"product_id": "a"},
                {"name": "no id"},
                "junk"
            ]}),
        );
        assert_eq!(
            signals(&order),
            vec![
                ("a".to_owned(), Signal::Purchase),
                ("b".to_owned(), Signal::Purchase)
            ]
        );
    }

    #[test]
    fn other_events_say_nothing() {
        let page = event(
            MessageKind::Page,
            "Product Viewed",
            serde_json::json!({"product_id": "p1"}),
        );
        assert!(signals(&page).is_empty());
        let other = event(
            MessageKind::Track,
            "Checkout Started",
            serde_json::json!({"product_id": "p1"}),
        );
        assert!(signals(&other).is_empty());
        let missing = event(MessageKind::Track, "Product Viewed", serde_json::json!({}));
        assert!(signals(&missing).is_empty());
    }
}
