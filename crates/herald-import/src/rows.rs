//! One row of a table becomes one Segment message, by a compiled [`Mapping`].
//!
//! The row is written out as the JSON message a Segment sender would have sent, and that JSON is
//! then validated by [`herald_core::parse::parse_line`] exactly like an NDJSON line. Going through
//! JSON costs a little time but means both routes obey one set of rules and store the same kind of
//! body, so nothing downstream can tell a mapped row from a message sent over HTTP.

use crate::mapping::{ColumnIndices, IdType, Mapping, TimeFormat, ValueType};
use herald_core::parse::{RejectCode, Rejection, parse_line};
use herald_core::{Message, MessageKind, Timestamp};
use jiff::SignedDuration;
use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A deterministic message id for an imported line, so that importing a file twice finds the
/// second copy of every line to be a duplicate instead of doubling the data.
///
/// The line number is part of it because two identical lines of one file may well be two real
/// events (two equal orders on one day); `label` keeps different mappings of one file apart.
pub(crate) fn import_message_id<'a>(
    label: &str,
    line: u64,
    parts: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut hash = Sha256::new();
    // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
    hash.update((label.len() as u64).to_le_bytes());
    hash.update(label.as_bytes());
    hash.update(line.to_le_bytes());
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    format!("import-{}", hex::encode(&digest[..16]))
}

/// A mapping compiled against the columns of one file.
#[derive(Debug)]
pub(crate) struct RowMapper {
    kind: MessageKind,
    event: Option<String>,
    names: Vec<String>,
    user_id: Option<(usize, IdType)>,
    anonymous_id: Option<(usize, IdType)>,
    timestamp: (usize, TimeFormat, TimeZone),
    properties: Vec<(String, usize, ValueType)>,
    /// When the import started: Herald's `receivedAt` for every row.
    received_at: Timestamp,
}

impl RowMapper {
    pub(crate) fn new(
        mapping: &Mapping,
        names: &[&str],
        at: ColumnIndices,
        received_at: Timestamp,
    ) -> Self {
        let ts = &mapping.timestamp;
        RowMapper {
            kind: mapping.kind,
            event: mapping.event.clone(),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            user_id: mapping
                .user_id
                .as_ref()
                .zip(at.user_id)
                .map(|(c, i)| (i, c.kind)),
            anonymous_id: mapping
                .anonymous_id
                .as_ref()
                .zip(at.anonymous_id)
                .map(|(c, i)| (i, c.kind)),
            timestamp: (at.timestamp, ts.format.clone(), ts.timezone.clone()),
            properties: mapping
                .properties
                .iter()
                .zip(at.properties)
                .map(|(p, i)| (p.name.clone(), i, p.kind))
                .collect(),
            received_at,
        }
    }

    /// The message for the row on file line `line`, or why there is none.
    pub(crate) fn message(&self, line: u64, fields: &[&str]) -> Result<Message, Rejection> {
        if fields.len() != self.names.len() {
            // Too few columns lacks data; too many usually means a wrong delimiter or a stray
            // separator inside a value.
            let code = if fields.len() < self.names.len() {
                RejectCode::MissingField
            } else {
                RejectCode::WrongType
            };
            return Err(Rejection::new(
                code,
                format!(
                    "the row has {} columns but the mapping expects {} ({})",
                    fields.len(),
                    self.names.len(),
                    self.names.join(", ")
                ),
            ));
        }
        let mut body = Map::new();
        body.insert("type".into(), self.kind.as_str().into());
        if let Some(event) = &self.event {
            let key = if self.kind == MessageKind::Track {
                "event"
            } else {
                "name"
            };
            body.insert(key.into(), event.as_str().into());
        }
        if let Some(id) = self.id(self.user_id, fields)? {
            body.insert("userId".into(), id.into());
        }
        if let Some(id) = self.id(self.anonymous_id, fields)? {
            body.insert("anonymousId".into(), id.into());
        }
        body.insert(
            "timestamp".into(),
            self.timestamp(fields)?.to_string().into(),
        );
        let mut properties = Map::new();
        for (name, at, kind) in &self.properties {
            let text = fields[*at];
            // An empty cell is a value nobody recorded: the property is left out, not guessed.
            if text.is_empty() {
                continue;
            }
            let value = typed_value(*kind, text).ok_or_else(|| {
                Rejection::new(
                    RejectCode::WrongType,
                    format!(
                        "column `{}` (property `{name}`) must be {}, got `{text}`",
                        self.names[*at],
                        kind.as_str()
                    ),
                )
            })?;
            properties.insert(name.clone(), value);
        }
        if !properties.is_empty() {
            // Identify calls carry traits; the others carry properties.
            let key = if self.kind == MessageKind::Identify {
                "traits"
            } else {
                "properties"
            };
            body.insert(key.into(), Value::Object(properties));
        }
        let label = self.event.as_deref().unwrap_or(self.kind.as_str());
        let id = import_message_id(label, line, fields.iter().copied());
        body.insert("messageId".into(), id.as_str().into());
        let json = Value::Object(body).to_string();
        parse_line(&json, self.received_at, &mut || id.clone())
    }

    fn id(
        &self,
        column: Option<(usize, IdType)>,
        fields: &[&str],
    ) -> Result<Option<String>, Rejection> {
        let Some((at, kind)) = column else {
            return Ok(None);
        };
        let text = fields[at];
        match kind {
            // An empty id is absent, as in Segment; `parse_line` decides whether another is there.
            _ if text.is_empty() => Ok(None),
            IdType::String => Ok(Some(text.to_owned())),
            IdType::Int => canonical_int(text).map(Some).ok_or_else(|| {
                Rejection::new(
                    RejectCode::WrongType,
                    format!(
                        "column `{}` must be an integer id, got `{text}`",
                        self.names[at]
                    ),
                )
            }),
        }
    }

    fn timestamp(&self, fields: &[&str]) -> Result<Timestamp, Rejection> {
        let (at, format, zone) = &self.timestamp;
        let text = fields[*at];
        let column = &self.names[*at];
        if text.is_empty() {
            return Err(Rejection::new(
                RejectCode::BadTimestamp,
                format!("column `{column}` is empty; every row needs a time"),
            ));
        }
        parse_time(text, format, zone).map_err(|why| {
            Rejection::new(
                RejectCode::BadTimestamp,
                format!("column `{column}`: `{text}` {why}"),
            )
        })
    }
}

/// An integer id in its shortest form (`0001` → `1`, `+7` → `7`), however long; `None` if `text`
/// is not an integer.
fn canonical_int(text: &str) -> Option<String> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    Some(match (negative, digits) {
        (_, "") => "0".to_owned(),
        (true, d) => format!("-{d}"),
        (false, d) => d.to_owned(),
    })
}

/// The JSON value of a property cell, or `None` if it is not of `kind`.
fn typed_value(kind: ValueType, text: &str) -> Option<Value> {
    match kind {
        ValueType::String => Some(text.into()),
        ValueType::Int => text.parse::<i64>().ok().map(Value::from),
        // JSON has no NaN or infinity.
        ValueType::Float => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ValueType::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" => Some(true.into()),
            "false" | "f" | "no" | "n" | "0" => Some(false.into()),
            _ => None,
        },
    }
}

/// Reads a time written in `format`; times without their own offset or zone are in `zone`.
/// The error completes the sentence "`text` ...".
fn parse_time(text: &str, format: &TimeFormat, zone: &TimeZone) -> Result<Timestamp, String> {
    let not_a = |what: &str| format!("is not {what}");
    match format {
        TimeFormat::Rfc3339 => herald_core::time::parse_timestamp(text).map_err(|_| {
            not_a("an RFC 3339 timestamp with an offset, such as 2024-05-01T12:30:00Z")
        }),
        TimeFormat::UnixSeconds => {
            let ts = match text.parse::<i64>() {
                Ok(s) => Timestamp::from_second(s).ok(),
                Err(_) => text
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| SignedDuration::try_from_secs_f64(s).ok())
                    .and_then(|d| Timestamp::from_duration(d).ok()),
            };
            ts.ok_or_else(|| not_a("a number of seconds since 1970-01-01T00:00:00Z"))
        }
        TimeFormat::UnixMillis => text
            .parse::<i64>()
            .ok()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .ok_or_else(|| not_a("a whole number of milliseconds since 1970-01-01T00:00:00Z")),
        TimeFormat::Strftime(pattern) => {
            let tm = BrokenDownTime::parse(pattern, text)
                .map_err(|e| format!("does not match the format `{pattern}`: {e}"))?;
            let ts = if tm.timestamp().is_some() || tm.offset().is_some() {
                tm.to_timestamp()
            } else if tm.iana_time_zone().is_some() {
                tm.to_zoned().map(|z| z.timestamp())
            } else {
                tm.to_datetime().and_then(|dt| zone.to_timestamp(dt))
            };
            ts.map_err(|e| format!("is not a valid time for `{pattern}`: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ids_are_canonical() {
        assert_eq!(canonical_int("0001").as_deref(), Some("1"));
        assert_eq!(canonical_int("+07").as_deref(), Some("7"));
        assert_eq!(canonical_int("-0").as_deref(), Some("0"));
        assert_eq!(canonical_int("000").as_deref(), Some("0"));
        assert_eq!(canonical_int("-012").as_deref(), Some("-12"));
        assert_eq!(
            canonical_int("123456789012345678901234567890").as_deref(),
            Some("123456789012345678901234567890")
        );
        for bad in ["", "-", "1.0", "1e3", "12a", " 1"] {
            assert_eq!(canonical_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn values_are_typed() {
        assert_eq!(typed_value(ValueType::Int, "+2"), Some(Value::from(2)));
        assert_eq!(typed_value(ValueType::Int, "2.5"), None);
        assert_eq!(typed_value(ValueType::Float, "29.33"), Some(29.33.into()));
        assert_eq!(typed_value(ValueType::Float, "NaN"), None);
        assert_eq!(typed_value(ValueType::Bool, "Yes"), Some(true.into()));
        assert_eq!(typed_value(ValueType::Bool, "maybe"), None);
        assert_eq!(typed_value(ValueType::String, "0001"), Some("0001".into()));
    }

    #[test]
    fn times_follow_their_format_and_zone() {
        let utc = TimeZone::UTC;
        let day = TimeFormat::Strftime("%Y%m%d".into());
        let at = |text, format: &TimeFormat, zone: &TimeZone| {
            parse_time(text, format, zone).map(|t| t.to_string())
        };
        assert_eq!(at("19970101", &day, &utc).unwrap(), "1997-01-01T00:00:00Z");
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            at("19970101", &day, &paris).unwrap(),
            "1996-12-31T23:00:00Z"
        );
        let with_offset = TimeFormat::Strftime("%Y-%m-%d %H:%M %z".into());
        assert_eq!(
            at("2024-05-01 14:30 +0200", &with_offset, &paris).unwrap(),
            "2024-05-01T12:30:00Z"
        );
        assert!(at("19971301", &day, &utc).is_err());
        assert!(at("1997-01-01", &day, &utc).is_err());
        assert_eq!(
            at("1700000000", &TimeFormat::UnixSeconds, &utc).unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            at("1700000000.5", &TimeFormat::UnixSeconds, &utc).unwrap(),
            "2023-11-14T22:13:20.5Z"
        );
        assert_eq!(
            at("1700000000250", &TimeFormat::UnixMillis, &utc).unwrap(),
            "2023-11-14T22:13:20.25Z"
        );
        assert!(at("soon", &TimeFormat::UnixMillis, &utc).is_err());
        assert!(at("2024-05-01T12:30:00", &TimeFormat::Rfc3339, &utc).is_err());
    }

    #[test]
    fn message_ids_are_stable_and_distinct() {
        let a = import_message_id("E", 1, ["x", "y"]);
        assert_eq!(a, import_message_id("E", 1, ["x", "y"]));
        assert_eq!(a.len(), "import-".len() + 32);
        assert_ne!(a, import_message_id("E", 2, ["x", "y"]));
        assert_ne!(a, import_message_id("F", 1, ["x", "y"]));
        assert_ne!(a, import_message_id("E", 1, ["xy"]));
    }
}
