//! Recommendations at shop scale: ingest into the model, rebuild its similarity rows, answer
//! queries, refresh after new traffic.
//!
//! The data is synthetic but shaped like a shop's, and the same for the same `--seed`: items in
//! categories whose popularity falls off like Zipf's law (so do the items within a category),
//! people with two or three favourite categories and very unequal activity, browsing that often
//! follows an item's fixed "viewed together" companion, and a mix of about 80% views, 15% cart
//! adds and 5% purchases (carts and purchases are of what the person just viewed) spread over
//! 180 days. All of it is generated before anything is timed.
//!
//! Measured, in order:
//! * ingest: interactions per second through `Model::observe`, one thread;
//! * rebuild: every neighbour row (median of `--runs`), both cores;
//! * memory: the process's peak resident set (VmHWM, which includes the pre-generated
//!   interactions) and the model's own estimate of its heap;
//! * `for_you` latency over 100,000 random profiles and `similar` over 100,000 random items,
//!   beside the 1 ms goal for an answer a template can wait for;
//! * refresh: time to bring rows current after 100, 1,000 and then 10,000 more interactions.
//!
//! Prints one JSON object; `bench/recommend.sh` builds and runs it.

use clap::Parser;
use herald_core::{ProfileId, Timestamp};
use herald_recommend::{ItemInfo, Model, Settings, Signal};
use serde_json::json;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Latency goal for one query, in milliseconds.
const GOAL_MS: f64 = 1.0;
/// Lookups timed per query kind.
const LOOKUPS: usize = 100_000;
/// Interactions added before each timed refresh (the last is the headline figure).
const FRESH: [u64; 3] = [100, 1_000, 10_000];
/// Length of the simulated history.
const DAYS: u64 = 180;
/// Where the simulated history ends (2026-01-01T00:00:00Z), in seconds since the epoch.
const END_S: u64 = 1_767_225_600;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 50_000)]
    items: u32,
    #[arg(long, default_value_t = 200)]
    categories: u32,
    #[arg(long, default_value_t = 1_000_000)]
    profiles: u32,
    #[arg(long, default_value_t = 10_000_000)]
    interactions: u64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Rebuilds timed (default: 3, or 1 from 5 million interactions up).
    #[arg(long)]
    runs: Option<usize>,
}

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Cumulative weights of ranks under Zipf's law with exponent `s`, for sampling by bisection.
fn zipf(n: u32, s: f64) -> Vec<f64> {
    let mut total = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|rank| {
            total += f64::from(rank).powf(-s);
            total
        })
        .collect();
    cdf.iter_mut().for_each(|c| *c /= total);
    cdf
}

fn draw(cdf: &[f64], rng: &mut Rng) -> u32 {
    let u = rng.unit();
    cdf.partition_point(|&c| c < u).min(cdf.len() - 1) as u32
}

/// One simulated interaction (16 bytes, so 10 million fit in 160 MB).
#[derive(Clone, Copy)]
struct Interaction {
    profile: u32,
    item: u32,
    /// Seconds since the epoch.
    at: u32,
    signal: Signal,
}

/// The simulated shop: its catalog shape and each person's state.
struct Shop {
    items: u32,
    per_category: u32,
    category_cdf: Vec<f64>,
    item_cdf: Vec<f64>,
    profiles: u32,
    /// The item each person looked at last (`u32::MAX`: none yet).
    last: Vec<u32>,
    seed: u64,
    rng: Rng,
}

impl Shop {
    fn new(args: &Args) -> Shop {
        let categories = args.categories.clamp(1, args.items.max(1));
        let per_category = args.items.max(1).div_ceil(categories);
        Shop {
            items: args.items.max(1),
            per_category,
            category_cdf: zipf(categories, 0.8),
            item_cdf: zipf(per_category, 1.0),
            profiles: args.profiles.max(1),
            last: vec![u32::MAX; args.profiles.max(1) as usize],
            seed: args.seed,
            rng: Rng(args.seed),
        }
    }

    fn category_of(&self, item: u32) -> u32 {
        item / self.per_category
    }

    /// The item browsing from `item` often leads to: fixed per item, in the same category and
    /// among its more popular items.
    fn companion(&self, item: u32) -> u32 {
        let mut rng = Rng(mix(self.seed ^ 0xC0_4A41 ^ u64::from(item)));
        self.in_category(self.category_of(item), &mut rng)
    }

    fn in_category(&self, category: u32, rng: &mut Rng) -> u32 {
        (category * self.per_category + draw(&self.item_cdf, rng)).min(self.items - 1)
    }

    /// One of the person's two or three favourite categories (derived from the person, so
    /// nothing is stored for it).
    fn favourite(&mut self, profile: u32) -> u32 {
        let mut own = Rng(mix(self.seed ^ 0xFA7 ^ u64::from(profile)));
        let count = 2 + own.below(2);
        let pick = self.rng.below(count);
        let mut category = 0;
        for _ in 0..=pick {
            category = draw(&self.category_cdf, &mut own);
        }
        category
    }

    /// The next interaction, at `at`.
    fn interaction(&mut self, at: u32) -> Interaction {
        // Activity is very unequal: index i is drawn with density ∝ i^(-1/3).
        let profile =
            ((self.rng.unit().powf(1.5) * f64::from(self.profiles)) as u32).min(self.profiles - 1);
        let last = self.last[profile as usize];
        let roll = self.rng.unit();
        let (item, signal) = if last != u32::MAX && roll < 0.15 {
            (last, Signal::Cart)
        } else if last != u32::MAX && roll < 0.20 {
            (last, Signal::Purchase)
        } else if last != u32::MAX && roll < 0.45 {
            (self.companion(last), Signal::View)
        } else {
            let category = if self.rng.unit() < 0.9 {
                self.favourite(profile)
            } else {
                draw(&self.category_cdf, &mut self.rng)
            };
            let mut rng = Rng(self.rng.next());
            (self.in_category(category, &mut rng), Signal::View)
        };
        self.last[profile as usize] = item;
        Interaction {
            profile,
            item,
            at,
            signal,
        }
    }
}

/// Spreads `n` interactions evenly over `span_s` seconds from `start_s`.
fn simulate(shop: &mut Shop, n: u64, start_s: u64, span_s: u64) -> Vec<Interaction> {
    (0..n)
        .map(|k| shop.interaction((start_s + k * span_s / n.max(1)) as u32))
        .collect()
}

fn profile_id(index: u32) -> ProfileId {
    // Scattered, as ids from a real identity table would be after merges and erasures.
    ProfileId(mix(u64::from(index) ^ 0x9F0F))
}

fn at(seconds: u32) -> Timestamp {
    Timestamp::from_second(i64::from(seconds)).expect("inside jiff's range")
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at].as_secs_f64() * 1e3
}

/// p50, p99 and max in milliseconds, with their ratio to the goal.
fn latency(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort_unstable();
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    let max = samples.last().map_or(0.0, |d| d.as_secs_f64() * 1e3);
    json!({
        "p50_ms": round(p50, 4),
        "p99_ms": round(p99, 4),
        "max_ms": round(max, 3),
        "p50_to_goal": round(p50 / GOAL_MS, 4),
        "p99_to_goal": round(p99 / GOAL_MS, 4),
        "max_to_goal": round(max / GOAL_MS, 3),
    })
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn main() {
    let args = Args::parse();
    let runs = args
        .runs
        .unwrap_or(if args.interactions >= 5_000_000 { 1 } else { 3 })
        .max(1);
    let mut shop = Shop::new(&args);
    let names: Vec<String> = (0..shop.items).map(|i| format!("sku-{i:06}")).collect();
    eprintln!(
        "== simulating {} interactions (not timed)",
        args.interactions
    );
    // The history, then a last day for the refresh.
    let (span, cut) = (DAYS * 86_400, END_S - 86_400);
    let history = simulate(&mut shop, args.interactions, cut - span, span);

    let mut model = Model::new(Settings::default());
    for (i, name) in names.iter().enumerate() {
        let category = format!("category-{}", shop.category_of(i as u32));
        let info = ItemInfo {
            category: Some(category),
            available: true,
        };
        model.set_item(name, info);
    }
    eprintln!("== ingest");
    let started = Instant::now();
    for x in &history {
        model.observe(
            profile_id(x.profile),
            &names[x.item as usize],
            x.signal,
            at(x.at),
        );
    }
    let ingest_seconds = started.elapsed().as_secs_f64();
    let interactions = history.len();
    drop(history);

    eprintln!("== rebuild x{runs}");
    let mut rebuilds = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        model.rebuild(&|_, _| {});
        rebuilds.push(started.elapsed().as_secs_f64());
    }
    let mut sorted = rebuilds.clone();
    sorted.sort_by(f64::total_cmp);
    let rebuild_seconds = sorted[sorted.len() / 2];
    let stats = model.stats();
    let model_bytes = model.heap_bytes();

    eprintln!("== lookups");
    let now = at(cut as u32);
    let mut rng = Rng(args.seed ^ 0x100C);
    let mut for_you = Vec::with_capacity(LOOKUPS);
    let mut personal = 0u64;
    for _ in 0..LOOKUPS {
        let profile = profile_id(rng.below(u64::from(shop.profiles)) as u32);
        let started = Instant::now();
        let picks = model.for_you(profile, now, 10);
        for_you.push(started.elapsed());
        personal += u64::from(picks.strategy == herald_recommend::Strategy::Personal);
    }
    let mut similar = Vec::with_capacity(LOOKUPS);
    for _ in 0..LOOKUPS {
        let item = &names[rng.below(u64::from(shop.items)) as usize];
        let started = Instant::now();
        std::hint::black_box(model.similar(item, 10));
        similar.push(started.elapsed());
    }

    eprintln!("== refresh after {FRESH:?} interactions");
    let mut refreshes = Vec::new();
    let mut start = cut;
    for batch in FRESH {
        // Each batch is a few hours of the last day.
        for x in &simulate(&mut shop, batch, start, 28_800) {
            model.observe(
                profile_id(x.profile),
                &names[x.item as usize],
                x.signal,
                at(x.at),
            );
        }
        start += 28_800;
        let started = Instant::now();
        let rows = model.refresh();
        let seconds = started.elapsed().as_secs_f64();
        refreshes.push(json!({
            "after_interactions": batch,
            "rows": rows,
            "seconds": round(seconds, 4),
            "to_rebuild": round(seconds / rebuild_seconds.max(1e-9), 3),
        }));
    }

    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "items": shop.items,
            "profiles_simulated": shop.profiles,
            "interactions": interactions,
            "threads": rayon::current_num_threads(),
            "model": stats,
            "ingest_seconds": round(ingest_seconds, 3),
            "ingest_interactions_per_s": (interactions as f64 / ingest_seconds).round(),
            "rebuild_seconds": round(rebuild_seconds, 3),
            "rebuild_runs": rebuilds.iter().map(|s| round(*s, 3)).collect::<Vec<_>>(),
            "peak_rss_mb": peak_rss_bytes().map(|b| round(b as f64 / 1e6, 1)),
            "model_heap_mb": round(model_bytes as f64 / 1e6, 1),
            "model_bytes_per_interaction": round(model_bytes as f64 / interactions.max(1) as f64, 1),
            "for_you": latency(for_you),
            "for_you_personal_share": round(personal as f64 / LOOKUPS as f64, 3),
            "similar": latency(similar),
            "refresh": refreshes,
            "goal_ms": GOAL_MS,
        }))
        .expect("JSON")
    );
}
