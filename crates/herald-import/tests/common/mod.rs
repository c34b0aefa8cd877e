//! Helpers shared by the integration tests.

#![allow(dead_code)]

use herald_core::SourceId;
use herald_core::credentials::Secret;
use herald_import::{Format, ImportSummary, Mapping, import};
use herald_store::{IMPORT_SOURCE, NewStore, Store};
use herald_store_sqlite::{Access, SqliteStore};
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

/// A new store in a temporary directory (removed when the `TempDir` is dropped).
pub fn new_store() -> (TempDir, Arc<SqliteStore>) {
    let dir = TempDir::new().unwrap();
    SqliteStore::create(
        dir.path(),
        &NewStore {
            write_key: Secret::new("wk"),
            admin_token: Secret::new("admin-secret"),
        },
    )
    .unwrap();
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    (dir, Arc::new(store))
}

/// A path relative to the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// The CDNOW data set, which lives beside the repository in `shared/`.
pub fn dataset(file: &str) -> PathBuf {
    repo_path("../shared/datasets/cdnow").join(file)
}

pub fn mapping(relative: &str) -> Mapping {
    Mapping::load(&repo_path(relative)).unwrap_or_else(|e| panic!("{e}"))
}

pub async fn import_source(store: &Arc<SqliteStore>) -> SourceId {
    store.named_source(IMPORT_SOURCE).await.unwrap()
}

/// Imports `text` with `format` and returns the summary.
pub async fn import_text(store: &Arc<SqliteStore>, text: &str, format: Format) -> ImportSummary {
    let source = import_source(store).await;
    let reader = std::io::Cursor::new(text.as_bytes().to_vec());
    import(store.clone(), source, reader, format, |_| {})
        .await
        .unwrap()
}
