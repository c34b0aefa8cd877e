//! What a catalog update means to shoppers.
//!
//! Most updates mean nothing to anyone: a description is reworded, a stock count goes from 12
//! to 11. Two kinds matter to the people who looked at a product: it got cheaper, or it can be
//! bought again. [`changes`] finds those, and each becomes an event (`Price Dropped`,
//! `Back In Stock`) that segments and journeys use like any other.

use crate::item::Item;
use serde_json::{Map, Value};

/// The smallest price decrease that counts: below a cent it is rounding, not a sale.
const MIN_DROP: f64 = 0.01;

/// A change to an item that shoppers care about.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemChange {
    PriceDropped { previous: f64, current: f64 },
    BackInStock { current: i64 },
}

/// The changes from `old` to `new` that shoppers care about (none when nothing relevant
/// changed). A price drop needs both prices, in the same currency when both name one; a product
/// is back in stock when it was out (stock 0) and now is not (stock above 0, or no longer
/// tracked).
pub fn changes(old: &Item, new: &Item) -> Vec<ItemChange> {
    let mut out = Vec::new();
    if let (Some(previous), Some(current)) = (old.price, new.price) {
        let same_currency = match (&old.currency, &new.currency) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        // The epsilon keeps 10.00 -> 9.99 a drop despite binary fractions.
        if same_currency && previous - current >= MIN_DROP - 1e-9 {
            out.push(ItemChange::PriceDropped { previous, current });
        }
    }
    if !old.available() && new.available() {
        out.push(ItemChange::BackInStock {
            current: new.stock.unwrap_or_default(),
        });
    }
    out
}

impl ItemChange {
    /// The name of the event this change is recorded as.
    pub fn event_name(&self) -> &'static str {
        match self {
            ItemChange::PriceDropped { .. } => "Price Dropped",
            ItemChange::BackInStock { .. } => "Back In Stock",
        }
    }

    /// The event's properties: the item as templates see it, plus `previous_price` and `price`
    /// for a drop, or `stock` for a return (when stock is tracked).
    pub fn properties(&self, item: &Item) -> Map<String, Value> {
        let mut props = match item.to_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        match self {
            ItemChange::PriceDropped { previous, current } => {
                props.insert("previous_price".into(), Value::from(*previous));
                props.insert("price".into(), Value::from(*current));
            }
            // Untracked stock has no count to show.
            ItemChange::BackInStock { current } if item.stock.is_some() => {
                props.insert("stock".into(), Value::from(*current));
            }
            ItemChange::BackInStock { .. } => {}
        }
        props
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(price: Option<f64>, currency: Option<&str>, stock: Option<i64>) -> Item {
        Item {
            product_id: "p1".into(),
            name: Some("Lamp".into()),
            url: None,
            image_url: None,
            price,
            currency: currency.map(str::to_owned),
            category: None,
            brand: None,
            stock,
            attributes: Map::new(),
            updated_at: "2026-03-01T00:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_lower_price_is_a_drop() {
        let old = item(Some(10.0), Some("EUR"), None);
        assert_eq!(
            changes(&old, &item(Some(9.99), Some("EUR"), None)),
            vec![ItemChange::PriceDropped {
                previous: 10.0,
                current: 9.99
            }]
        );
        assert_eq!(
            changes(&old, &item(Some(0.0), None, None)),
            vec![ItemChange::PriceDropped {
                previous: 10.0,
                current: 0.0
            }]
        );
    }

    #[test]
    fn no_drop_without_both_prices_or_across_currencies_or_below_a_cent() {
        let old = item(Some(10.0), Some("EUR"), None);
        for new in [
            item(Some(10.0), Some("EUR"), None),
            item(Some(11.0), Some("EUR"), None),
            item(Some(9.995), Some("EUR"), None),
            item(None, Some("EUR"), None),
            item(Some(5.0), Some("USD"), None),
        ] {
            assert!(changes(&old, &new).is_empty(), "{new:?}");
        }
        assert!(changes(&item(None, None, None), &item(Some(1.0), None, None)).is_empty());
    }

    #[test]
    fn back_in_stock_after_being_out() {
        let out = item(None, None, Some(0));
        assert_eq!(
            changes(&out, &item(None, None, Some(4))),
            vec![ItemChange::BackInStock { current: 4 }]
        );
        assert_eq!(
            changes(&out, &item(None, None, None)),
            vec![ItemChange::BackInStock { current: 0 }],
            "no longer tracked counts as available"
        );
        assert!(changes(&out, &item(None, None, Some(0))).is_empty());
        assert!(changes(&item(None, None, Some(2)), &item(None, None, Some(5))).is_empty());
        assert!(changes(&item(None, None, None), &item(None, None, Some(5))).is_empty());
    }

    #[test]
    fn both_at_once_and_their_events() {
        let old = item(Some(20.0), None, Some(0));
        let new = item(Some(15.0), None, Some(3));
        let found = changes(&old, &new);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].event_name(), "Price Dropped");
        assert_eq!(found[1].event_name(), "Back In Stock");
        let drop = Value::Object(found[0].properties(&new));
        assert_eq!(drop["previous_price"], json!(20.0));
        assert_eq!(drop["price"], json!(15.0));
        assert_eq!(drop["product_id"], "p1");
        assert_eq!(drop["name"], "Lamp");
        assert_eq!(drop["in_stock"], true);
        let back = Value::Object(found[1].properties(&new));
        assert_eq!(back["stock"], 3);
        assert!(back.get("previous_price").is_none());
    }
}
