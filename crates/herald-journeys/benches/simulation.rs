//! Journey simulation throughput: 100,000 people through `welcome_series` and `abandoned_cart`
//! from the library, events and wake-ups in time order, counting step transitions (every action
//! the runner takes: entries, sends, skips, branches, goals, exits).
//!
//! `cargo bench -p herald-journeys --bench simulation` prints transitions per second (goal:
//! 500,000/s on one core of the 2-core machine).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_core::{MessageKind, ProfileId};
use herald_journeys::library;
use herald_journeys::runner::{Event, Flow, Person, PersonState, Runner, SendRecord, What};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::hint::black_box;

const PEOPLE: u64 = 100_000;

fn runner() -> Runner {
    let doc = library::library();
    let mut runner = Runner::new(TimeZone::UTC);
    for j in doc
        .journeys
        .iter()
        .filter(|j| matches!(j.name.as_str(), "welcome_series" | "abandoned_cart"))
    {
        runner.add(Flow::compile(j, 1).expect("library journeys compile"), true);
    }
    runner.set_rules(doc.rules.unwrap_or_default());
    runner
}

/// A person's events: when, the event name, its properties.
type History = Vec<(Timestamp, &'static str, Map<String, Value>)>;

/// One person's day: they sign up, add two items to a cart, and a third of them order it.
fn events(p: u64, t0: Timestamp) -> History {
    let object = |v: Value| v.as_object().cloned().unwrap_or_default();
    let cart = json!({ "cart_id": format!("c{p}") });
    let mut out = vec![
        (t0, "Signed Up", Map::new()),
        (
            t0 + SignedDuration::from_mins(5),
            "Product Added",
            object(cart.clone()),
        ),
        (
            t0 + SignedDuration::from_mins(9),
            "Product Added",
            object(cart.clone()),
        ),
    ];
    if p.is_multiple_of(3) {
        out.push((
            t0 + SignedDuration::from_hours(30),
            "Order Completed",
            object(cart),
        ));
    }
    out
}

/// Simulates everyone; returns the number of step transitions.
fn simulate(runner: &Runner, people: &[History]) -> u64 {
    let traits = Map::new();
    let segments = BTreeSet::new();
    let mut transitions = 0u64;
    for (p, events) in people.iter().enumerate() {
        let mut state = PersonState::default();
        let mut sends: Vec<SendRecord> = Vec::new();
        let mut events = events.iter().peekable();
        loop {
            let next_event = events.peek().map(|e| e.0);
            let next_wake = runner.next_due(&state);
            let (t, is_event) = match (next_event, next_wake) {
                (Some(e), Some(w)) if w < e => (w, false),
                (Some(e), _) => (e, true),
                (None, Some(w)) => (w, false),
                (None, None) => break,
            };
            let person = Person {
                profile: ProfileId(p as u64),
                traits: &traits,
                segments: &segments,
                recent_sends: &sends,
            };
            let actions = if is_event {
                let (at, name, props) = events.next().expect("peeked");
                let event = Event {
                    kind: MessageKind::Track,
                    name: Some(name),
                    timestamp: *at,
                    received_at: *at,
                    properties: props,
                };
                runner.on_event(&mut state, &person, &event, t)
            } else {
                runner.on_time(&mut state, &person, t)
            };
            transitions += actions.len() as u64;
            for a in &actions {
                if let What::Send { channel, class, .. } = &a.what {
                    sends.push(SendRecord {
                        channel: *channel,
                        class: *class,
                        at: a.at.as_millisecond(),
                    });
                }
            }
            black_box(actions);
        }
    }
    transitions
}

fn simulation(c: &mut Criterion) {
    let runner = runner();
    let t0: Timestamp = "2026-03-02T12:00:00Z".parse().expect("valid timestamp");
    let people: Vec<_> = (0..PEOPLE).map(|p| events(p, t0)).collect();
    let transitions = simulate(&runner, &people);
    eprintln!(
        "{PEOPLE} people: {transitions} step transitions ({:.1} per person)",
        transitions as f64 / PEOPLE as f64
    );
    let mut group = c.benchmark_group("journeys");
    group.throughput(Throughput::Elements(transitions));
    group.sample_size(10);
    group.bench_function("simulate_100k_people_welcome_and_abandoned_cart", |b| {
        b.iter(|| simulate(&runner, &people));
    });
    group.finish();
}

criterion_group!(benches, simulation);
criterion_main!(benches);
