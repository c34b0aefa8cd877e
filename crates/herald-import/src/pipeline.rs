//! The import pipeline: a parser on a blocking thread and the store, busy at the same time.
//!
//! Reading and validating is CPU work on synchronous I/O, so [`Lines`] runs on a blocking thread
//! and hands batches to the async side through a small bounded channel. While the store commits
//! one batch the parser fills the next; when the store is the slower side the channel fills and
//! the parser waits, so memory stays bounded however large the file. Batches are appended one at
//! a time and in file order, because identity resolution (an `identify` joining an anonymous
//! history, an `alias`) depends on the order of messages.

use crate::lines::{Lines, Parsed};
use crate::{Format, ImportError, Progress};
use herald_core::SourceId;
use herald_core::parse::Rejection;
use herald_store::{AppendReport, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Lines per batch: large enough that a commit's fixed cost is spread thin, small enough that
/// progress moves and little is held in memory.
const BATCH_LINES: usize = 4096;
/// Bytes of messages per batch, for files of large events.
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Batches parsed ahead of the store. Two keep the store fed without holding much.
const CHANNEL_DEPTH: usize = 2;

/// How many line numbers are kept per rejection reason.
pub const MAX_LISTED_LINES: usize = 100;
/// How many line numbers per reason [`ImportSummary::to_text`] prints.
const TEXT_LINES: usize = 10;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Messages newly stored.
    pub imported: u64,
    /// Messages already in the store (from an earlier import of the same lines); not stored again.
    pub duplicates: u64,
    /// Messages about erased people; dropped.
    pub dropped_erased: u64,
    /// Lines refused, all reasons together.
    pub rejected: u64,
    /// Refused lines by reason code (such as `missing_id`).
    pub rejected_by_reason: BTreeMap<String, RejectedLines>,
}

/// The lines refused for one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RejectedLines {
    pub count: u64,
    /// The first [`MAX_LISTED_LINES`] line numbers, in file order.
    pub lines: Vec<u64>,
    /// The full message for the first of them.
    pub example: String,
}

impl ImportSummary {
    fn reject(&mut self, line: u64, rejection: Rejection) {
        self.rejected += 1;
        let entry = self
            .rejected_by_reason
            .entry(rejection.code.as_str().to_owned())
            .or_default();
        entry.count += 1;
        if entry.lines.len() < MAX_LISTED_LINES {
            entry.lines.push(line);
        }
        if entry.example.is_empty() {
            entry.example = rejection.message;
        }
    }

    fn add(&mut self, report: AppendReport) {
        self.imported += report.stored;
        self.duplicates += report.duplicates;
        self.dropped_erased += report.dropped_erased;
    }

    /// A summary for people, e.g.
    ///
    /// ```text
    /// imported 6917 events (0 duplicates), rejected 2 lines:
    ///   missing_id on lines 4, 9 — line 4: a message needs `userId` or `anonymousId`
    /// ```
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "imported {} {} ({} {}",
            self.imported,
            plural(self.imported, "event", "events"),
            self.duplicates,
            plural(self.duplicates, "duplicate", "duplicates"),
        );
        if self.dropped_erased > 0 {
            let _ = write!(
                text,
                ", {} dropped because they belong to erased people",
                self.dropped_erased
            );
        }
        text.push(')');
        if self.rejected == 0 {
            return text;
        }
        let _ = write!(
            text,
            ", rejected {} {}:",
            self.rejected,
            plural(self.rejected, "line", "lines")
        );
        for (code, lines) in &self.rejected_by_reason {
            let shown: Vec<String> = lines
                .lines
                .iter()
                .take(TEXT_LINES)
                .map(u64::to_string)
                .collect();
            let _ = write!(
                text,
                "\n  {code} on {} {}",
                plural(lines.count, "line", "lines"),
                shown.join(", ")
            );
            let more = lines.count - shown.len() as u64;
            if more > 0 {
                let _ = write!(text, " and {more} more");
            }
            if let Some(first) = lines.lines.first() {
                let _ = write!(text, " — line {first}: {}", lines.example);
            }
        }
        text
    }
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// What the parser hands the store side.
#[derive(Default)]
struct Batch {
    messages: Vec<herald_core::Message>,
    rejected: Vec<(u64, Rejection)>,
    progress: Progress,
}

/// Imports `reader` into `store` under `source` (usually
/// `store.named_source(herald_store::IMPORT_SOURCE)`).
///
/// The reader is parsed on a blocking thread and appended in batches of 4,096 lines (or 4 MB),
/// the parser running ahead of the store by at most two batches. `on_progress` is called after
/// each batch is stored. Rejected lines are counted in the summary and never stop the import;
/// an [`ImportError`] means reading or storing failed, with the batches before it stored.
pub async fn import<R: BufRead + Send + 'static>(
    store: Arc<dyn Store>,
    source: SourceId,
    reader: R,
    format: Format,
    on_progress: impl Fn(Progress) + Send + Sync + 'static,
) -> Result<ImportSummary, ImportError> {
    let (sender, mut batches) = mpsc::channel(CHANNEL_DEPTH);
    let parser = tokio::task::spawn_blocking(move || parse(Lines::new(reader, format), sender));
    let mut summary = ImportSummary::default();
    let mut outcome = Ok(());
    while let Some(batch) = batches.recv().await {
        let batch: Batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        for (line, rejection) in batch.rejected {
            summary.reject(line, rejection);
        }
        match store.append(source, batch.messages).await {
            Ok(report) => summary.add(report),
            Err(e) => {
                outcome = Err(ImportError::Store(e));
                break;
            }
        }
        on_progress(batch.progress);
    }
    // After a store failure the parser may still be reading; it is not waited for (it could be
    // blocked on stdin), and stops at its next send once the channel is closed.
    drop(batches);
    outcome?;
    // The channel closed, so the parser has returned, or panicked.
    parser
        .await
        .map_err(|e| ImportError::Internal(format!("the parser thread failed: {e}")))?;
    Ok(summary)
}

/// Runs on the blocking thread: reads batches and sends them until the input ends, an error
/// ends it, or the receiver is gone.
fn parse<R: BufRead>(mut lines: Lines<R>, sender: mpsc::Sender<Result<Batch, ImportError>>) {
    let mut batch = Batch::default();
    let (mut count, mut bytes) = (0, 0);
    while let Some(item) = lines.next() {
        match item {
            Ok(Parsed {
                message: Ok(message),
                ..
            }) => {
                bytes += message.weight();
                batch.messages.push(message);
            }
            Ok(Parsed {
                line,
                message: Err(rejection),
            }) => batch.rejected.push((line, rejection)),
            Err(e) => {
                // What was read before the error is still imported.
                batch.progress = lines.progress();
                if sender.blocking_send(Ok(batch)).is_ok() {
                    let _ = sender.blocking_send(Err(e));
                }
                return;
            }
        }
        count += 1;
        if count >= BATCH_LINES || bytes >= BATCH_BYTES {
            batch.progress = lines.progress();
            if sender
                .blocking_send(Ok(std::mem::take(&mut batch)))
                .is_err()
            {
                return;
            }
            (count, bytes) = (0, 0);
        }
    }
    // The last batch goes even when empty, so the final progress is reported.
    batch.progress = lines.progress();
    let _ = sender.blocking_send(Ok(batch));
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::parse::RejectCode;

    #[test]
    fn summary_text_lists_reasons_and_lines() {
        let mut summary = ImportSummary {
            imported: 6917,
            ..ImportSummary::default()
        };
        assert_eq!(summary.to_text(), "imported 6917 events (0 duplicates)");
        for line in [4, 9] {
            summary.reject(
                line,
                Rejection::new(RejectCode::MissingId, format!("no id on {line}")),
            );
        }
        for line in 20..40 {
            summary.reject(line, Rejection::new(RejectCode::BadTimestamp, "bad"));
        }
        let text = summary.to_text();
        assert!(
            text.starts_with("imported 6917 events (0 duplicates), rejected 22 lines:"),
            "{text}"
        );
        assert!(
            text.contains("\n  missing_id on lines 4, 9 — line 4: no id on 4"),
            "{text}"
        );
        assert!(
            text.contains("bad_timestamp on lines 20, 21, 22, 23, 24, 25, 26, 27, 28, 29 and 10 more — line 20: bad"),
            "{text}"
        );
        assert_eq!(summary.rejected_by_reason["bad_timestamp"].lines.len(), 20);
    }

    #[test]
    fn listed_lines_are_capped() {
        let mut summary = ImportSummary::default();
        for line in 1..=250 {
            summary.reject(line, Rejection::new(RejectCode::InvalidJson, "x"));
        }
        let lines = &summary.rejected_by_reason["invalid_json"];
        assert_eq!(lines.count, 250);
        assert_eq!(lines.lines.len(), MAX_LISTED_LINES);
        assert_eq!(lines.lines[99], 100);
    }
}
