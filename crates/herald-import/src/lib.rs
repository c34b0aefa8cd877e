//! Imports files of past events into a Herald store (`herald import`).
//!
//! Two kinds of file are read:
//!
//! - **NDJSON**, one Segment message per line, validated exactly as the HTTP API validates them
//!   ([`herald_core::parse::parse_line`], with event times taken as written);
//! - **tables** (CSV, TSV, whitespace-separated columns) through a TOML [`Mapping`] that says
//!   which column is the person, which the time, and which become typed properties. Every row is
//!   written out as the Segment message it stands for and validated by the same function, so the
//!   rules are identical. `examples/cdnow.toml` documents the mapping format by example.
//!
//! A bad line never stops an import: it is rejected with its line number and a reason, and the
//! [`ImportSummary`] groups rejections by reason. Imported lines get deterministic message ids
//! (when they have none of their own), so importing the same file again reports duplicates
//! instead of doubling the data — which also makes it safe to re-run an import that failed
//! half-way.
//!
//! Inside: `mapping` reads and checks a [`Mapping`]; `lines` reads a file into numbered messages
//! ([`Lines`]), with `split` cutting delimited rows into values and `rows` turning a row's values
//! into a message; `pipeline` runs the reader and the store side by side ([`import`]).

mod lines;
mod mapping;
mod pipeline;
mod rows;
mod split;

pub use lines::{Lines, Parsed};
pub use mapping::{Location, Mapping, MappingError};
pub use pipeline::{ImportSummary, MAX_LISTED_LINES, RejectedLines, import};

use herald_store::StoreError;

/// What kind of file is imported.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once per import; boxing would only add noise"
)]
pub enum Format {
    /// One Segment message per line.
    Ndjson,
    /// A table whose rows a mapping turns into messages.
    Mapped(Mapping),
}

/// How far an import has read, for progress bars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input read so far.
    pub bytes: u64,
    /// Lines of the input read so far.
    pub lines: u64,
}

/// What stops an import. Rows that cannot be imported are not errors: they are counted in the
/// [`ImportSummary`]. Whatever was appended before an error stays stored, and importing the same
/// file again skips it as duplicates.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading the input failed after line {line}: {error}")]
    Read { line: u64, error: std::io::Error },
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("the store failed: {0}")]
    Store(StoreError),
    #[error("the import stopped unexpectedly: {0}")]
    Internal(String),
}
