//! Engine throughput with the shipped library (all its segments) over synthetic shop data from
//! `herald-generate`, and the state it keeps per profile.
//!
//! * `backfill`: every profile's history observed message by message at one `now` (the end of
//!   the data), as a backfill after creating or changing segments could do it;
//!   `backfill_batched`: the same with `observe_all` (segments evaluated once per profile).
//! * `live`: every message observed at its own timestamp, with `next_deadline` after each, as
//!   live ingest does.
//!
//! Message bodies are parsed before measuring: the engine's cost starts at a parsed message.
//! Bytes of state per profile are printed once (`cargo bench -p herald-segments --bench engine`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_core::MessageKind;
use herald_generate::{Generator, Options};
use herald_segments::engine::{Input, ProfileState, Program};
use jiff::Timestamp;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::hint::black_box;

struct Msg {
    kind: MessageKind,
    name: Option<String>,
    ts: Timestamp,
    props: Map<String, Value>,
    traits: Option<Map<String, Value>>,
}

impl Msg {
    fn input(&self) -> Input<'_> {
        Input {
            kind: self.kind,
            name: self.name.as_deref(),
            timestamp: self.ts,
            properties: (&self.props).into(),
            traits: self.traits.as_ref().map(Into::into),
            route: None,
        }
    }
}

/// Profiles' messages in log order (a person is their `userId`, else their `anonymousId`).
fn profiles(opts: &Options) -> Vec<Vec<Msg>> {
    let mut by_person: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Vec<Msg>> = Vec::new();
    for line in Generator::new(opts) {
        let Value::Object(mut m) = serde_json::from_str(&line).expect("generated JSON") else {
            continue;
        };
        let person = m
            .get("userId")
            .or_else(|| m.get("anonymousId"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = m
            .get("type")
            .and_then(Value::as_str)
            .and_then(MessageKind::parse)
            .expect("a message type");
        let ts: Timestamp = m["timestamp"]
            .as_str()
            .expect("timestamp")
            .parse()
            .expect("RFC 3339");
        let name = m.get("event").and_then(Value::as_str).map(str::to_owned);
        let props = match m.remove("properties") {
            Some(Value::Object(p)) => p,
            _ => Map::new(),
        };
        let traits = match (kind, m.remove("traits")) {
            (MessageKind::Identify, Some(Value::Object(t))) => Some(t),
            _ => None,
        };
        let i = *by_person.entry(person).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[i].push(Msg {
            kind,
            name,
            ts,
            props,
            traits,
        });
    }
    out
}

fn backfill(program: &Program, profiles: &[Vec<Msg>], now: Timestamp) -> Vec<ProfileState> {
    profiles
        .iter()
        .map(|msgs| {
            let mut state = program.new_state();
            for m in msgs {
                black_box(program.observe(&mut state, &m.input(), now));
            }
            state
        })
        .collect()
}

fn backfill_batched(program: &Program, profiles: &[Vec<Msg>], now: Timestamp) -> Vec<ProfileState> {
    profiles
        .iter()
        .map(|msgs| {
            let mut state = program.new_state();
            black_box(program.observe_all(&mut state, msgs.iter().map(Msg::input), now));
            state
        })
        .collect()
}

fn live(program: &Program, profiles: &[Vec<Msg>]) -> usize {
    let mut deadlines = 0;
    for msgs in profiles {
        let mut state = program.new_state();
        for m in msgs {
            black_box(program.observe(&mut state, &m.input(), m.ts));
            deadlines += usize::from(program.next_deadline(&state, m.ts).is_some());
        }
    }
    deadlines
}

fn report_state_sizes(program: &Program, states: &[ProfileState], segments: usize) {
    let n = states.len() as f64;
    let encoded: Vec<usize> = states.iter().map(|s| s.encode().len()).collect();
    let heap: Vec<usize> = states.iter().map(ProfileState::heap_bytes).collect();
    let inline = size_of::<ProfileState>();
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / n;
    let mut sorted = encoded.clone();
    sorted.sort_unstable();
    let members: usize = states.iter().map(|s| program.members(s).count()).sum();
    eprintln!(
        "state with {segments} segments over {} profiles: encoded mean {:.1} B (p50 {}, p99 {}, max {}); \
         in memory mean {:.1} B ({inline} inline + {:.1} heap); {:.2} memberships per profile",
        states.len(),
        mean(&encoded),
        sorted[sorted.len() / 2],
        sorted[sorted.len() * 99 / 100],
        sorted[sorted.len() - 1],
        inline as f64 + mean(&heap),
        mean(&heap),
        members as f64 / n,
    );
}

fn engine(c: &mut Criterion) {
    let end: Timestamp = "2024-06-01T00:00:00Z".parse().expect("valid timestamp");
    let program = Program::compile(&herald_segments::library::library()).expect("library");
    let opts = Options::new(2_000, 365, 42, end);
    let profiles = profiles(&opts);
    let events: usize = profiles.iter().map(Vec::len).sum();
    let states = backfill(&program, &profiles, end);
    report_state_sizes(&program, &states, program.segments().len());

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events as u64));
    group.sample_size(10);
    group.bench_function("backfill_library_2000_profiles_365_days", |b| {
        b.iter(|| backfill(&program, &profiles, end));
    });
    group.bench_function("backfill_batched_library_2000_profiles_365_days", |b| {
        b.iter(|| backfill_batched(&program, &profiles, end));
    });
    group.bench_function("live_with_deadlines_library_2000_profiles_365_days", |b| {
        b.iter(|| live(&program, &profiles));
    });
    // The same work on data that fits in the CPU caches, as when each message has just been
    // parsed (the big data set above partly measures memory latency on the pre-parsed input).
    let hot = &profiles[..100];
    group.throughput(Throughput::Elements(
        hot.iter().map(Vec::len).sum::<usize>() as u64,
    ));
    group.bench_function("backfill_library_hot_100_profiles", |b| {
        b.iter(|| backfill(&program, hot, end));
    });
    group.bench_function("backfill_batched_library_hot_100_profiles", |b| {
        b.iter(|| backfill_batched(&program, hot, end));
    });
    group.bench_function("live_with_deadlines_library_hot_100_profiles", |b| {
        b.iter(|| live(&program, hot));
    });
    // One busy profile over and over: its messages stay in the L1/L2 caches, so this is the
    // engine's own cost per message.
    let busiest = profiles.iter().max_by_key(|p| p.len()).expect("profiles");
    let one = std::slice::from_ref(busiest);
    group.throughput(Throughput::Elements(busiest.len() as u64));
    group.bench_function("backfill_library_one_busy_profile", |b| {
        b.iter(|| backfill(&program, one, end));
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
