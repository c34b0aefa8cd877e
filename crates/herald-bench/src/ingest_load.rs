//! Load generator for durable ingest over HTTP.
//!
//! Builds realistic `/v1/batch` payloads from the generator before the clock starts, posts them
//! over several keep-alive connections, and reports durable events/s (every answer comes after the
//! fsync) with request latency percentiles. In the same run it measures the anchor: how fast this
//! machine merely parses and validates the same payloads, on one core, with no I/O at all.

use anyhow::{Context, bail};
use clap::Parser;
use herald_generate::{Generator, Options};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Base URL of a running `herald serve`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long)]
    write_key: String,
    /// Events to send in all.
    #[arg(long, default_value_t = 500_000)]
    events: usize,
    /// Events per batch request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seed for the generated shop (vary it to avoid duplicates against an existing store).
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn payloads(args: &Args) -> Vec<(String, usize)> {
    // ~40 events per profile per 90 days in the generator; ask for enough profiles.
    let profiles = (args.events / 30).max(100) as u64;
    let opts = Options::new(profiles, 90, args.seed, jiff::Timestamp::now());
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::with_capacity(args.batch);
    for line in Generator::new(&opts).take(args.events) {
        current.push(line);
        if current.len() == args.batch {
            out.push((
                format!("{{\"batch\":[{}]}}", current.join(",")),
                current.len(),
            ));
            current.clear();
        }
    }
    if !current.is_empty() {
        out.push((
            format!("{{\"batch\":[{}]}}", current.join(",")),
            current.len(),
        ));
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Parse + validate rate on one core, with no HTTP and no storage: the anchor.
fn parse_rate(payloads: &[(String, usize)]) -> f64 {
    let now = jiff::Timestamp::now();
    let mut n = 0u64;
    let mut make_id = || {
        n += 1;
        format!("id-{n}")
    };
    let started = Instant::now();
    let mut events = 0usize;
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(2) || rounds == 0 {
        for (body, _) in payloads {
            let batch =
                herald_core::parse::parse_batch(body, now, &mut make_id).expect("valid payload");
            events += batch.items.iter().filter(|i| i.is_ok()).count();
        }
        rounds += 1;
    }
    events as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    eprintln!(
        "building {} events in batches of {} ...",
        args.events, args.batch
    );
    let payloads = Arc::new(payloads(&args));
    let total_events: usize = payloads.iter().map(|p| p.1).sum();
    let total_bytes: usize = payloads.iter().map(|p| p.0.len()).sum();

    let client = herald_channels::http::client_builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    let health = client
        .get(format!("{}/healthz", args.url))
        .send()
        .await
        .context("is `herald serve` running?")?;
    if !health.status().is_success() {
        bail!("{} answered /healthz with {}", args.url, health.status());
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let (client, payloads, next) = (client.clone(), payloads.clone(), next.clone());
        let url = format!("{}/v1/batch", args.url);
        let key = args.write_key.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut stored = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, _)) = payloads.get(i) else {
                    break;
                };
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .basic_auth(&key, Some(""))
                    .body(body.clone())
                    .send()
                    .await?;
                let status = r.status();
                let v: serde_json::Value = r.json().await?;
                latencies.push(t.elapsed());
                if !status.is_success() {
                    bail!("batch {i} refused: {status} {v}");
                }
                stored += v["accepted"].as_u64().unwrap_or(0);
            }
            Ok::<_, anyhow::Error>((latencies, stored))
        }));
    }
    let mut latencies = Vec::new();
    let mut accepted = 0;
    for w in workers {
        let (l, s) = w.await??;
        latencies.extend(l);
        accepted += s;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let durable_rate = accepted as f64 / elapsed.as_secs_f64();

    eprintln!("measuring the parse-only anchor on one core ...");
    let parse = parse_rate(&payloads);
    let report = serde_json::json!({
        "events": total_events,
        "accepted": accepted,
        "requests": payloads.len(),
        "batch": args.batch,
        "connections": args.connections,
        "mean_event_bytes": total_bytes / total_events.max(1),
        "seconds": elapsed.as_secs_f64(),
        "durable_events_per_s": durable_rate.round(),
        "request_p50_ms": percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        "request_p99_ms": percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        "parse_only_events_per_s_one_core": parse.round(),
        "ratio_durable_to_parse_only": durable_rate / parse,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
