//! Items: the products of a shop's catalog, as Herald keeps them and templates see them.
//!
//! An item comes from one of two places. A person sends it (the API, a catalog file): then
//! [`Item::parse`] is strict, because a typo in a field name or a price of "19,99" should be
//! fixed, not stored. Or the shop's site sends a `Product Viewed` event: then
//! [`Item::from_event`] takes what it can and ignores the rest, because the event was accepted
//! for its own sake and the catalog is only a by-product.

use crate::describe;
use herald_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Longest product id accepted, in bytes. Shops' SKUs are short; longer ones are mistakes (a URL
/// or a description in the wrong column) and would bloat every index that holds them.
pub const MAX_PRODUCT_ID_BYTES: usize = 200;

/// The keys an item may have; anything else belongs under `attributes`.
const FIELDS: [&str; 10] = [
    "product_id",
    "name",
    "url",
    "image_url",
    "price",
    "currency",
    "category",
    "brand",
    "stock",
    "attributes",
];

/// A product in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub product_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Units in stock; `None` when the shop does not track stock (treated as available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<i64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
    /// When Herald last stored a change to it (set by the caller, not parsed from input).
    pub updated_at: Timestamp,
}

/// Why an item was refused: the field at fault and what was wrong with it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ItemError {
    /// The offending key; empty when the item as a whole is wrong (not a JSON object).
    pub field: String,
    pub message: String,
}

impl ItemError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        ItemError {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The offending key, so that callers can say where it was (`items[3].price`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong, without the field.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

impl Item {
    /// Parses one item of an API request or NDJSON line, strictly: unknown keys, wrong types and
    /// impossible values are refused with the field named. Strings are trimmed, and empty ones
    /// mean "not given".
    pub fn parse(value: &Value, now: Timestamp) -> Result<Item, ItemError> {
        let Value::Object(object) = value else {
            return Err(ItemError::new(
                "",
                format!(
                    "expected a JSON object such as {{\"product_id\": \"sku-1\", \"price\": 19.99}}, got {}",
                    describe(value)
                ),
            ));
        };
        if let Some(key) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ItemError::new(key, unknown_key_hint(key)));
        }
        let field = |key: &str, check: fn(&Value) -> Result<Option<String>, String>| {
            object
                .get(key)
                .map_or(Ok(None), check)
                .map_err(|m| ItemError::new(key, m))
        };
        let product_id = match object.get("product_id") {
            None | Some(Value::Null) => {
                return Err(ItemError::new(
                    "product_id",
                    "is missing: every item needs the id the shop knows the product by",
                ));
            }
            Some(v) => product_id(v).map_err(|m| ItemError::new("product_id", m))?,
        };
        let attributes = match object.get("attributes") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(a)) => a.clone(),
            Some(other) => {
                return Err(ItemError::new(
                    "attributes",
                    format!(
                        "expected a JSON object of other product data such as {{\"color\": \"red\"}}, got {}",
                        describe(other)
                    ),
                ));
            }
        };
        Ok(Item {
            product_id,
            name: field("name", text)?,
            url: field("url", web_url)?,
            image_url: field("image_url", web_url)?,
            price: object
                .get("price")
                .map_or(Ok(None), price)
                .map_err(|m| ItemError::new("price", m))?,
            currency: field("currency", currency)?,
            category: field("category", text)?,
            brand: field("brand", text)?,
            stock: object
                .get("stock")
                .map_or(Ok(None), stock)
                .map_err(|m| ItemError::new("stock", m))?,
            attributes,
            updated_at: now,
        })
    }

    /// What a `Product Viewed` or `Product Added` event's properties say about a product (the
    /// Segment ecommerce spec's `product_id`, else `sku`, and `name`, `price`, `currency`,
    /// `category`, `brand`, `url`, `image_url`). Fields that do not parse are left out; without
    /// an id there is no item.
    pub fn from_event(properties: &Map<String, Value>, at: Timestamp) -> Option<Item> {
        let get = |key: &str| properties.get(key).filter(|v| !v.is_null());
        let product_id = ["product_id", "sku"]
            .into_iter()
            .find_map(|k| get(k).and_then(|v| product_id(v).ok()))?;
        let lenient = |key: &str, check: fn(&Value) -> Result<Option<String>, String>| {
            get(key).and_then(|v| check(v).ok().flatten())
        };
        Some(Item {
            product_id,
            name: lenient("name", text),
            url: lenient("url", web_url),
            image_url: lenient("image_url", web_url),
            price: get("price").and_then(|v| price(v).ok().flatten()),
            currency: lenient("currency", currency),
            category: lenient("category", text),
            brand: lenient("brand", text),
            stock: None,
            attributes: Map::new(),
            updated_at: at,
        })
    }

    /// Whether it can be bought: in stock, or stock not tracked.
    pub fn available(&self) -> bool {
        self.stock.is_none_or(|n| n > 0)
    }

    /// The JSON templates and the API see: every known field (unknown ones left out), plus
    /// `in_stock`.
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("an item serialises");
        if let Value::Object(object) = &mut value {
            object.insert("in_stock".to_owned(), Value::Bool(self.available()));
        }
        value
    }
}

/// Says how to fix a key that is not an item field.
fn unknown_key_hint(key: &str) -> String {
    match key {
        "in_stock" => "is worked out from `stock`: send `stock` instead (0 = out of stock)".into(),
        "updated_at" => "is set by Herald when it stores a change: leave it out".into(),
        "id" | "sku" => "is not a field: send the product's id as `product_id`".into(),
        _ => format!(
            "unknown field: use {}; anything else goes under `attributes`",
            FIELDS[..FIELDS.len() - 1].join(", ")
        ),
    }
}

fn product_id(value: &Value) -> Result<String, String> {
    let id = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => {
            return Err(format!(
                "expected a string or a whole number, got {}",
                describe(other)
            ));
        }
    };
    if id.is_empty() {
        Err("must not be empty".into())
    } else if id.len() > MAX_PRODUCT_ID_BYTES {
        Err(format!(
            "is {} bytes long; at most {MAX_PRODUCT_ID_BYTES} are allowed",
            id.len()
        ))
    } else {
        Ok(id)
    }
}

/// A trimmed string; empty means not given.
fn text(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
        other => Err(format!("expected a string, got {}", describe(other))),
    }
}

fn web_url(value: &Value) -> Result<Option<String>, String> {
    let Some(url) = text(value)? else {
        return Ok(None);
    };
    if is_web_url(&url) {
        Ok(Some(url))
    } else {
        Err(format!(
            "expected an absolute http(s) URL such as \"https://shop.example/p/1\", got {}",
            describe(value)
        ))
    }
}

/// Whether `s` is an absolute `http` or `https` URL with a host. Emails link to it, so a relative
/// path or another scheme would be a broken (or unsafe) link in every message.
fn is_web_url(s: &str) -> bool {
    let rest = ["https://", "http://"].into_iter().find_map(|scheme| {
        s.get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .map(|_| &s[scheme.len()..])
    });
    let Some(rest) = rest else {
        return false;
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn price(value: &Value) -> Result<Option<f64>, String> {
    let refuse = || format!("expected a number >= 0, got {}", describe(value));
    let p = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64().ok_or_else(refuse)?,
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        // Only plain decimals: Rust also reads "NaN" and "inf", which are not prices.
        Value::String(s) if is_decimal(s.trim()) => s.trim().parse().map_err(|_| refuse())?,
        _ => return Err(refuse()),
    };
    if p.is_finite() && p >= 0.0 {
        // -0 is 0; it would otherwise print as "-0.0".
        Ok(Some(if p == 0.0 { 0.0 } else { p }))
    } else {
        Err(refuse())
    }
}

/// Digits with at most one decimal point, optionally signed (the sign is judged later).
fn is_decimal(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty()
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
}

fn currency(value: &Value) -> Result<Option<String>, String> {
    let Some(code) = text(value)? else {
        return Ok(None);
    };
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(Some(code.to_ascii_uppercase()))
    } else {
        Err(format!(
            "expected a three-letter ISO 4217 code such as \"USD\", got {}",
            describe(value)
        ))
    }
}

fn stock(value: &Value) -> Result<Option<i64>, String> {
    let refuse = || {
        format!(
            "expected a whole number >= 0 (0 = out of stock), got {}",
            describe(value)
        )
    };
    let n = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(n) => n,
            // Spreadsheets turn 5 into 5.0.
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => f as i64,
                _ => return Err(refuse()),
            },
        },
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse().map_err(|_| refuse())?,
        _ => return Err(refuse()),
    };
    if n >= 0 { Ok(Some(n)) } else { Err(refuse()) }
}

#[cfg(test)]
mod tests;
