//! The model on the project's own generated shop: it must beat "recommend what is popular".
//!
//! `herald-generate` simulates people with product tastes and "viewed together" companions, so a
//! model that learns from co-occurrence should find what they go on to buy more often than the
//! popularity baseline. Identity resolution is out of scope here: an event belongs to its
//! `userId`, else its `anonymousId`, so browsing before sign-up stays with the anonymous visitor
//! and part of some people's history is missing (as it would be with an imperfect link).
//!
//! `cargo test -p herald-recommend --test generated_shop -- --nocapture` prints the figures.

use herald_core::{MessageKind, ProfileId, StoredEvent, Timestamp};
use herald_generate::{Options, write_ndjson};
use herald_recommend::{Settings, Signal, evaluate, signals};
use std::hash::{DefaultHasher, Hash, Hasher};

const PROFILES: u64 = 3000;
const DAYS: u32 = 120;
const HOLDOUT_DAYS: i64 = 14;

fn end() -> Timestamp {
    "2025-06-01T00:00:00Z".parse().unwrap()
}

/// Every product interaction the generator wrote, as `evaluate` takes them.
fn interactions(seed: u64) -> Vec<(ProfileId, String, Signal, Timestamp)> {
    let mut ndjson = Vec::new();
    write_ndjson(&Options::new(PROFILES, DAYS, seed, end()), &mut ndjson).unwrap();
    let mut out = Vec::new();
    for line in std::str::from_utf8(&ndjson).unwrap().lines() {
        let message: serde_json::Value = serde_json::from_str(line).unwrap();
        if message["type"] != "track" {
            continue;
        }
        let Some(who) = message["userId"]
            .as_str()
            .or_else(|| message["anonymousId"].as_str())
        else {
            continue;
        };
        let timestamp: Timestamp = message["timestamp"].as_str().unwrap().parse().unwrap();
        let event = StoredEvent {
            seq: 0,
            profile_id: ProfileId(0),
            kind: MessageKind::Track,
            name: message["event"].as_str().map(str::to_owned),
            message_id: String::new(),
            timestamp,
            received_at: timestamp,
            body: line.into(),
        };
        let mut hasher = DefaultHasher::new();
        who.hash(&mut hasher);
        let profile = ProfileId(hasher.finish());
        for (product, signal) in signals(&event) {
            out.push((profile, product, signal, timestamp));
        }
    }
    out
}

#[test]
fn beats_popularity_on_generated_purchases() {
    let holdout_start = end() - jiff::SignedDuration::from_hours(24 * HOLDOUT_DAYS);
    // One shop gives about a hundred buyers to score; three keep the comparison out of noise.
    let (mut profiles, mut herald, mut popularity) = (0, 0.0, 0.0);
    for seed in [11, 12, 13] {
        let e = evaluate(
            interactions(seed),
            holdout_start,
            end(),
            Settings::default(),
        );
        println!("seed {seed}: {}", serde_json::to_string(&e).unwrap());
        assert!(e.test_profiles >= 50, "too few buyers to judge: {e:?}");
        assert!(
            e.herald.hit_rate_at_10 > e.popularity.hit_rate_at_10,
            "seed {seed}: herald {:?} vs popularity {:?}",
            e.herald,
            e.popularity
        );
        assert!(e.herald.ndcg_at_10 > 1.5 * e.popularity.ndcg_at_10);
        let n = e.test_profiles as f64;
        profiles += e.test_profiles;
        herald += e.herald.hit_rate_at_10 * n;
        popularity += e.popularity.hit_rate_at_10 * n;
    }
    let (herald, popularity) = (herald / profiles as f64, popularity / profiles as f64);
    println!(
        "hit rate@10 over {profiles} buyers: herald {herald:.3} vs popularity {popularity:.3}"
    );
    assert!(herald > 1.25 * popularity);
}
