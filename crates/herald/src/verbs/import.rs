//! `herald import`: files into the event log, through the same validation as HTTP.

use anyhow::Context;
use herald_import::{Format, ImportSummary, Mapping, Progress, import};
use herald_store::{IMPORT_SOURCE, Store};
use herald_store_sqlite::Access;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

pub async fn run(file: &Path, dir: &Path, mapping: Option<&Path>) -> anyhow::Result<()> {
    let format = match mapping {
        Some(path) => Format::Mapped(Mapping::load(path)?),
        None => Format::Ndjson,
    };
    let (reader, total): (Box<dyn BufRead + Send>, Option<u64>) = if file == Path::new("-") {
        (
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
            None,
        )
    } else {
        let f = std::fs::File::open(file)
            .with_context(|| format!("could not open {}", file.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, f)), len)
    };
    let store = super::open(dir, Access::ReadWrite)?;
    let summary = import_into(store.clone(), reader, format, total).await?;
    // No server runs on this store (it could not be opened otherwise): bring segments up to date.
    let now = herald_core::Timestamp::now();
    let mut segmenter = herald_segmenter::Segmenter::load(store.clone(), now).await?;
    if !segmenter.definitions().is_empty() {
        segmenter.catch_up(now).await?;
    }
    store.close().await?;
    println!("{}", serde_json::to_string(&summary)?);
    eprintln!("{}", summary.to_text());
    Ok(())
}

/// Imports with a progress bar on a terminal (hidden otherwise).
pub async fn import_into(
    store: Arc<dyn Store>,
    reader: Box<dyn BufRead + Send>,
    format: Format,
    total_bytes: Option<u64>,
) -> anyhow::Result<ImportSummary> {
    let source = store.named_source(IMPORT_SOURCE).await?;
    let bar = match total_bytes {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} {msg}").expect("valid template"),
        ),
    };
    let progress_bar = bar.clone();
    let summary = import(store, source, reader, format, move |p: Progress| {
        progress_bar.set_position(p.bytes);
        progress_bar.set_message(format!("{} lines", p.lines));
    })
    .await?;
    bar.finish_and_clear();
    Ok(summary)
}
