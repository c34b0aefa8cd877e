//! Mapping errors that point into the mapping file, with the offending line underlined.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// A place in the mapping file, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The text of that line, shown under the message.
    source_line: String,
    /// How many characters to underline.
    width: usize,
}

impl Location {
    pub(super) fn find(text: &str, span: Range<usize>) -> Location {
        let mut start = span.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let mut end = span.end.clamp(start, line_end);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Location {
            line: text[..start].matches('\n').count() + 1,
            column: text[line_start..start].chars().count() + 1,
            source_line: text[line_start..line_end].trim_end_matches('\r').to_owned(),
            width: text[start..end].chars().count().max(1),
        }
    }
}

/// Why a mapping cannot be used.
#[derive(Debug)]
pub enum MappingError {
    /// The mapping file could not be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The mapping is not valid TOML, or says something impossible.
    Invalid {
        file: Option<PathBuf>,
        at: Option<Location>,
        message: String,
        hint: String,
    },
}

impl MappingError {
    /// Where in the mapping file the problem is, when it is at one place.
    pub fn location(&self) -> Option<&Location> {
        match self {
            MappingError::Invalid { at, .. } => at.as_ref(),
            MappingError::Read { .. } => None,
        }
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::Read { path, error } => {
                write!(
                    f,
                    "cannot read the mapping file {}: {error}",
                    path.display()
                )
            }
            MappingError::Invalid {
                file,
                at,
                message,
                hint,
            } => {
                f.write_str("mapping")?;
                if let Some(file) = file {
                    write!(f, " {}", file.display())?;
                }
                if let Some(at) = at {
                    write!(f, ", line {}, column {}", at.line, at.column)?;
                }
                write!(f, ": {message}")?;
                if let Some(at) = at {
                    let number = at.line.to_string();
                    let pad = " ".repeat(number.len());
                    write!(f, "\n {pad} |\n {number} | {}", at.source_line)?;
                    let indent = " ".repeat(at.column - 1);
                    write!(f, "\n {pad} | {indent}{}", "^".repeat(at.width))?;
                }
                write!(f, "\nhint: {hint}")
            }
        }
    }
}

impl std::error::Error for MappingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MappingError::Read { error, .. } => Some(error),
            MappingError::Invalid { .. } => None,
        }
    }
}
