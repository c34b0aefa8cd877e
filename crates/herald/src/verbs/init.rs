//! `herald init`: create a store and print its credentials once.

use anyhow::Context;
use herald_core::credentials::Secret;
use herald_store::NewStore;
use herald_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};

/// A secret given on the command line, read from a file (`*_FILE`), or none.
pub fn secret(value: Option<String>, file: Option<PathBuf>) -> anyhow::Result<Option<Secret>> {
    match (value, file) {
        (Some(v), _) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("could not read the secret file {}", path.display()))?;
            Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r']))))
        }
        (None, None) => Ok(None),
    }
    .and_then(|s| match s {
        Some(s) if s.expose().is_empty() => {
            anyhow::bail!("a write key or admin token cannot be empty")
        }
        other => Ok(other),
    })
}

/// A random credential: 32 bytes of OS randomness, hex, with a prefix that says what it is.
pub fn random_secret(prefix: &str) -> Secret {
    Secret::new(format!(
        "{prefix}{}",
        hex::encode(rand::random::<[u8; 24]>())
    ))
}

pub fn create(
    dir: &Path,
    write_key: Option<Secret>,
    admin_token: Option<Secret>,
) -> anyhow::Result<NewStore> {
    let new = NewStore {
        write_key: write_key.unwrap_or_else(|| random_secret("wk_")),
        admin_token: admin_token.unwrap_or_else(|| random_secret("adm_")),
    };
    SqliteStore::create(dir, &new)?;
    Ok(new)
}

pub fn run(
    dir: &Path,
    write_key: Option<Secret>,
    admin_token: Option<Secret>,
) -> anyhow::Result<()> {
    let new = create(dir, write_key, admin_token)?;
    println!(
        "{}",
        serde_json::json!({"write_key": new.write_key.expose(), "admin_token": new.admin_token.expose()})
    );
    eprintln!(
        "created a Herald store in {}; keep the admin token: only its hash is stored",
        dir.display()
    );
    Ok(())
}
