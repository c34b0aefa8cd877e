//! `herald catalog ...`: import catalog files, list the items.

use crate::cli::CatalogCommand;
use crate::verbs::open;
use crate::verbs::segments::open_for_writing;
use anyhow::{Context, bail};
use herald_catalog::{Format, read_items};
use herald_core::Timestamp;
use herald_merchandising::{Recommender, catalog};
use herald_store::Store;
use herald_store_sqlite::Access;
use serde_json::json;
use std::path::Path;

/// Rejected records listed in the summary; the rest are only counted.
const SHOWN_ERRORS: usize = 20;

pub async fn run(command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Import { file, data } => import(&file, &data.dir).await,
        CatalogCommand::List { data, category } => list(&data.dir, category).await,
    }
}

async fn import(file: &Path, dir: &Path) -> anyhow::Result<()> {
    let Some(format) = Format::from_path(file) else {
        bail!(
            "{}: name the file .csv (a header row with product_id) or .ndjson (one JSON item per line)",
            file.display()
        );
    };
    let reader =
        std::fs::File::open(file).with_context(|| format!("could not open {}", file.display()))?;
    let now = Timestamp::now();
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut rejected = 0u64;
    for record in read_items(std::io::BufReader::new(reader), format, now) {
        match record {
            Ok(item) => items.push(item),
            Err(e) => {
                rejected += 1;
                if errors.len() < SHOWN_ERRORS {
                    errors.push(format!("{}:{e}", file.display()));
                }
            }
        }
    }
    let store = open_for_writing(dir, "PUT /api/v1/catalog/items")?;
    let read = items.len();
    // Price drops and restocks go to the people who recently looked: the model knows them.
    let recommender = Recommender::load(store.as_ref(), Default::default(), &|_, _| {}).await?;
    let report = catalog::update(store.as_ref(), &recommender, items, now).await?;
    store.close().await?;
    println!(
        "{}",
        json!({
            "read": read,
            "rejected": rejected,
            "errors": errors,
            "stored": report.stored,
            "price_dropped": report.price_dropped,
            "back_in_stock": report.back_in_stock,
            "events": report.events,
        })
    );
    for e in &errors {
        eprintln!("{e}");
    }
    if rejected > 0 {
        bail!(
            "{rejected} record(s) of {} were rejected (see above) and the other {read} imported; fix them and import the file again",
            file.display()
        );
    }
    Ok(())
}

async fn list(dir: &Path, category: Option<String>) -> anyhow::Result<()> {
    let store = open(dir, Access::ReadOnly)?;
    let mut after = None;
    loop {
        let page = store.catalog_page(category.clone(), after, 1_000).await?;
        for item in &page {
            println!("{}", item.to_json());
        }
        match page.last() {
            Some(last) if page.len() == 1_000 => after = Some(last.product_id.clone()),
            _ => return Ok(()),
        }
    }
}
