//! Reading a mapping file's TOML and checking what it says, before any row is read.
//!
//! Deserialisation keeps the byte span of every value (`toml::Spanned`) so that checks made after
//! parsing, such as whether a timestamp format can be parsed, can still point at the line and column
//! the value was written on.

use super::{
    ColumnRef, Delimiter, EXAMPLE, IdColumn, IdType, Location, Mapping, MappingError,
    PropertyColumn, TimeFormat, TimestampColumn, ValueType,
};
use herald_core::MessageKind;
use jiff::fmt::strtime;
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// The mapping file as written; checked and compiled into a [`Mapping`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    #[serde(rename = "type")]
    kind: Option<Spanned<RawKind>>,
    event: Option<Spanned<String>>,
    delimiter: Option<Spanned<String>>,
    header: Option<Spanned<bool>>,
    columns: Option<Spanned<Vec<String>>>,
    user_id: Option<RawId>,
    anonymous_id: Option<RawId>,
    timestamp: RawTimestamp,
    #[serde(default)]
    properties: BTreeMap<String, RawProperty>,
}

/// The calls a row can become. Group and alias calls relate two ids rather than record what one
/// person did, so they are left to NDJSON.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Track,
    Page,
    Screen,
    Identify,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawId {
    column: Spanned<String>,
    #[serde(rename = "type", default)]
    kind: IdType,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimestamp {
    column: Spanned<String>,
    format: Spanned<String>,
    timezone: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProperty {
    column: Spanned<String>,
    #[serde(rename = "type", default)]
    kind: ValueType,
}

/// Reads and checks a mapping; `file` is named in errors.
pub(super) fn parse(text: &str, file: Option<&Path>) -> Result<Mapping, MappingError> {
    let checker = Checker { text, file };
    let raw: RawMapping = toml::from_str(text).map_err(|e| checker.toml_error(e))?;
    checker.check(raw)
}

/// Checks a mapping file's text, keeping it at hand to point into.
struct Checker<'a> {
    text: &'a str,
    file: Option<&'a Path>,
}

impl Checker<'_> {
    fn error(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> MappingError {
        MappingError::Invalid {
            file: self.file.map(Path::to_owned),
            at: span.map(|span| Location::find(self.text, span)),
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn toml_error(&self, e: toml::de::Error) -> MappingError {
        let message = e.message().trim().to_owned();
        let hint = if message.contains("unknown field") {
            format!(
                "check the spelling: the keys a mapping takes are shown and explained in {EXAMPLE}"
            )
        } else if message.contains("unknown variant") {
            "use one of the values listed".to_owned()
        } else if message.contains("missing field") {
            format!("add it: {EXAMPLE} shows every key a mapping takes")
        } else {
            format!(
                "a mapping is TOML: text values need quotes, tables are started with [name] (see {EXAMPLE})"
            )
        };
        self.error(e.span(), message, hint)
    }

    fn column(&self, name: Spanned<String>) -> ColumnRef {
        ColumnRef {
            at: Location::find(self.text, name.span()),
            name: name.into_inner(),
        }
    }

    fn delimiter(&self, raw: Option<Spanned<String>>) -> Result<Delimiter, MappingError> {
        let Some(raw) = raw else {
            return Ok(Delimiter::Byte(b','));
        };
        match raw.get_ref().as_str() {
            "whitespace" => Ok(Delimiter::Whitespace),
            "tab" | "\t" => Ok(Delimiter::Byte(b'\t')),
            s if s.len() == 1 && !matches!(s, "\"" | "\n" | "\r") => {
                Ok(Delimiter::Byte(s.as_bytes()[0]))
            }
            s => Err(self.error(
                Some(raw.span()),
                format!("`{s}` cannot separate columns"),
                r#"use one ASCII character such as "," ";" "|" or "\t", or "whitespace" for columns separated by runs of spaces"#,
            )),
        }
    }

    fn time_format(&self, raw: &Spanned<String>) -> Result<TimeFormat, MappingError> {
        let format = match raw.get_ref().as_str() {
            "rfc3339" => return Ok(TimeFormat::Rfc3339),
            "unix_seconds" => return Ok(TimeFormat::UnixSeconds),
            "unix_millis" => return Ok(TimeFormat::UnixMillis),
            f => f,
        };
        let hint = "use rfc3339, unix_seconds, unix_millis, or a strftime pattern with a date, such as \"%Y-%m-%d %H:%M:%S\" or \"%Y%m%d\"";
        if !format.contains('%') {
            return Err(self.error(
                Some(raw.span()),
                format!("unknown timestamp format `{format}`"),
                hint,
            ));
        }
        // Writing a known time with the pattern and reading it back finds every directive jiff
        // cannot parse, and patterns that do not pin down a day, before any row depends on them.
        let sample = jiff::civil::date(2001, 2, 3)
            .at(4, 5, 6, 0)
            .to_zoned(TimeZone::UTC)
            .expect("a valid constant time");
        let round_trip = strtime::format(format, &sample)
            .and_then(|text| strtime::BrokenDownTime::parse(format, text));
        match round_trip {
            Ok(tm) if tm.timestamp().is_some() || tm.to_date().is_ok() => {
                Ok(TimeFormat::Strftime(format.to_owned()))
            }
            Ok(_) => Err(self.error(
                Some(raw.span()),
                format!("the timestamp format `{format}` does not give a date"),
                "a format needs at least a year, month and day, e.g. %Y-%m-%d",
            )),
            Err(e) => Err(self.error(
                Some(raw.span()),
                format!("the timestamp format `{format}` cannot be used: {e}"),
                hint,
            )),
        }
    }

    fn timezone(&self, raw: Option<Spanned<String>>) -> Result<TimeZone, MappingError> {
        let Some(raw) = raw else {
            return Ok(TimeZone::UTC);
        };
        match raw.get_ref().as_str() {
            "UTC" | "utc" | "Z" => Ok(TimeZone::UTC),
            name => TimeZone::get(name).map_err(|e| {
                self.error(
                    Some(raw.span()),
                    format!("unknown time zone `{name}`: {e}"),
                    "use an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\"",
                )
            }),
        }
    }

    fn check(&self, raw: RawMapping) -> Result<Mapping, MappingError> {
        let kind = match raw.kind.as_ref().map(|k| *k.get_ref()) {
            None | Some(RawKind::Track) => MessageKind::Track,
            Some(RawKind::Page) => MessageKind::Page,
            Some(RawKind::Screen) => MessageKind::Screen,
            Some(RawKind::Identify) => MessageKind::Identify,
        };
        let event = match (kind, raw.event) {
            (MessageKind::Track, None) => {
                return Err(self.error(
                    raw.kind.map(|k| k.span()),
                    "a track mapping needs `event`, the name every row's event gets",
                    "add e.g. event = \"Order Completed\"",
                ));
            }
            (MessageKind::Identify, Some(event)) => {
                return Err(self.error(
                    Some(event.span()),
                    "an identify call has no event name",
                    "remove `event`, or set type = \"track\"",
                ));
            }
            (_, Some(event)) if event.get_ref().is_empty() => {
                return Err(self.error(
                    Some(event.span()),
                    "`event` is empty",
                    "give the event a name, e.g. event = \"Order Completed\"",
                ));
            }
            (_, event) => event.map(Spanned::into_inner),
        };
        let delimiter = self.delimiter(raw.delimiter)?;
        let header = raw.header.as_ref().is_none_or(|h| *h.get_ref());
        if let Some(columns) = &raw.columns {
            let names = columns.get_ref();
            let repeated = names
                .iter()
                .enumerate()
                .find(|(i, name)| names[..*i].contains(name));
            if names.is_empty() || names.iter().any(String::is_empty) {
                return Err(self.error(
                    Some(columns.span()),
                    "`columns` needs a non-empty name for every column",
                    "list the columns in file order, e.g. columns = [\"id\", \"date\", \"amount\"]",
                ));
            }
            if let Some((_, name)) = repeated {
                return Err(self.error(
                    Some(columns.span()),
                    format!("the column `{name}` is named twice"),
                    "give every column its own name; unused ones can have any name",
                ));
            }
        } else if !header {
            return Err(self.error(
                raw.header.map(|h| h.span()),
                "a file without a header line needs `columns`, the names of its columns in order",
                "add e.g. columns = [\"id\", \"date\", \"amount\"]",
            ));
        }
        if raw.user_id.is_none() && raw.anonymous_id.is_none() {
            return Err(self.error(
                None,
                "the mapping needs `user_id` or `anonymous_id`: every Segment message names a person",
                "add e.g. user_id = { column = \"customer_id\" }",
            ));
        }
        let id = |raw: RawId| IdColumn {
            column: self.column(raw.column),
            kind: raw.kind,
        };
        let timestamp = TimestampColumn {
            format: self.time_format(&raw.timestamp.format)?,
            timezone: self.timezone(raw.timestamp.timezone)?,
            column: self.column(raw.timestamp.column),
        };
        let mapping = Mapping {
            file: self.file.map(Path::to_owned),
            kind,
            event,
            delimiter,
            header,
            columns: raw.columns.map(Spanned::into_inner),
            user_id: raw.user_id.map(id),
            anonymous_id: raw.anonymous_id.map(id),
            timestamp,
            properties: raw
                .properties
                .into_iter()
                .map(|(name, p)| PropertyColumn {
                    name,
                    column: self.column(p.column),
                    kind: p.kind,
                })
                .collect(),
        };
        // With declared columns every reference can be checked now; names from a header line are
        // checked when the file is opened.
        if let Some(columns) = &mapping.columns {
            let names: Vec<&str> = columns.iter().map(String::as_str).collect();
            mapping.column_indices(&names, false)?;
        }
        Ok(mapping)
    }
}
