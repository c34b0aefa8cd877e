//! The TOML mapping that turns the rows of a CSV or whitespace-separated file into Segment
//! messages.
//!
//! A mapping is read and checked as a whole before the first row is touched: unknown keys, bad
//! type names, timestamp formats jiff cannot parse, time zones it does not know and columns the
//! file does not have are all refused up front, each with the line and column of the mapping file
//! and a hint. Checking first is what lets a row error be a rejection of that row alone: once the
//! mapping is known to be sound, whatever goes wrong later is the data's fault.
//!
//! `examples/cdnow.toml` at the repository root documents every key by example.

mod check;
mod error;

pub use error::{Location, MappingError};

use crate::rows::RowMapper;
use herald_core::{MessageKind, Timestamp};
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the whole mapping format is documented by example; hints point there.
const EXAMPLE: &str = "examples/cdnow.toml";

/// A checked mapping from table rows to Segment messages.
#[derive(Clone, Debug)]
pub struct Mapping {
    file: Option<PathBuf>,
    pub(crate) kind: MessageKind,
    pub(crate) event: Option<String>,
    pub(crate) delimiter: Delimiter,
    header: bool,
    columns: Option<Vec<String>>,
    pub(crate) user_id: Option<IdColumn>,
    pub(crate) anonymous_id: Option<IdColumn>,
    pub(crate) timestamp: TimestampColumn,
    pub(crate) properties: Vec<PropertyColumn>,
}

/// How the fields of a row are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delimiter {
    /// One byte, as in CSV (`,`), TSV (`\t`) or `;`. Fields may be quoted.
    Byte(u8),
    /// Runs of spaces and tabs, leading and trailing ones ignored; no quoting.
    Whitespace,
}

/// How an id column's text becomes an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum IdType {
    /// The text as it is.
    #[default]
    String,
    /// An integer written in its shortest form, so that `0001` and `1` are the same person.
    #[serde(alias = "integer")]
    Int,
}

/// The JSON type a property column becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ValueType {
    #[default]
    String,
    #[serde(alias = "integer")]
    Int,
    #[serde(alias = "number")]
    Float,
    #[serde(alias = "boolean")]
    Bool,
}

impl ValueType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "a string",
            ValueType::Int => "an integer",
            ValueType::Float => "a number",
            ValueType::Bool => "a boolean (true/false, yes/no, 1/0)",
        }
    }
}

/// How a timestamp column is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TimeFormat {
    /// `2024-05-01T12:30:00Z`, with `Z` or an offset.
    Rfc3339,
    /// Seconds since 1970-01-01T00:00:00Z, possibly with a fraction.
    UnixSeconds,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    UnixMillis,
    /// A strftime-style pattern for jiff's `strptime`, such as `%Y%m%d`.
    Strftime(String),
}

/// A reference from the mapping to a column of the file, remembered with where it was written so
/// that a column missing from a header line read later can still be pointed at.
#[derive(Clone, Debug)]
pub(crate) struct ColumnRef {
    pub(crate) name: String,
    at: Location,
}

#[derive(Clone, Debug)]
pub(crate) struct IdColumn {
    pub(crate) column: ColumnRef,
    pub(crate) kind: IdType,
}

#[derive(Clone, Debug)]
pub(crate) struct TimestampColumn {
    pub(crate) column: ColumnRef,
    pub(crate) format: TimeFormat,
    pub(crate) timezone: TimeZone,
}

#[derive(Clone, Debug)]
pub(crate) struct PropertyColumn {
    pub(crate) name: String,
    pub(crate) column: ColumnRef,
    pub(crate) kind: ValueType,
}

/// Where each referenced column sits in a row.
pub(crate) struct ColumnIndices {
    pub(crate) user_id: Option<usize>,
    pub(crate) anonymous_id: Option<usize>,
    pub(crate) timestamp: usize,
    pub(crate) properties: Vec<usize>,
}

impl Mapping {
    /// Reads and checks a mapping. Errors name the line and column of `text`.
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        check::parse(text, None)
    }

    /// Reads and checks a mapping file. Errors name the file, line and column.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|error| MappingError::Read {
            path: path.to_owned(),
            error,
        })?;
        check::parse(&text, Some(path))
    }

    /// Whether the file's first line names its columns (and is not a row).
    pub fn has_header(&self) -> bool {
        self.header
    }

    /// The column names the mapping declares, if it does not take them from a header line.
    pub fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// Compiles the mapping for a file whose header line (if it has one) names `header` columns.
    pub(crate) fn row_mapper(
        &self,
        header: Option<&[&str]>,
        received_at: Timestamp,
    ) -> Result<RowMapper, MappingError> {
        let names: Vec<&str> = match (&self.columns, header) {
            (Some(columns), _) => columns.iter().map(String::as_str).collect(),
            (None, Some(header)) => header.to_vec(),
            (None, None) => Vec::new(),
        };
        let indices = self.column_indices(&names, self.columns.is_none())?;
        Ok(RowMapper::new(self, &names, indices, received_at))
    }

    fn column_indices(
        &self,
        names: &[&str],
        from_header: bool,
    ) -> Result<ColumnIndices, MappingError> {
        let find = |column: &ColumnRef| {
            names.iter().position(|n| *n == column.name).ok_or_else(|| {
                let listed = names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let (message, hint) = if from_header {
                    (
                        format!("the file's header line has no column `{}`", column.name),
                        format!("the header line names: {listed}"),
                    )
                } else {
                    (
                        format!("unknown column `{}`", column.name),
                        format!("`columns` names: {listed}"),
                    )
                };
                MappingError::Invalid {
                    file: self.file.clone(),
                    at: Some(column.at.clone()),
                    message,
                    hint,
                }
            })
        };
        Ok(ColumnIndices {
            user_id: self.user_id.as_ref().map(|c| find(&c.column)).transpose()?,
            anonymous_id: self
                .anonymous_id
                .as_ref()
                .map(|c| find(&c.column))
                .transpose()?,
            timestamp: find(&self.timestamp.column)?,
            properties: self
                .properties
                .iter()
                .map(|p| find(&p.column))
                .collect::<Result<_, _>>()?,
        })
    }
}
