//! The whole pipeline into a real SQLite store.

mod common;

use herald_core::SourceId;
use herald_import::{Format, ImportError, Progress, import};
use herald_store::Store;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn ndjson_import_goes_past_bad_lines_and_reports_them() {
    let (_dir, store) = common::new_store();
    let mut text = String::new();
    for i in 1..=10_000 {
        let line = match i {
            // Every 1,000th line is bad in one of three ways.
            i if i % 3000 == 0 => "{\"type\":\"track\",\"userId\":".to_owned(),
            i if i % 1000 == 0 && i % 2000 == 0 => {
                format!(
                    r#"{{"type":"track","event":"E","timestamp":"2024-01-01T00:00:{:02}Z"}}"#,
                    i % 60
                )
            }
            i if i % 1000 == 0 => {
                format!(r#"{{"type":"track","userId":"u{i}","event":"E","timestamp":"then"}}"#)
            }
            i => format!(
                r#"{{"type":"track","userId":"u{}","event":"E","timestamp":"2024-01-01T00:00:00Z"}}"#,
                i % 100
            ),
        };
        text.push_str(&line);
        text.push('\n');
        if i % 777 == 0 {
            text.push('\n');
        }
    }
    let summary = common::import_text(&store, &text, Format::Ndjson).await;
    assert_eq!(summary.rejected, 10, "{}", summary.to_text());
    assert_eq!(summary.imported, 9_990);
    assert_eq!(summary.duplicates, 0);
    let by = &summary.rejected_by_reason;
    assert_eq!(by["invalid_json"].count, 3);
    assert_eq!(by["missing_id"].count, 4);
    assert_eq!(by["bad_timestamp"].count, 3);
    // File line numbers count the blank lines: line i of the generator is at i + i / 777.
    let file_line = |i: u64| i + i / 777;
    assert_eq!(
        by["invalid_json"].lines,
        vec![file_line(3000), file_line(6000), file_line(9000)]
    );
    assert_eq!(by["bad_timestamp"].lines[0], file_line(1000));
    assert!(by["bad_timestamp"].example.contains("`then`"));
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.events, stats.profiles), (9_990, 100));

    // Lines without a messageId get the same id again: nothing is doubled.
    let again = common::import_text(&store, &text, Format::Ndjson).await;
    assert_eq!((again.imported, again.duplicates), (0, 9_990));
    assert_eq!(again.rejected, 10);
    assert!(
        again
            .to_text()
            .starts_with("imported 0 events (9990 duplicates), rejected 10 lines:"),
        "{}",
        again.to_text()
    );
    assert_eq!(store.stats().await.unwrap().events, 9_990);
    store.close().await.unwrap();
}

#[tokio::test]
async fn progress_is_reported_up_to_the_end() {
    let (_dir, store) = common::new_store();
    let line = r#"{"type":"track","anonymousId":"a","event":"E"}"#;
    let text = format!("{line}\n").repeat(10_000);
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let source = common::import_source(&store).await;
    let record = seen.clone();
    let summary = import(
        store.clone(),
        source,
        std::io::Cursor::new(text.clone().into_bytes()),
        Format::Ndjson,
        move |p| record.lock().unwrap().push(p),
    )
    .await
    .unwrap();
    assert_eq!(summary.imported, 10_000);
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].bytes <= w[1].bytes));
    assert_eq!(
        *seen.last().unwrap(),
        Progress {
            bytes: text.len() as u64,
            lines: 10_000
        }
    );
}

#[tokio::test]
async fn store_failures_stop_the_import() {
    let (_dir, store) = common::new_store();
    store.close().await.unwrap();
    let text = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}\n".repeat(20_000);
    let result = import(
        store.clone(),
        SourceId(2),
        std::io::Cursor::new(text.into_bytes()),
        Format::Ndjson,
        |_| {},
    )
    .await;
    let error = result.unwrap_err();
    assert!(matches!(error, ImportError::Store(_)), "{error}");
}
