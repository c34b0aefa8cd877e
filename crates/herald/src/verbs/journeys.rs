//! `herald journeys ...`: apply journeys and rules, list them with their per-step counts.
//!
//! Like the segment verbs: writing needs the store to itself (a running server's API does the
//! same), and reading first brings segments and journeys up to now when no server does.

use crate::cli::JourneysCommand;
use crate::verbs::segments::open_for_writing;
use anyhow::{Context, bail};
use herald_conductor::{Conductor, backtest, reports};
use herald_core::Timestamp;
use herald_journeys::ast::{Document, Journey, Rules};
use herald_journeys::{lang, library};
use herald_segmenter::Segmenter;
use herald_store::{Store, StoreError};
use herald_store_sqlite::{Access, SqliteStore};
use jiff::tz::TimeZone;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

pub async fn run(command: JourneysCommand) -> anyhow::Result<()> {
    match command {
        JourneysCommand::Library => {
            print!("{}", library::TEXT);
            Ok(())
        }
        JourneysCommand::Apply {
            file,
            data,
            dry_run,
        } => apply(&file, &data.dir, dry_run).await,
        JourneysCommand::List { data } => list(&data.dir).await,
        JourneysCommand::Migrate {
            name,
            data,
            dry_run,
        } => migrate(&name, &data.dir, dry_run).await,
        JourneysCommand::Backtest {
            journey,
            data,
            from,
            to,
        } => backtest(&journey, &data.dir, &from, to.as_deref()).await,
    }
}

async fn migrate(name: &str, dir: &Path, dry_run: bool) -> anyhow::Result<()> {
    let journey = herald_journeys::ast::JourneyName::parse(name).map_err(anyhow::Error::msg)?;
    let store = open_for_writing(dir, "POST /api/v1/journeys/NAME/migrate")?;
    let mut conductor = Conductor::load(store.clone(), default_zone()?).await?;
    let migrations = conductor.migrate(&journey, dry_run).await?;
    for m in &migrations {
        println!("{}", serde_json::to_string(m)?);
    }
    eprintln!(
        "{} of {} instances {}moved to the live version",
        migrations.iter().filter(|m| m.moved).count(),
        migrations.len(),
        if dry_run { "would be " } else { "" }
    );
    store.close().await?;
    Ok(())
}

fn instant(what: &str, text: &str) -> anyhow::Result<Timestamp> {
    text.parse().with_context(|| {
        format!("{what} `{text}` is not an RFC 3339 instant (e.g. 2026-01-31T00:00:00Z)")
    })
}

/// The journeys (and rules) a backtest runs: a file's, or one stored or library journey by name.
async fn backtest_subject(
    subject: &str,
    store: &dyn Store,
) -> anyhow::Result<(Vec<Journey>, Rules)> {
    let path = Path::new(subject);
    let stored_rules = match store.journey_rules().await? {
        Some(v) => serde_json::from_value(v).context("the stored journey rules")?,
        None => Rules::default(),
    };
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let doc = parse_document(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok((doc.journeys, doc.rules.unwrap_or(stored_rules)));
    }
    let stored = store
        .journey_definitions()
        .await?
        .into_iter()
        .find(|r| r.live && r.name == subject);
    if let Some(r) = stored {
        let j: Journey = serde_json::from_value(r.definition).context("the stored journey")?;
        return Ok((vec![j], stored_rules));
    }
    let lib = library::library();
    match lib
        .journeys
        .into_iter()
        .find(|j| j.name.as_str() == subject)
    {
        Some(j) => Ok((vec![j], lib.rules.unwrap_or_default())),
        None => bail!(
            "`{subject}` is neither a file nor a journey (stored or in `herald journeys library`)"
        ),
    }
}

async fn backtest(subject: &str, dir: &Path, from: &str, to: Option<&str>) -> anyhow::Result<()> {
    let from = instant("--from", from)?;
    let to = match to {
        Some(t) => instant("--to", t)?,
        None => Timestamp::now(),
    };
    if to < from {
        bail!("--to ({to}) is before --from ({from})");
    }
    let store = crate::verbs::open(dir, Access::ReadOnly)?;
    let (journeys, rules) = backtest_subject(subject, store.as_ref()).await?;
    let (actions, summary) =
        backtest::backtest(store.clone(), &journeys, rules, default_zone()?, from, to).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    for (a, who) in &actions {
        writeln!(out, "{}", backtest::action_json(a, who))?;
    }
    writeln!(out, "{}", json!({ "summary": summary }))?;
    out.flush()?;
    Ok(())
}

/// The zone of people without a `timezone` trait: `HERALD_TIMEZONE`, else UTC.
pub fn default_zone() -> anyhow::Result<TimeZone> {
    match std::env::var("HERALD_TIMEZONE") {
        Ok(name) => TimeZone::get(&name).with_context(|| {
            format!("HERALD_TIMEZONE={name} is not an IANA time zone (e.g. Europe/Paris)")
        }),
        Err(_) => Ok(TimeZone::UTC),
    }
}

/// Parses a journeys file: the JSON form when it starts with `{`, the text form otherwise.
pub fn parse_document(text: &str) -> Result<Document, String> {
    let doc = if text.trim_start().starts_with('{') {
        lang::from_json(text).map_err(|e| e.to_string())?
    } else {
        lang::parse(text).map_err(|e| e.to_string())?
    };
    lang::validate(&doc).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(doc)
}

async fn apply(file: &Path, dir: &Path, dry_run: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))?;
    let doc = parse_document(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let store = open_for_writing(dir, "PUT /api/v1/journeys/NAME")?;
    let events = store.event_names().await?;
    let segments: Vec<String> = store
        .segment_definitions()
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    for w in lang::lint(&doc, &events, &segments) {
        eprintln!("warning: {w}");
    }
    let mut conductor = Conductor::load(store.clone(), default_zone()?).await?;
    let report = conductor.apply(&doc, dry_run, Timestamp::now()).await?;
    for j in &report.journeys {
        println!(
            "{} {}: version {}{}",
            j.name,
            j.status,
            j.version,
            if dry_run { " (dry run)" } else { "" }
        );
    }
    if report.rules_changed {
        println!("rules changed{}", if dry_run { " (dry run)" } else { "" });
    }
    store.close().await?;
    Ok(())
}

/// Opens the store and, when no server runs, brings segments and journeys up to now.
async fn open_current(dir: &Path) -> anyhow::Result<Arc<SqliteStore>> {
    match SqliteStore::open(dir, Access::ReadWrite) {
        Ok(store) => {
            let store = Arc::new(store);
            let now = Timestamp::now();
            let mut segmenter = Segmenter::load(store.clone(), now).await?;
            segmenter.catch_up(now).await?;
            let mut conductor = Conductor::load(store.clone(), default_zone()?).await?;
            conductor.catch_up(now).await?;
            Ok(store)
        }
        Err(StoreError::Locked(_)) => Ok(Arc::new(SqliteStore::open(dir, Access::ReadOnly)?)),
        Err(e) => Err(e.into()),
    }
}

async fn list(dir: &Path) -> anyhow::Result<()> {
    let store = open_current(dir).await?;
    let records = store.journey_definitions().await?;
    if records.is_empty() {
        bail!(
            "no journeys in {}; apply some with `herald journeys library > journeys.txt && \
             herald journeys apply journeys.txt --data {}`",
            dir.display(),
            dir.display()
        );
    }
    for r in reports::journey_reports(store.as_ref(), None).await? {
        println!(
            "{}",
            json!({
                "name": r.name,
                "version": r.version,
                "active_instances": r.active_instances,
                "entered": r.entered,
                "sent": r.sent,
                "goals": r.goals,
                "exited": r.exited,
                "steps": r.steps,
            })
        );
    }
    Ok(())
}
