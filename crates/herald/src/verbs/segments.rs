//! `herald segments ...`: define segments, list them, their members, explanations.
//!
//! Verbs that write need the store to themselves; with a server running they fail and point at
//! the HTTP API. Verbs that read bring membership up to date first when nobody else can (no
//! server running), so what they print is right for this instant.

use crate::cli::SegmentsCommand;
use anyhow::{Context, bail};
use herald_core::Timestamp;
use herald_segmenter::{Preview, Segmenter, history, stored_program};
use herald_segments::{Definition, lang, library};
use herald_store::{Store, StoreError};
use herald_store_sqlite::{Access, SqliteStore};
use std::path::Path;
use std::sync::Arc;

pub async fn run(command: SegmentsCommand) -> anyhow::Result<()> {
    match command {
        SegmentsCommand::Library => {
            print!("{}", library::LIBRARY);
            Ok(())
        }
        SegmentsCommand::Apply {
            file,
            data,
            dry_run,
        } => apply(&file, &data.dir, dry_run).await,
        SegmentsCommand::List { data } => list(&data.dir).await,
        SegmentsCommand::Members { name, data, at } => {
            members(&name, &data.dir, at.as_deref()).await
        }
        SegmentsCommand::Explain { name, id, data, at } => {
            explain(&name, &id, &data.dir, at.as_deref()).await
        }
    }
}

/// Parses a definitions file: JSON when it starts with `{` or `[`, the text form otherwise.
pub fn read_definitions(path: &Path) -> anyhow::Result<Vec<Definition>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    parse_definitions(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn parse_definitions(text: &str) -> Result<Vec<Definition>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        lang::from_json(text).map_err(|e| e.to_string())
    } else {
        lang::parse(text).map_err(|e| e.to_string())
    }
}

/// Opens for writing, explaining what to do when a server owns the store (`api`: the request
/// that does the same through the server).
pub(crate) fn open_for_writing(dir: &Path, api: &str) -> anyhow::Result<Arc<SqliteStore>> {
    match SqliteStore::open(dir, Access::ReadWrite) {
        Ok(s) => Ok(Arc::new(s)),
        Err(StoreError::Locked(_)) => bail!(
            "the store at {} is in use by a running Herald server; use its API ({api}) or stop \
             the server first",
            dir.display()
        ),
        Err(e) => Err(e.into()),
    }
}

/// Opens the store and, when no server keeps segments current, brings them up to now.
pub(crate) async fn open_current(dir: &Path) -> anyhow::Result<Arc<SqliteStore>> {
    match SqliteStore::open(dir, Access::ReadWrite) {
        Ok(store) => {
            let store = Arc::new(store);
            let mut segmenter = Segmenter::load(store.clone(), Timestamp::now()).await?;
            segmenter.catch_up(Timestamp::now()).await?;
            Ok(store)
        }
        Err(StoreError::Locked(_)) => Ok(Arc::new(SqliteStore::open(dir, Access::ReadOnly)?)),
        Err(e) => Err(e.into()),
    }
}

async fn apply(file: &Path, dir: &Path, dry_run: bool) -> anyhow::Result<()> {
    let incoming = read_definitions(file)?;
    let store = if dry_run {
        open_current(dir).await?
    } else {
        open_for_writing(dir, "PUT /api/v1/segments/NAME")?
    };
    let known: std::collections::HashSet<String> = store.event_names().await?.into_iter().collect();
    for warning in lang::lint(&incoming, &known) {
        eprintln!("warning: {warning}");
    }
    let mut segmenter = Segmenter::load(store.clone(), Timestamp::now()).await?;
    // The file adds or replaces the segments it names; the others stay.
    let mut definitions: Vec<Definition> = segmenter
        .definitions()
        .iter()
        .filter(|d| !incoming.iter().any(|n| n.name == d.name))
        .cloned()
        .collect();
    definitions.extend(incoming);
    let now = Timestamp::now();
    let plan = segmenter.plan(definitions, now).await?;
    print_preview(&*store, &plan.preview).await?;
    if !dry_run {
        segmenter.apply(plan, now).await?;
        eprintln!("applied");
    }
    store.close().await?;
    Ok(())
}

async fn print_preview(store: &dyn Store, preview: &Preview) -> anyhow::Result<()> {
    eprintln!(
        "{:<28} {:>10} {:>10} {:>9} {:>9}  (replayed {} events)",
        "segment", "before", "after", "entering", "leaving", preview.events
    );
    for s in &preview.segments {
        eprintln!(
            "{:<28} {:>10} {:>10} {:>9} {:>9}  {}",
            s.name, s.before, s.after, s.entering, s.leaving, s.status
        );
        for (label, sample) in [("+", &s.sample_entering), ("-", &s.sample_leaving)] {
            if !sample.is_empty() {
                let shown = store.display_ids(sample.clone()).await?;
                let ids: Vec<_> = shown.into_iter().map(|(_, id)| id).collect();
                eprintln!("    {label} {}", ids.join(", "));
            }
        }
    }
    println!("{}", serde_json::to_string(preview)?);
    Ok(())
}

async fn list(dir: &Path) -> anyhow::Result<()> {
    let store = open_current(dir).await?;
    for (name, size) in store.segment_sizes().await? {
        println!("{name}\t{size}");
    }
    store.close().await?;
    Ok(())
}

fn parse_at(at: Option<&str>) -> anyhow::Result<Option<Timestamp>> {
    at.map(|s| {
        herald_core::time::parse_timestamp(s).map_err(|e| {
            anyhow::anyhow!("--at {s}: {e}; write an RFC 3339 instant such as 2026-01-31T00:00:00Z")
        })
    })
    .transpose()
}

async fn members(name: &str, dir: &Path, at: Option<&str>) -> anyhow::Result<()> {
    let at = parse_at(at)?;
    let store = open_current(dir).await?;
    let program = stored_program(&*store).await?;
    let Some(idx) = program.index_of(name) else {
        bail!(
            "no segment named `{name}`; `herald segments list --data {}` shows them",
            dir.display()
        );
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    match at {
        None => {
            let mut after: Option<String> = None;
            loop {
                let page = store
                    .segment_members(name, after.as_deref(), 10_000)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                for m in &page {
                    writeln!(out, "{}", m.id)?;
                }
            }
        }
        Some(at) => {
            let all = history::members_at(&*store, &program, at).await?;
            let profiles: Vec<_> = all
                .into_iter()
                .filter(|(_, segs)| segs.contains(&idx))
                .map(|(p, _)| p)
                .collect();
            let mut ids: Vec<String> = store
                .display_ids(profiles)
                .await?
                .into_iter()
                .map(|(_, id)| id)
                .collect();
            ids.sort();
            for id in ids {
                writeln!(out, "{id}")?;
            }
        }
    }
    out.flush()?;
    store.close().await?;
    Ok(())
}

async fn explain(name: &str, id: &str, dir: &Path, at: Option<&str>) -> anyhow::Result<()> {
    let at = parse_at(at)?.unwrap_or_else(Timestamp::now);
    let store = open_current(dir).await?;
    let program = stored_program(&*store).await?;
    let Some(idx) = program.index_of(name) else {
        bail!(
            "no segment named `{name}`; `herald segments list --data {}` shows them",
            dir.display()
        );
    };
    let Some(profile) = store.resolve(id).await? else {
        bail!("no profile has the userId or anonymousId `{id}`");
    };
    let explanation = history::explain(&*store, &program, idx, profile, at).await?;
    println!("{}", serde_json::to_string_pretty(&explanation)?);
    store.close().await?;
    Ok(())
}
