//! Segment backfill: replays a store's whole event log through the segment library.
//!
//! The first backfill scans the store into the segmenter's in-memory replay log (`cold`); later
//! ones replay that log, as a running server's backfills do (`seconds`: median of the warm runs).
//! Prints JSON with both times, events/s, the replay log's size, state bytes per profile, and
//! each segment's size, for `bench/segments.sh` to set beside DuckDB running the same rules.

use anyhow::Context;
use clap::Parser;
use herald_segmenter::Segmenter;
use herald_store_sqlite::{Access, SqliteStore};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// A store with events (it is opened for writing: stop any server on it).
    #[arg(long)]
    data: std::path::PathBuf,
    /// The instant to evaluate at, in milliseconds since the epoch.
    #[arg(long)]
    now: i64,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let now = jiff::Timestamp::from_millisecond(args.now).context("--now")?;
    let store = Arc::new(SqliteStore::open(&args.data, Access::ReadWrite)?);
    let library = herald_segments::library::library();
    let mut segmenter = Segmenter::load(store.clone(), now).await?;
    let started = Instant::now();
    let cold = segmenter.plan(library.clone(), now).await?;
    let cold_seconds = started.elapsed().as_secs_f64();
    let mut times = Vec::new();
    let mut last = Some(cold);
    for _ in 0..args.runs {
        let started = Instant::now();
        let plan = segmenter.plan(library.clone(), now).await?;
        times.push(started.elapsed().as_secs_f64());
        last = Some(plan);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let plan = last.expect("at least one run");
    let (replay_messages, replay_bytes) = segmenter.replay_log_size().unwrap_or_default();
    let (profiles, bytes) = plan.state_size();
    let preview = plan.preview.clone();
    // Then time passes: apply the plan and let 30 simulated days go by, a day at a time, firing
    // every timer that falls due (segment exits and entries caused by time alone).
    segmenter.apply(plan, now).await?;
    let started = Instant::now();
    let mut fired = 0;
    let mut changes = 0;
    for day in 1..=30 {
        let r = segmenter
            .catch_up(now + jiff::SignedDuration::from_hours(24 * day))
            .await?;
        fired += r.timers;
        changes += r.changes;
    }
    let timer_seconds = started.elapsed().as_secs_f64();
    let seconds = sorted[sorted.len() / 2];
    let counts: serde_json::Map<String, serde_json::Value> = preview
        .segments
        .iter()
        .map(|s| (s.name.clone(), s.after.into()))
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "events": preview.events,
            "seconds": seconds,
            "cold_seconds": cold_seconds,
            "replay_log_messages": replay_messages,
            "replay_log_bytes": replay_bytes,
            "runs": times,
            "events_per_s": (preview.events as f64 / seconds).round(),
            "timers_fired_30_days": fired,
            "time_changes_30_days": changes,
            "timers_per_s": (fired as f64 / timer_seconds).round(),
            "profiles_with_state": profiles,
            "state_bytes_per_profile": if profiles == 0 { 0.0 } else { bytes as f64 / profiles as f64 },
            "counts": counts,
        })
    );
    use herald_store::Store;
    store.close().await?;
    Ok(())
}
