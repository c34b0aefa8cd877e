//! Latency from an event to the journey send it causes, through a running `herald serve`.
//!
//! The store must hold a segment `pinged` (anyone with a `Ping` in the last day) and two
//! journeys that each send one email at once: one started by entering `pinged` (event → segment
//! change → send) and one started by the `Ping` event itself (event → send, no segment hop).
//! `bench/journeys.sh` sets that up.
//!
//! While a steady background load of generated shop events goes in, one `Ping` is posted for
//! each of `--pings` new people at a steady pace, and the wall-clock instant each was
//! acknowledged is kept. Two latencies are then taken per person and journey:
//!
//! * `decided`: the outbox message's `created_at` minus the acknowledgement. `created_at` is the
//!   conductor's clock at the start of the pass that took the decision, stored in whole
//!   milliseconds; it can precede the moment the client holds the acknowledgement (the answer
//!   is still on its way), so small negative values are expected;
//! * `visible`: when this program first saw the message committed in the outbox (it polls the
//!   SQLite file read-only every `--poll-ms`) minus the acknowledgement. This is what a message
//!   layer reading the outbox could act on, so it includes the commit's fsync (and up to one
//!   poll interval).
//!
//! `segment_hop_visible` is, per person, the segment journey's `visible` minus the direct one's:
//! what the segment engine's step and the runner's second pass add.
//!
//! Both clocks are this machine's wall clock. Prints JSON with percentiles for both journeys and
//! both measures, the background rate achieved, the server's commit-time histogram, and the
//! design goal beside them.

use anyhow::{Context, bail};
use clap::Parser;
use herald_generate::{Generator, Options};
use herald_store::Store;
use herald_store_sqlite::{Access, SqliteStore};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// DESIGN: "event → segment change → journey send handed to channel: p99 ≤ 20 ms".
const GOAL_P99_MS: f64 = 20.0;

#[derive(Parser)]
struct Args {
    /// Base URL of a running `herald serve`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long)]
    write_key: String,
    /// The server's data directory: the outbox is read from it, read-only.
    #[arg(long)]
    data: PathBuf,
    /// People who each send one `Ping`.
    #[arg(long, default_value_t = 2_000)]
    pings: usize,
    /// Pings per second.
    #[arg(long, default_value_t = 200.0)]
    ping_rate: f64,
    /// Background events per second (0: none).
    #[arg(long, default_value_t = 2_000.0)]
    background_rate: f64,
    /// Background events per `/v1/batch` request.
    #[arg(long, default_value_t = 50)]
    background_batch: usize,
    /// Background load before the first ping, in seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// How often to look for new outbox messages, in milliseconds (0: only read it at the end,
    /// and report no `visible` figures).
    #[arg(long, default_value_t = 1)]
    poll_ms: u64,
    /// The journey started by entering the segment.
    #[arg(long, default_value = "ping_segment")]
    segment_journey: String,
    /// The journey started by the `Ping` itself.
    #[arg(long, default_value = "ping_direct")]
    direct_journey: String,
    /// How long to wait, after the last ping, for every send to reach the outbox.
    #[arg(long, default_value_t = 30)]
    settle_secs: u64,
    /// Seed for the background shop.
    #[arg(long, default_value_t = 21)]
    seed: u64,
}

/// The background load, built before the clock starts: `/v1/batch` bodies and their sizes.
fn background(args: &Args, seconds: f64) -> Vec<(String, usize)> {
    let events = (args.background_rate * seconds).ceil() as usize;
    if events == 0 {
        return Vec::new();
    }
    // ~40 events per person per 90 days in the generator: ask for enough people.
    let profiles = (events / 30).max(100) as u64;
    let opts = Options::new(profiles, 90, args.seed, jiff::Timestamp::now());
    let lines: Vec<String> = Generator::new(&opts).take(events).collect();
    lines
        .chunks(args.background_batch.max(1))
        .map(|c| (format!("{{\"batch\":[{}]}}", c.join(",")), c.len()))
        .collect()
}

/// Milliseconds between two wall-clock instants.
fn ms_between(from: jiff::Timestamp, to: jiff::Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64() * 1e3
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn summary(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    json!({
        "count": ms.len(),
        "min_ms": round2(ms.first().copied().unwrap_or(f64::NAN)),
        "p50_ms": round2(percentile(&ms, 0.50)),
        "p90_ms": round2(percentile(&ms, 0.90)),
        "p99_ms": round2(percentile(&ms, 0.99)),
        "max_ms": round2(ms.last().copied().unwrap_or(f64::NAN)),
    })
}

/// Outbox sequence number → when this program first saw it committed.
type Seen = Arc<Mutex<HashMap<u64, jiff::Timestamp>>>;

/// Polls the outbox until `stop`, noting when each new message first shows.
async fn watch_outbox(store: Arc<SqliteStore>, every: Duration, seen: Seen, stop: Arc<AtomicBool>) {
    let mut after = 0;
    while !stop.load(Ordering::Relaxed) {
        match store.outbox(after, 10_000, None).await {
            Ok(page) => {
                let now = jiff::Timestamp::now();
                let mut seen = seen.lock().expect("seen lock");
                for m in &page {
                    seen.entry(m.seq).or_insert(now);
                    after = after.max(m.seq);
                }
            }
            Err(e) => eprintln!("reading the outbox failed (will retry): {e}"),
        }
        tokio::time::sleep(every).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.pings == 0 || args.ping_rate <= 0.0 {
        bail!("--pings and --ping-rate must be positive");
    }
    let ping_seconds = args.pings as f64 / args.ping_rate;
    // Enough background for the warm-up, the pings, and a tail while the last acks come back.
    let payloads = Arc::new(background(&args, args.warmup + ping_seconds + 5.0));
    let client = herald_channels::http::client_builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let health = client
        .get(format!("{}/healthz", args.url))
        .send()
        .await
        .context("is `herald serve` running?")?;
    if !health.status().is_success() {
        bail!("{} answered /healthz with {}", args.url, health.status());
    }
    let store = Arc::new(
        SqliteStore::open(&args.data, Access::ReadOnly)
            .with_context(|| format!("opening {} read-only", args.data.display()))?,
    );
    // People of this run only: a rerun against the same store does not mix figures.
    let run = jiff::Timestamp::now().as_millisecond();
    let prefix = format!("lat-{run}-");

    let seen: Seen = Arc::default();
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = (args.poll_ms > 0).then(|| {
        tokio::spawn(watch_outbox(
            store.clone(),
            Duration::from_millis(args.poll_ms),
            seen.clone(),
            stop_watch.clone(),
        ))
    });

    // Background: one batch every `batch / rate` seconds, each in its own task so that a slow
    // answer never delays the next (the load stays open-loop and steady).
    let stop_background = Arc::new(AtomicBool::new(false));
    let background_accepted = Arc::new(AtomicU64::new(0));
    let background_started = Instant::now();
    let background_task = {
        let (client, payloads, stop) = (client.clone(), payloads.clone(), stop_background.clone());
        let accepted = background_accepted.clone();
        let url = format!("{}/v1/batch", args.url);
        let key = args.write_key.clone();
        let period = (args.background_batch as f64 / args.background_rate.max(1e-9)).max(0.001);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(period));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut posts = Vec::new();
            for (body, _) in payloads.iter() {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (client, url, key, body, accepted) = (
                    client.clone(),
                    url.clone(),
                    key.clone(),
                    body.clone(),
                    accepted.clone(),
                );
                posts.push(tokio::spawn(async move {
                    let r = client
                        .post(&url)
                        .basic_auth(&key, Some(""))
                        .body(body)
                        .send()
                        .await?;
                    let status = r.status();
                    let v: Value = r.json().await?;
                    if !status.is_success() {
                        bail!("a background batch was refused: {status} {v}");
                    }
                    accepted.fetch_add(v["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                    Ok(())
                }));
            }
            for p in posts {
                p.await??;
            }
            Ok::<_, anyhow::Error>(())
        })
    };
    if !payloads.is_empty() {
        eprintln!(
            "background load at {} events/s; pings start in {} s",
            args.background_rate, args.warmup
        );
        tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    }

    // The pings, paced the same open-loop way; each remembers when it was acknowledged.
    eprintln!("posting {} pings at {}/s ...", args.pings, args.ping_rate);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.ping_rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pings = Vec::with_capacity(args.pings);
    for i in 0..args.pings {
        tick.tick().await;
        let client = client.clone();
        let url = format!("{}/v1/track", args.url);
        let key = args.write_key.clone();
        let user = format!("{prefix}{i}");
        pings.push(tokio::spawn(async move {
            let body =
                json!({"userId": user, "event": "Ping", "messageId": format!("{user}-ping")});
            let sent = Instant::now();
            let r = client
                .post(&url)
                .basic_auth(&key, Some(""))
                .json(&body)
                .send()
                .await?;
            let status = r.status();
            let text = r.text().await?;
            // The acknowledgement: the answer, whole, after the server's fsync.
            let acked = jiff::Timestamp::now();
            if !status.is_success() {
                bail!("a ping was refused: {status} {text}");
            }
            Ok::<_, anyhow::Error>((user, acked, sent.elapsed()))
        }));
    }
    let mut acks: HashMap<String, jiff::Timestamp> = HashMap::new();
    let mut request_ms = Vec::new();
    for p in pings {
        let (user, acked, took) = p.await??;
        acks.insert(user, acked);
        request_ms.push(took.as_secs_f64() * 1e3);
    }
    stop_background.store(true, Ordering::Relaxed);
    let background_seconds = background_started.elapsed().as_secs_f64();
    background_task.await??;
    let background_events = background_accepted.load(Ordering::Relaxed);

    // Wait for both sends of every ping to be in the outbox (or give up after --settle-secs).
    let expected = 2 * args.pings;
    let deadline = Instant::now() + Duration::from_secs(args.settle_secs);
    let (messages, names) = loop {
        let mut messages = Vec::new();
        let mut after = 0;
        loop {
            let page = store.outbox(after, 10_000, None).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            messages.extend(page);
        }
        let names: HashMap<_, _> = store
            .display_ids(messages.iter().map(|m| m.profile).collect())
            .await?
            .into_iter()
            .collect();
        let ours = messages
            .iter()
            .filter(|m| {
                names
                    .get(&m.profile)
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .count();
        if ours >= expected || Instant::now() >= deadline {
            break (messages, names);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop_watch.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        w.await?;
    }
    let seen = seen.lock().expect("seen lock").clone();

    let mut decided: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut visible: HashMap<&str, Vec<f64>> = HashMap::new();
    let journeys = [args.segment_journey.as_str(), args.direct_journey.as_str()];
    for m in &messages {
        let Some(journey) = journeys.iter().copied().find(|j| *j == m.journey) else {
            continue;
        };
        let Some(acked) = names.get(&m.profile).and_then(|n| acks.get(n)) else {
            continue;
        };
        decided
            .entry(journey)
            .or_default()
            .push(ms_between(*acked, m.created_at));
        if let Some(at) = seen.get(&m.seq) {
            visible
                .entry(journey)
                .or_default()
                .push(ms_between(*acked, *at));
        }
    }
    // The segment hop alone: per person, the segment journey's send minus the direct one's.
    let mut per_person: HashMap<&str, (Option<f64>, Option<f64>)> = HashMap::new();
    for m in &messages {
        let (Some(name), Some(at)) = (names.get(&m.profile), seen.get(&m.seq)) else {
            continue;
        };
        let Some(acked) = acks.get(name) else {
            continue;
        };
        let slot = per_person.entry(name.as_str()).or_default();
        if m.journey == args.segment_journey {
            slot.0 = Some(ms_between(*acked, *at));
        } else if m.journey == args.direct_journey {
            slot.1 = Some(ms_between(*acked, *at));
        }
    }
    let hop: Vec<f64> = per_person
        .values()
        .filter_map(|(segment, direct)| Some((*segment)? - (*direct)?))
        .collect();
    // The server's own view of its commits (group commit time, commands per commit) and of its
    // WAL checkpoints, whose fsyncs share the disk with the commits'.
    let commits = match client.get(format!("{}/metrics", args.url)).send().await {
        Ok(r) => r
            .text()
            .await
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("herald_commit_") || l.starts_with("herald_checkpoint"))
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    let figures = |journey: &str| {
        json!({
            "journey": journey,
            "matched": decided.get(journey).map_or(0, Vec::len),
            "decided": summary(decided.get(journey).cloned().unwrap_or_default()),
            "visible": summary(visible.get(journey).cloned().unwrap_or_default()),
        })
    };
    let report = json!({
        "pings": args.pings,
        "ping_rate_per_s": args.ping_rate,
        "acknowledged": acks.len(),
        "ping_request": summary(request_ms),
        "background_events": background_events,
        "background_events_per_s": (background_events as f64 / background_seconds).round(),
        "background_target_per_s": args.background_rate,
        "event_to_segment_to_send": figures(&args.segment_journey),
        "event_to_send": figures(&args.direct_journey),
        "segment_hop_visible": summary(hop),
        "goal_p99_ms": GOAL_P99_MS,
        "server_commits": commits,
        "poll_ms": args.poll_ms,
        "created_at_precision": "milliseconds (the outbox stores whole ms; decided figures can be up to 1 ms low)",
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
