use std::path::PathBuf;

/// What can go wrong in a store, phrased for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no Herald store at {0}: create one with `herald init --data {0}`")]
    NotFound(PathBuf),
    #[error("a Herald store already exists at {0}: use it, or choose another --data directory")]
    AlreadyExists(PathBuf),
    #[error(
        "the store at {0} is in use by another Herald process (a running `herald serve`?): stop it first, or use its HTTP API"
    )]
    Locked(PathBuf),
    #[error(
        "the store at {path} was written by a newer Herald (schema {found}, this one knows {known}): upgrade Herald"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the store is opened read-only")]
    ReadOnly,
    #[error("the store is closed")]
    Closed,
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the storage backend failed: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("there is no offer named `{0}`: define the offer first, then add its codes")]
    UnknownOffer(String),
}
