//! Reading a file into numbered messages and rejections.
//!
//! [`Lines`] is a plain blocking iterator, so it can be tested and reused without a runtime; the
//! [`crate::import`] pipeline runs it on a blocking thread. Every line or row is judged on its
//! own: a bad one becomes a [`Rejection`] with its file line number and reading goes on. Only
//! what makes the rest of the file unreadable ends the iteration with an [`ImportError`]: an I/O
//! error, or a header line that lacks a column the mapping names.

use crate::mapping::{Delimiter, Mapping};
use crate::rows::{RowMapper, import_message_id};
use crate::split::delimited;
use crate::{Format, ImportError, Progress};
use herald_core::parse::{MAX_EVENT_BYTES, RejectCode, Rejection, parse_line};
use herald_core::{Message, Timestamp};
use std::borrow::Cow;
use std::io::{self, BufRead};

/// Longest row of a table file that is read; longer ones are rejected without being kept, so one
/// runaway line (or an unclosed quote) cannot exhaust memory.
const MAX_ROW_BYTES: usize = 1024 * 1024;

/// One line or row of the input, judged.
#[derive(Debug)]
pub struct Parsed {
    /// 1-based line of the file where the line or row starts.
    pub line: u64,
    pub message: Result<Message, Rejection>,
}

/// The messages of a file, in file order, with their line numbers.
///
/// Blank lines are skipped (but counted, so numbers match the file). After an `Err` the iterator
/// is finished.
pub struct Lines<R: BufRead> {
    reader: LineReader<R>,
    /// `None` for NDJSON.
    table: Option<Table>,
    /// The text of the table row being read.
    row: String,
    received_at: Timestamp,
    started: bool,
    finished: bool,
}

type Item = Result<Parsed, ImportError>;

impl<R: BufRead> Lines<R> {
    /// Reads `reader` as `format`. Messages without a time of their own get the time this is
    /// called as their time (see [`herald_core::parse::TimeMode::Historical`]).
    pub fn new(reader: R, format: Format) -> Self {
        Lines {
            reader: LineReader::new(reader),
            table: match format {
                Format::Ndjson => None,
                Format::Mapped(mapping) => Some(Table::new(mapping)),
            },
            row: String::new(),
            received_at: Timestamp::now(),
            started: false,
            finished: false,
        }
    }

    /// How far reading has got.
    pub fn progress(&self) -> Progress {
        Progress {
            bytes: self.reader.bytes,
            lines: self.reader.line,
        }
    }

    fn next_ndjson(&mut self) -> Option<Item> {
        loop {
            // `read_text` counts the line it reads.
            let line = self.reader.line + 1;
            let text = match self.reader.read_text(MAX_EVENT_BYTES) {
                Err(error) => return Some(Err(read_error(self.reader.line, error))),
                Ok(Text::End) => return None,
                Ok(Text::Bad(code, why)) => return Some(rejected(self.reader.line, code, why)),
                Ok(Text::Line(text)) => text.trim(),
            };
            if text.is_empty() {
                continue;
            }
            // Lines without a messageId get one derived from the line, so a second import of the
            // same file is recognised as duplicates.
            let message = parse_line(text, self.received_at, &mut || {
                import_message_id("", line, [text])
            });
            return Some(Ok(Parsed { line, message }));
        }
    }

    /// The next row of a table; `row` is a buffer for its text.
    fn next_row(
        reader: &mut LineReader<R>,
        row: &mut String,
        table: &mut Table,
        received_at: Timestamp,
    ) -> Option<Item> {
        loop {
            // Rows are copied out of the reader's buffer, since a quoted value may make a row take
            // in the next line.
            match reader.read_text(MAX_ROW_BYTES) {
                Err(error) => return Some(Err(read_error(reader.line, error))),
                Ok(Text::End) => return None,
                Ok(Text::Bad(code, why)) => return Some(rejected(reader.line, code, why)),
                Ok(Text::Line(text)) => row.replace_range(.., text),
            }
            let line = reader.line;
            let fields: Vec<Cow<'_, str>> = match table.mapping.delimiter {
                Delimiter::Whitespace => row.split_ascii_whitespace().map(Cow::Borrowed).collect(),
                Delimiter::Byte(delimiter) => loop {
                    if let Ok(fields) = delimited(row, delimiter) {
                        break fields.into_iter().map(Cow::Owned).collect();
                    }
                    let room = MAX_ROW_BYTES.saturating_sub(row.len());
                    match reader.read_text(room) {
                        Err(error) => return Some(Err(read_error(reader.line, error))),
                        Ok(Text::Line(text)) => {
                            row.push('\n');
                            row.push_str(text);
                        }
                        Ok(Text::End) => {
                            return Some(rejected(
                                line,
                                RejectCode::InvalidJson,
                                format!("a quoted value opened on line {line} is never closed"),
                            ));
                        }
                        Ok(Text::Bad(code, why)) => {
                            let why = format!("{why} (in a quoted value opened on line {line})");
                            return Some(rejected(line, code, why));
                        }
                    }
                },
            };
            // A line of only spaces (or of only empty values) is blank.
            if fields.iter().all(|f| f.is_empty()) {
                continue;
            }
            let fields: Vec<&str> = fields.iter().map(|f| f.as_ref()).collect();
            match table.message(line, &fields, received_at) {
                Ok(Some(message)) => return Some(Ok(Parsed { line, message })),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

fn rejected(line: u64, code: RejectCode, message: impl Into<String>) -> Item {
    Ok(Parsed {
        line,
        message: Err(Rejection::new(code, message)),
    })
}

fn read_error(line: u64, error: io::Error) -> ImportError {
    ImportError::Read { line, error }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.finished {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Err(error) = self.reader.skip_bom() {
                self.finished = true;
                return Some(Err(read_error(0, error)));
            }
        }
        let item = match &mut self.table {
            None => self.next_ndjson(),
            Some(table) => Self::next_row(&mut self.reader, &mut self.row, table, self.received_at),
        };
        if !matches!(item, Some(Ok(_))) {
            self.finished = true;
        }
        item
    }
}

/// A mapping and, once the header (if any) has been read, the mapping compiled for this file.
struct Table {
    mapping: Mapping,
    rows: Option<RowMapper>,
}

impl Table {
    fn new(mapping: Mapping) -> Self {
        Table {
            mapping,
            rows: None,
        }
    }

    /// The message of a non-blank row, or `None` when the row was the header line.
    fn message(
        &mut self,
        line: u64,
        fields: &[&str],
        received_at: Timestamp,
    ) -> Result<Option<Result<Message, Rejection>>, ImportError> {
        match &self.rows {
            Some(rows) => Ok(Some(rows.message(line, fields))),
            None if self.mapping.has_header() => {
                self.rows = Some(self.mapping.row_mapper(Some(fields), received_at)?);
                Ok(None)
            }
            None => {
                let rows = self
                    .rows
                    .insert(self.mapping.row_mapper(None, received_at)?);
                Ok(Some(rows.message(line, fields)))
            }
        }
    }
}

/// Reads lines with a cap on their length, counting lines and bytes.
struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Number of the last line read (1-based).
    line: u64,
    bytes: u64,
}

impl<R: BufRead> LineReader<R> {
    fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            line: 0,
            bytes: 0,
        }
    }

    fn skip_bom(&mut self) -> io::Result<()> {
        self.bytes += skip_bom(&mut self.inner)?;
        Ok(())
    }

    /// Reads the next line, without its line ending. A line over `cap` bytes is consumed but not
    /// kept, and is reported as [`Text::Bad`], as is one that is not UTF-8.
    fn read_text(&mut self, cap: usize) -> io::Result<Text<'_>> {
        self.buf.clear();
        let (mut any, mut too_long) = (false, false);
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let content = &available[..newline.unwrap_or(available.len())];
            if !too_long && self.buf.len() + content.len() > cap {
                too_long = true;
                self.buf = Vec::new();
            }
            if !too_long {
                self.buf.extend_from_slice(content);
            }
            let used = newline.map_or(available.len(), |i| i + 1);
            self.inner.consume(used);
            self.bytes += used as u64;
            if newline.is_some() {
                break;
            }
        }
        if !any {
            return Ok(Text::End);
        }
        self.line += 1;
        if too_long {
            return Ok(Text::Bad(
                RejectCode::EventTooLarge,
                format!("the line is over {cap} bytes, the most that is read"),
            ));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(match std::str::from_utf8(&self.buf) {
            Ok(text) => Text::Line(text),
            Err(e) => Text::Bad(
                RejectCode::InvalidJson,
                format!(
                    "the line is not valid UTF-8 (at byte {} of the line)",
                    e.valid_up_to() + 1
                ),
            ),
        })
    }
}

/// What [`LineReader::read_text`] found.
enum Text<'a> {
    End,
    Line(&'a str),
    Bad(RejectCode, String),
}

/// Skips a UTF-8 byte order mark at the start of `reader` (spreadsheet programs write one);
/// returns how many bytes were skipped.
fn skip_bom(reader: &mut impl BufRead) -> io::Result<u64> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if reader.fill_buf()?.starts_with(BOM) {
        reader.consume(BOM.len());
        return Ok(BOM.len() as u64);
    }
    Ok(0)
}
