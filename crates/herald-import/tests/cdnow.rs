//! The CDNOW data set through the shipped mappings.

mod common;

use herald_import::{Format, import};
use herald_store::Store;
use std::fs::File;
use std::io::BufReader;

async fn import_file(
    store: &std::sync::Arc<herald_store_sqlite::SqliteStore>,
    data: &str,
    mapping: &str,
) -> herald_import::ImportSummary {
    let source = common::import_source(store).await;
    let file = File::open(common::dataset(data)).expect("the CDNOW data set in shared/");
    import(
        store.clone(),
        source,
        BufReader::new(file),
        Format::Mapped(common::mapping(mapping)),
        |_| {},
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn cdnow_sample_imports_once() {
    let (_dir, store) = common::new_store();
    let summary = import_file(&store, "CDNOW_sample.txt", "examples/cdnow.toml").await;
    assert_eq!(summary.rejected, 0, "{}", summary.to_text());
    assert_eq!(summary.imported, 6_919);
    assert_eq!(summary.to_text(), "imported 6919 events (0 duplicates)");
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.events, stats.profiles), (6_919, 2_357));

    // "0001" is customer "1", as in cdnow_customers_summary.csv.
    let profile = store.profile("1").await.unwrap().expect("customer 1");
    assert_eq!(profile.event_count, 4);
    assert_eq!(
        profile.first_seen.unwrap().to_string(),
        "1997-01-01T00:00:00Z"
    );
    let events = store.profile_events("1", 10).await.unwrap().unwrap();
    let first = events.last().expect("newest first");
    assert_eq!(first.name.as_deref(), Some("Order Completed"));
    assert_eq!(first.timestamp.to_string(), "1997-01-01T00:00:00Z");
    let properties = first.properties();
    assert_eq!(properties["revenue"], 29.33);
    assert_eq!(properties["quantity"], 2);

    let again = import_file(&store, "CDNOW_sample.txt", "examples/cdnow.toml").await;
    assert_eq!((again.imported, again.duplicates), (0, 6_919));
    assert_eq!(store.stats().await.unwrap().events, 6_919);
    store.close().await.unwrap();
}

#[tokio::test]
async fn cdnow_master_imports_with_names_from_its_header() {
    let (_dir, store) = common::new_store();
    let summary = import_file(&store, "CDNOW_master.txt", "examples/cdnow_master.toml").await;
    assert_eq!(summary.rejected, 0, "{}", summary.to_text());
    assert_eq!(summary.imported, 69_659);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.events, stats.profiles), (69_659, 23_570));
    let profile = store.profile("1").await.unwrap().expect("customer 1");
    assert_eq!(profile.user_id.as_deref(), Some("1"));
    store.close().await.unwrap();
}
