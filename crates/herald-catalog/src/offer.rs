//! Offers: pools of coupon codes that messages hand out, one per person.
//!
//! A pool's codes either come from the shop (imported, because its platform must know them to
//! honour them) or are made by Herald from a [`CodePattern`] when someone needs one (for shops
//! that accept codes by pattern or sync them back). Either way a person gets one code per offer
//! and keeps it: a template rendered twice, or a journey's reminder, shows the same code.
//!
//! The definition of an offer is JSON a marketer writes, so it is parsed strictly like
//! segments and journeys are: unknown keys and wrong types are refused with the field named.

use crate::describe;
use herald_core::time::parse_timestamp;
use herald_core::{ProfileId, Timestamp};
use jiff::SignedDuration;
use rand::RngExt;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// Pools with fewer available codes than this are running low, unless the offer says otherwise.
pub const DEFAULT_LOW_WATER: u64 = 100;
/// Longest validity accepted: ten years is already "forever" for a coupon.
pub const MAX_VALID_DAYS: u32 = 3650;
/// Longest code, in characters, imported or generated.
pub const MAX_CODE_LEN: usize = 64;
/// Fewest random characters a pattern must have. Six digits are a million codes; fewer and a
/// person could find valid codes by trying them at checkout.
pub const MIN_RANDOM_CHARS: usize = 6;

const KEYS: [&str; 5] = [
    "pattern",
    "valid_days",
    "ends_at",
    "low_water",
    "attributes",
];

/// Letters and digits without those people confuse when they type a code from an email:
/// 0 and O, 1, I and L.
const UNAMBIGUOUS: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
/// Letters without I, L and O, for the same reason.
const LETTERS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ";

/// A coupon offer: where its codes come from and how long they last.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Offer {
    /// `[a-z0-9_]{1,64}`; templates name it as `offers.NAME`.
    pub name: String,
    /// Where codes come from: imported ones (`None`), or unique ones generated from a pattern on
    /// assignment.
    pub pattern: Option<CodePattern>,
    /// Days an assigned code stays valid.
    pub valid_days: Option<u32>,
    /// No code is assigned after this; assigned codes expire by then at the latest.
    pub ends_at: Option<Timestamp>,
    /// Pools with fewer available codes than this are reported as running low.
    pub low_water: u64,
    /// Shown to templates as-is, e.g. `percent_off`, `description`.
    pub attributes: Map<String, Value>,
}

/// Why an offer definition or a code pattern was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct OfferError {
    /// The offending key (`name` for the offer's name); empty when the definition as a whole is
    /// wrong.
    pub field: String,
    pub message: String,
}

impl OfferError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        OfferError {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn field(&self) -> &str {
        &self.field
    }
}

impl fmt::Display for OfferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

/// Whether `name` can name an offer: 1 to 64 of `a-z`, `0-9` and `_`, so that it works as a
/// template variable and in URLs as it is.
pub fn valid_offer_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `code` can be a coupon code: 1 to 64 of `A-Z`, `a-z`, `0-9`, `-` and `_`, which every
/// shop platform accepts and no template or URL mangles.
pub fn valid_code(code: &str) -> bool {
    (1..=MAX_CODE_LEN).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
            .map(|f| f as u64)
    })
}

impl Offer {
    /// Reads a definition such as `{"pattern": "CART-{XXXXXX}", "valid_days": 7, "ends_at":
    /// "2027-01-01T00:00:00Z", "low_water": 50, "attributes": {"percent_off": 10}}`; every key is
    /// optional, and an empty definition is an imported pool with codes that do not expire.
    pub fn parse(name: &str, definition: &Value) -> Result<Offer, OfferError> {
        if !valid_offer_name(name) {
            return Err(OfferError::new(
                "name",
                format!(
                    "{} is not an offer name: use 1 to 64 lowercase letters, digits and \
                     underscores, such as `cart_recovery`",
                    describe(&Value::String(name.to_owned()))
                ),
            ));
        }
        let object = match definition {
            Value::Object(o) => o,
            Value::Null => &Map::new(),
            other => {
                return Err(OfferError::new(
                    "",
                    format!(
                        "expected a JSON object such as {{\"pattern\": \"CART-{{XXXXXX}}\", \
                         \"valid_days\": 7}}, got {}",
                        describe(other)
                    ),
                ));
            }
        };
        if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(OfferError::new(
                key,
                format!("unknown field: use {}", KEYS.join(", ")),
            ));
        }
        let get = |key: &str| object.get(key).filter(|v| !v.is_null());
        let pattern = match get("pattern") {
            None => None,
            Some(Value::String(s)) => Some(CodePattern::parse(s)?),
            Some(other) => {
                return Err(OfferError::new(
                    "pattern",
                    format!(
                        "expected a pattern such as \"CART-{{XXXXXX}}\", got {}",
                        describe(other)
                    ),
                ));
            }
        };
        let valid_days = match get("valid_days") {
            None => None,
            Some(v) => match whole_number(v) {
                Some(d) if (1..=u64::from(MAX_VALID_DAYS)).contains(&d) => Some(d as u32),
                _ => {
                    return Err(OfferError::new(
                        "valid_days",
                        format!(
                            "expected a whole number of days from 1 to {MAX_VALID_DAYS}, got {}",
                            describe(v)
                        ),
                    ));
                }
            },
        };
        let ends_at = match get("ends_at") {
            None => None,
            Some(Value::String(s)) => {
                Some(parse_timestamp(s).map_err(|e| OfferError::new("ends_at", e.to_string()))?)
            }
            Some(other) => {
                return Err(OfferError::new(
                    "ends_at",
                    format!(
                        "expected a timestamp such as \"2027-01-01T00:00:00Z\", got {}",
                        describe(other)
                    ),
                ));
            }
        };
        let low_water = match get("low_water") {
            None => DEFAULT_LOW_WATER,
            Some(v) => whole_number(v).ok_or_else(|| {
                OfferError::new(
                    "low_water",
                    format!("expected a whole number >= 0, got {}", describe(v)),
                )
            })?,
        };
        let attributes = match get("attributes") {
            None => Map::new(),
            Some(Value::Object(a)) => a.clone(),
            Some(other) => {
                return Err(OfferError::new(
                    "attributes",
                    format!(
                        "expected a JSON object such as {{\"percent_off\": 10}}, got {}",
                        describe(other)
                    ),
                ));
            }
        };
        Ok(Offer {
            name: name.to_owned(),
            pattern,
            valid_days,
            ends_at,
            low_water,
            attributes,
        })
    }

    /// The definition form, which [`Offer::parse`] reads back to the same offer.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(p) = &self.pattern {
            m.insert("pattern".into(), Value::String(p.as_str().to_owned()));
        }
        if let Some(d) = self.valid_days {
            m.insert("valid_days".into(), Value::from(d));
        }
        if let Some(e) = self.ends_at {
            m.insert("ends_at".into(), Value::String(e.to_string()));
        }
        m.insert("low_water".into(), Value::from(self.low_water));
        m.insert("attributes".into(), Value::Object(self.attributes.clone()));
        Value::Object(m)
    }

    /// When a code assigned at `now` expires: `valid_days` later, but not after the offer ends.
    pub fn expiry(&self, now: Timestamp) -> Option<Timestamp> {
        let by_days = self.valid_days.and_then(|d| {
            now.checked_add(SignedDuration::from_hours(24 * i64::from(d)))
                .ok()
        });
        match (by_days, self.ends_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether codes may still be assigned at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.ends_at.is_none_or(|end| now < end)
    }
}

/// One character of a generated code.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Literal(u8),
    /// A character drawn from the alphabet.
    Random(&'static [u8]),
}

/// How generated codes look: literal characters (`A-Z`, `0-9`, `-`, `_`) and groups in braces
/// that are replaced by random characters, `{XXXX}` letters or digits (without the ambiguous
/// 0 O 1 I L), `{9999}` digits, `{AAAA}` letters (without I L O). `CART-{XXXXXX}` makes codes
/// such as `CART-7KQ2MZ`.
#[derive(Clone, Debug, PartialEq)]
pub struct CodePattern {
    text: String,
    parts: Vec<Part>,
}

impl CodePattern {
    /// Reads a pattern. It must have at least [`MIN_RANDOM_CHARS`] random characters, and make
    /// codes of at most [`MAX_CODE_LEN`] characters.
    pub fn parse(s: &str) -> Result<CodePattern, OfferError> {
        let err = |m: String| Err(OfferError::new("pattern", m));
        let mut parts = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let mut group = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => {
                                return err(format!("`{s}` has a `{{` without its `}}`"));
                            }
                            Some(g) => group.push(g),
                        }
                    }
                    let Some(first) = group.chars().next() else {
                        return err(group_error(&group));
                    };
                    let alphabet = match first {
                        'X' => UNAMBIGUOUS,
                        '9' => DIGITS,
                        'A' => LETTERS,
                        _ => return err(group_error(&group)),
                    };
                    if group.chars().any(|g| g != first) {
                        return err(group_error(&group));
                    }
                    parts.extend(group.chars().map(|_| Part::Random(alphabet)));
                }
                '}' => return err(format!("`{s}` has a `}}` without its `{{`")),
                'A'..='Z' | '0'..='9' | '-' | '_' => parts.push(Part::Literal(c as u8)),
                'a'..='z' => {
                    return err(format!(
                        "`{c}`: codes are upper case; write `{}` instead",
                        c.to_ascii_uppercase()
                    ));
                }
                _ => {
                    return err(format!(
                        "`{c}` cannot be part of a code: use A-Z, 0-9, `-` and `_` outside braces"
                    ));
                }
            }
        }
        let random = parts
            .iter()
            .filter(|p| matches!(p, Part::Random(_)))
            .count();
        if random < MIN_RANDOM_CHARS {
            return err(format!(
                "`{s}` has {random} random characters; codes need at least {MIN_RANDOM_CHARS} \
                 or people could guess valid ones: use e.g. `{{XXXXXX}}`"
            ));
        }
        if parts.len() > MAX_CODE_LEN {
            return err(format!(
                "`{s}` makes codes of {} characters; at most {MAX_CODE_LEN} are allowed",
                parts.len()
            ));
        }
        Ok(CodePattern {
            text: s.to_owned(),
            parts,
        })
    }

    /// A new code. Codes are random, not unique: the store refuses one already taken and the
    /// caller draws another.
    pub fn generate(&self, rng: &mut impl rand::Rng) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(c) => *c as char,
                Part::Random(alphabet) => alphabet[rng.random_range(0..alphabet.len())] as char,
            })
            .collect()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn group_error(group: &str) -> String {
    format!(
        "`{{{group}}}` is not a group: use {{XXXX}} (letters and digits), {{9999}} (digits) or \
         {{AAAA}} (letters), as many as the random characters wanted"
    )
}

impl fmt::Display for CodePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for CodePattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// A code assigned to a person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coupon {
    pub offer: String,
    pub code: String,
    pub profile: ProfileId,
    pub assigned_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub redeemed_at: Option<Timestamp>,
}

impl Coupon {
    /// What a template's `offers.NAME` is: the offer's attributes with `code`, `expires_at`
    /// (null when it does not expire) and `redeemed`.
    pub fn to_json(&self, offer: &Offer) -> Value {
        let mut m = offer.attributes.clone();
        m.insert("code".into(), Value::String(self.code.clone()));
        m.insert(
            "expires_at".into(),
            self.expires_at
                .map_or(Value::Null, |t| Value::String(t.to_string())),
        );
        m.insert("redeemed".into(), Value::Bool(self.redeemed_at.is_some()));
        Value::Object(m)
    }
}

/// How an offer's pool stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OfferCounts {
    /// Imported codes, in all.
    pub codes: u64,
    /// Codes given to people (imported or generated).
    pub assigned: u64,
    /// Codes used at checkout.
    pub redeemed: u64,
    /// Imported codes still free to assign; `None` for a pattern pool, which never runs out.
    pub available: Option<u64>,
}

impl OfferCounts {
    /// Whether the pool has fewer free codes than the offer's `low_water`: time to import more.
    pub fn running_low(&self, offer: &Offer) -> bool {
        self.available.is_some_and(|a| a < offer.low_water)
    }
}

#[cfg(test)]
mod tests;
