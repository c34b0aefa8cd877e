//! Import rates, in events per second, into a fresh SQLite store on a temporary directory:
//! generated NDJSON track events, and the CDNOW master file through its mapping.
//!
//! `cargo bench -p herald-import`. Each iteration gets a new store (created outside the timing);
//! the time covers parsing, validation and durable appends, not closing the store. The `parse`
//! group times reading and validation alone, to show which side of the pipeline limits it.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use herald_core::credentials::Secret;
use herald_import::{Format, Lines, Mapping, import};
use herald_store::{IMPORT_SOURCE, NewStore, Store};
use herald_store_sqlite::{Access, SqliteStore};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const NDJSON_EVENTS: u64 = 50_000;

fn fresh_store() -> (TempDir, Arc<SqliteStore>) {
    let dir = TempDir::new().unwrap();
    SqliteStore::create(
        dir.path(),
        &NewStore {
            write_key: Secret::new("wk"),
            admin_token: Secret::new("admin"),
        },
    )
    .unwrap();
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    (dir, Arc::new(store))
}

/// Track events of 2,000 users over a month, shaped like what SDKs send; half carry their own
/// messageId and half get a derived one, as both happen in real exports.
fn ndjson() -> Vec<u8> {
    let mut text = String::new();
    for i in 0..NDJSON_EVENTS {
        let id = if i % 2 == 0 {
            format!(r#","messageId":"m-{i}""#)
        } else {
            String::new()
        };
        text.push_str(&format!(
            r#"{{"type":"track","userId":"user-{}","event":"Product Viewed","timestamp":"2024-05-{:02}T{:02}:{:02}:00Z","properties":{{"product_id":"p-{}","price":{}.99,"currency":"USD"}},"context":{{"library":{{"name":"analytics.js","version":"2.11.1"}}}}{id}}}"#,
            i % 2_000,
            1 + i % 28,
            i % 24,
            i % 60,
            i % 500,
            i % 100,
        ));
        text.push('\n');
    }
    text.into_bytes()
}

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// Times importing `data` as `format` into a new store per iteration.
fn bench_import(c: &mut Criterion, name: &str, data: Vec<u8>, format: Format, events: u64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(events));
    group.bench_function(name, |b| {
        b.iter_batched(
            fresh_store,
            |(dir, store)| {
                let summary = runtime.block_on(async {
                    let source = store.named_source(IMPORT_SOURCE).await.unwrap();
                    let reader = Cursor::new(data.clone());
                    import(store.clone(), source, reader, format.clone(), |_| {})
                        .await
                        .unwrap()
                });
                assert_eq!(summary.imported, events, "{}", summary.to_text());
                // Returned so that closing and deleting happen outside the timing.
                (dir, store)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();

    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    group.bench_function(name, |b| {
        b.iter(|| {
            let lines = Lines::new(&data[..], format.clone());
            let parsed = lines
                .filter(|l| matches!(l, Ok(p) if p.message.is_ok()))
                .count();
            assert_eq!(parsed as u64, events);
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_import(
        c,
        "ndjson_track_50k",
        ndjson(),
        Format::Ndjson,
        NDJSON_EVENTS,
    );

    let master = repo_path("../shared/datasets/cdnow/CDNOW_master.txt");
    match std::fs::read(&master) {
        Ok(data) => {
            let mapping = Mapping::load(&repo_path("examples/cdnow_master.toml"))
                .unwrap_or_else(|e| panic!("{e}"));
            bench_import(
                c,
                "mapped_cdnow_master",
                data,
                Format::Mapped(mapping),
                69_659,
            );
        }
        Err(e) => eprintln!(
            "skipping the CDNOW bench: {} not readable: {e}",
            master.display()
        ),
    }
}

criterion_group!(import_benches, benches);
criterion_main!(import_benches);
