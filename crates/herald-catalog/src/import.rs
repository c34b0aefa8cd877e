//! Catalog files: CSV as shops export it from a spreadsheet or their platform, and NDJSON with
//! one item per line in the API's form.
//!
//! A file is read as a stream of items, one result per record, so that a catalog of millions of
//! products never has to fit in memory and one bad row is reported (with its line) without
//! losing the rows around it.
//!
//! In CSV, the header row names the columns. The item's fields (`product_id`, `name`, `price`,
//! ...) are recognised by name in any case; every other column becomes a string attribute. Empty
//! cells are not given. Each row then goes through the same checks as an item sent to the API.

use crate::item::Item;
use herald_core::Timestamp;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The columns of a CSV file that are item fields rather than attributes.
const CSV_FIELDS: [&str; 9] = [
    "product_id",
    "name",
    "url",
    "image_url",
    "price",
    "currency",
    "category",
    "brand",
    "stock",
];

/// How a catalog file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// One JSON item per line.
    Ndjson,
}

impl Format {
    /// The format a file's extension names: `.csv`, or `.ndjson` / `.jsonl`. A `.json` file is
    /// usually one JSON document, not a line per item, so it is not taken as NDJSON.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// A record of a catalog file that could not be read as an item.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    /// The 1-based line the record starts on.
    pub line: u64,
    pub message: String,
}

impl ImportError {
    fn new(line: u64, message: impl Into<String>) -> Self {
        ImportError {
            line,
            message: message.into(),
        }
    }
}

/// The items of a catalog file, one result per record, stamped `now`; a bad record does not
/// stop the rest. Reading stops at the first I/O error, which is reported as the last result.
pub fn read_items<R: Read>(
    reader: R,
    format: Format,
    now: Timestamp,
) -> impl Iterator<Item = Result<Item, ImportError>> {
    match format {
        Format::Csv => Records::Csv(CsvItems {
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(reader),
            columns: None,
            record: csv::ByteRecord::new(),
            now,
            done: false,
        }),
        Format::Ndjson => Records::Ndjson(NdjsonItems {
            reader: BufReader::new(reader),
            line: 0,
            buf: Vec::new(),
            now,
            done: false,
        }),
    }
}

enum Records<R> {
    Csv(CsvItems<R>),
    Ndjson(NdjsonItems<R>),
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<Item, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Csv(items) => items.next(),
            Records::Ndjson(items) => items.next(),
        }
    }
}

/// Where a CSV column's cells go.
enum Column {
    Field(&'static str),
    Attribute(String),
    /// A column without a name (a trailing comma in the header): its cells must be empty.
    Unnamed,
}

struct CsvItems<R> {
    reader: csv::Reader<R>,
    /// Known once the header row is read.
    columns: Option<Vec<Column>>,
    record: csv::ByteRecord,
    now: Timestamp,
    done: bool,
}

impl<R: Read> CsvItems<R> {
    fn next(&mut self) -> Option<Result<Item, ImportError>> {
        if self.done {
            return None;
        }
        if self.columns.is_none() {
            match self.header() {
                Ok(columns) => self.columns = Some(columns),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {}
                Err(e) => {
                    let line = e
                        .position()
                        .map_or(self.reader.position().line(), |p| p.line());
                    // Past an I/O error the reader cannot say where it is; stop there.
                    self.done |= e.is_io_error();
                    return Some(Err(ImportError::new(line, format!("unreadable: {e}"))));
                }
            }
            let line = self.record.position().map_or(0, |p| p.line());
            let columns = self.columns.as_deref().expect("header read");
            match row(columns, &self.record, line) {
                Ok(None) => continue,
                Ok(Some(object)) => {
                    return Some(
                        Item::parse(&Value::Object(object), self.now)
                            .map_err(|e| ImportError::new(line, e.to_string())),
                    );
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }

    fn header(&mut self) -> Result<Vec<Column>, ImportError> {
        let mut header = csv::ByteRecord::new();
        match self.reader.read_byte_record(&mut header) {
            Ok(true) => {}
            Ok(false) => {
                return Err(ImportError::new(
                    1,
                    "the file is empty: a catalog CSV starts with a header row naming its \
                     columns, one of them `product_id`",
                ));
            }
            Err(e) => return Err(ImportError::new(1, format!("unreadable header row: {e}"))),
        }
        let line = header.position().map_or(1, |p| p.line());
        let mut columns = Vec::with_capacity(header.len());
        let mut names: Vec<String> = Vec::with_capacity(header.len());
        for cell in &header {
            let name = std::str::from_utf8(cell)
                .map_err(|_| {
                    ImportError::new(
                        line,
                        "the header row is not valid UTF-8: save the file as UTF-8",
                    )
                })?
                .trim();
            if name.is_empty() {
                columns.push(Column::Unnamed);
                continue;
            }
            let lower = name.to_ascii_lowercase();
            let column = match CSV_FIELDS.iter().find(|f| **f == lower) {
                Some(field) => Column::Field(field),
                None => Column::Attribute(name.to_owned()),
            };
            let key = match &column {
                Column::Field(f) => (*f).to_owned(),
                _ => name.to_owned(),
            };
            if names.contains(&key) {
                return Err(ImportError::new(
                    line,
                    format!("the header row names `{key}` twice: rename or remove one of them"),
                ));
            }
            names.push(key);
            columns.push(column);
        }
        if !names.iter().any(|n| n == "product_id") {
            return Err(ImportError::new(
                line,
                format!(
                    "the header row has no `product_id` column (it has {}): name the column \
                     holding the products' ids `product_id`",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(columns)
    }
}

/// The item a CSV row describes, as the JSON the API takes; `None` for a row of empty cells
/// (spreadsheets export those below the data).
fn row(
    columns: &[Column],
    record: &csv::ByteRecord,
    line: u64,
) -> Result<Option<Map<String, Value>>, ImportError> {
    let mut object = Map::new();
    let mut attributes = Map::new();
    for (i, cell) in record.iter().enumerate() {
        let text = std::str::from_utf8(cell)
            .map_err(|_| {
                ImportError::new(
                    line,
                    format!(
                        "column {} is not valid UTF-8: save the file as UTF-8",
                        i + 1
                    ),
                )
            })?
            .trim();
        if text.is_empty() {
            continue;
        }
        match columns.get(i) {
            Some(Column::Field(field)) => {
                object.insert((*field).to_owned(), Value::String(text.to_owned()));
            }
            Some(Column::Attribute(name)) => {
                attributes.insert(name.clone(), Value::String(text.to_owned()));
            }
            Some(Column::Unnamed) => {
                return Err(ImportError::new(
                    line,
                    format!(
                        "column {} has a value but no name in the header row: name the column",
                        i + 1
                    ),
                ));
            }
            None => {
                return Err(ImportError::new(
                    line,
                    format!(
                        "has a value in column {} but the header row names only {} columns",
                        i + 1,
                        columns.len()
                    ),
                ));
            }
        }
    }
    if object.is_empty() && attributes.is_empty() {
        return Ok(None);
    }
    if !attributes.is_empty() {
        object.insert("attributes".into(), Value::Object(attributes));
    }
    Ok(Some(object))
}

struct NdjsonItems<R> {
    reader: BufReader<R>,
    /// The physical line last read.
    line: u64,
    buf: Vec<u8>,
    now: Timestamp,
    done: bool,
}

impl<R: Read> NdjsonItems<R> {
    fn next(&mut self) -> Option<Result<Item, ImportError>> {
        while !self.done {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    if let Some(result) = self.parse_line() {
                        return Some(result);
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(ImportError::new(
                        self.line + 1,
                        format!("reading the file failed: {e}"),
                    )));
                }
            }
        }
        None
    }

    /// The item on the line in `buf`; `None` for a blank line.
    fn parse_line(&self) -> Option<Result<Item, ImportError>> {
        let Ok(text) = std::str::from_utf8(&self.buf) else {
            return Some(Err(ImportError::new(
                self.line,
                "is not valid UTF-8: save the file as UTF-8",
            )));
        };
        let text = if self.line == 1 {
            text.trim_start_matches('\u{feff}')
        } else {
            text
        };
        if text.trim().is_empty() {
            return None;
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                // serde_json counts lines within the text it was given; only the column helps.
                let full = e.to_string();
                let what = full
                    .rsplit_once(" at line ")
                    .map_or(full.as_str(), |(w, _)| w);
                return Some(Err(ImportError::new(
                    self.line,
                    format!(
                        "malformed JSON at column {}: {what}; each line must be one JSON object",
                        e.column()
                    ),
                )));
            }
        };
        Some(Item::parse(&value, self.now).map_err(|e| ImportError::new(self.line, e.to_string())))
    }
}

#[cfg(test)]
mod tests;
