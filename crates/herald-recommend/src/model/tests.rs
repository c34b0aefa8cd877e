//! The model against hand computation, against a plain recomputation of decayed weights, and
//! refresh against rebuild on random histories.

use super::*;
use crate::Strategy as Source;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};

const DAY_MS: i64 = 86_400_000;

fn at(days: f64) -> Timestamp {
    Timestamp::from_millisecond(1_600_000_000_000 + (days * DAY_MS as f64) as i64).unwrap()
}

fn undecayed(shrink: f32) -> Settings {
    Settings {
        half_life_days: 0.0,
        shrink,
        ..Settings::default()
    }
}

fn ids(scored: &[crate::Scored]) -> Vec<&str> {
    scored.iter().map(|s| s.product_id.as_str()).collect()
}

fn score_of(model: &Model, a: &str, b: &str) -> Option<f32> {
    model
        .similar(a, usize::MAX)
        .into_iter()
        .find(|s| s.product_id == b)
        .map(|s| s.score)
}

/// A = (1, 1, 1), B = (1, 3, 0), C = (0, 0, 1) over profiles 1, 2, 3.
fn three_profiles(settings: Settings) -> Model {
    let mut m = Model::new(settings);
    let p = ProfileId;
    m.observe(p(1), "A", Signal::View, at(0.0));
    m.observe(p(1), "B", Signal::View, at(0.0));
    m.observe(p(2), "A", Signal::View, at(0.0));
    m.observe(p(2), "B", Signal::Cart, at(0.0));
    m.observe(p(3), "A", Signal::View, at(0.0));
    m.observe(p(3), "C", Signal::View, at(0.0));
    m.rebuild(&|_, _| {});
    m
}

#[test]
fn cosine_matches_hand_computation() {
    let m = three_profiles(undecayed(0.0));
    let ab = 4.0 / (3f64.sqrt() * 10f64.sqrt());
    let ac = 1.0 / 3f64.sqrt();
    let similar = m.similar("A", 10);
    assert_eq!(ids(&similar), ["B", "C"]);
    assert!((f64::from(similar[0].score) - ab).abs() < 1e-6);
    assert!((f64::from(similar[1].score) - ac).abs() < 1e-6);
    assert_eq!(ids(&m.similar("C", 10)), ["A"]);
    assert_eq!(score_of(&m, "B", "C"), None);

    let shrunk = three_profiles(undecayed(2.0));
    let ab = 4.0 / (30f64.sqrt() + 2.0);
    assert!((f64::from(score_of(&shrunk, "A", "B").unwrap()) - ab).abs() < 1e-6);
}

#[test]
fn forward_decay_equals_decaying_to_now() {
    let settings = Settings {
        half_life_days: 10.0,
        shrink: 3.0,
        ..Settings::default()
    };
    let mut m = Model::new(settings.clone());
    let mut log = Vec::new();
    let items = ["a", "b", "c", "d"];
    let mut x = 12345u64;
    for n in 0..200 {
        // A tiny linear congruential sequence: deterministic, no dependency.
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let profile = ProfileId((x >> 33) % 7);
        let item = items[((x >> 40) % 4) as usize];
        let signal = [Signal::View, Signal::Cart, Signal::Purchase][((x >> 50) % 3) as usize];
        let day = f64::from(n) * 0.4;
        m.observe(profile, item, signal, at(day));
        log.push((profile, item, signal, day));
    }
    m.rebuild(&|_, _| {});
    let now = log.last().unwrap().3;
    let mut w: HashMap<(ProfileId, &str), f64> = HashMap::new();
    for &(p, item, signal, day) in &log {
        *w.entry((p, item)).or_default() +=
            f64::from(settings.weight(signal)) * 0.5f64.powf((now - day) / 10.0);
    }
    let norm = |i: &str| {
        w.iter()
            .filter(|((_, it), _)| *it == i)
            .map(|(_, v)| v * v)
            .sum::<f64>()
            .sqrt()
    };
    for a in items {
        for b in items.into_iter().filter(|&b| b != a) {
            let dot: f64 = w
                .iter()
                .filter(|((_, it), _)| *it == a)
                .map(|((p, _), v)| v * w.get(&(*p, b)).unwrap_or(&0.0))
                .sum();
            let expected = dot / (norm(a) * norm(b) + 3.0);
            let got = f64::from(score_of(&m, a, b).unwrap_or(0.0));
            assert!(
                (got - expected).abs() < 1e-5,
                "{a}-{b}: {got} vs {expected}"
            );
        }
    }
    // Popularity decayed to a later instant is the plain decayed sum.
    let later = now + 25.0;
    let popular = m.popular(None, at(later), 4);
    for s in &popular {
        let expected: f64 = log
            .iter()
            .filter(|l| l.1 == s.product_id)
            .map(|l| f64::from(settings.weight(l.2)) * 0.5f64.powf((later - l.3) / 10.0))
            .sum();
        assert!((f64::from(s.score) - expected).abs() < 1e-4 * expected);
    }
}

#[test]
fn purchased_and_unavailable_items_are_left_out() {
    let mut m = Model::new(undecayed(0.0));
    let p = ProfileId;
    for n in 0..5 {
        for item in ["shirt", "tie", "belt", "socks"] {
            m.observe(p(n), item, Signal::View, at(0.0));
        }
    }
    m.observe(p(9), "shirt", Signal::View, at(1.0));
    m.observe(p(9), "shirt", Signal::Purchase, at(1.0));
    m.observe(p(9), "tie", Signal::View, at(1.0));
    m.rebuild(&|_, _| {});
    let picks = m.for_you(p(9), at(2.0), 10);
    assert_eq!(picks.strategy, Source::Personal);
    assert!(!ids(&picks.items).contains(&"shirt"));
    assert!(
        ids(&picks.items).contains(&"tie"),
        "viewed, not bought: may come back"
    );
    m.set_item(
        "belt",
        ItemInfo {
            category: None,
            available: false,
        },
    );
    let picks = m.for_you(p(9), at(2.0), 10);
    assert!(!ids(&picks.items).contains(&"belt"));
    assert!(!ids(&m.similar("tie", 10)).contains(&"belt"));
    assert!(!ids(&m.similar_to_all(&["tie", "socks"], 10)).contains(&"belt"));
    assert!(!ids(&m.popular(None, at(2.0), 10)).contains(&"belt"));
}

#[test]
fn similar_to_all_sums_rows_and_leaves_out_the_seeds() {
    let m = three_profiles(undecayed(0.0));
    let both = m.similar_to_all(&["B", "C", "unknown"], 10);
    assert_eq!(ids(&both), ["A"]);
    let ab = 4.0 / (3f64.sqrt() * 10f64.sqrt());
    let ac = 1.0 / 3f64.sqrt();
    assert!((f64::from(both[0].score) - (ab + ac)).abs() < 1e-6);
}

#[test]
fn thin_history_is_topped_up_with_popular_items() {
    let mut m = Model::new(undecayed(0.0));
    let p = ProfileId;
    let shoe = |available| ItemInfo {
        category: Some("shoes".into()),
        available,
    };
    for item in ["boot", "clog", "sandal"] {
        m.set_item(item, shoe(true));
    }
    m.set_item(
        "hat",
        ItemInfo {
            category: Some("hats".into()),
            available: true,
        },
    );
    // Popularity: hat (8 views) > clog (7) > sandal (6) > boot (one purchase, 5).
    let mut n = 0;
    for (item, views) in [("hat", 8), ("clog", 7), ("sandal", 6)] {
        for _ in 0..views {
            n += 1;
            m.observe(p(n), item, Signal::View, at(0.0));
        }
    }
    m.observe(p(50), "boot", Signal::Purchase, at(0.0));
    m.rebuild(&|_, _| {});
    // Bought the only shoe they know: nothing personal, so their category first, then overall.
    let picks = m.for_you(p(50), at(1.0), 3);
    assert_eq!(picks.strategy, Source::PopularInCategory);
    assert_eq!(ids(&picks.items), ["clog", "sandal", "hat"]);
    // A stranger gets what is popular.
    let picks = m.for_you(p(1000), at(1.0), 2);
    assert_eq!(picks.strategy, Source::Popular);
    assert_eq!(ids(&picks.items), ["hat", "clog"]);
    let everything = m.for_you(p(50), at(1.0), usize::MAX);
    assert_eq!(ids(&everything.items), ["clog", "sandal", "hat"]);
    assert!(m.for_you(p(50), at(1.0), 0).items.is_empty());
    assert_eq!(
        ids(&m.popular(Some("shoes"), at(1.0), 5)),
        ["clog", "sandal", "boot"]
    );
    assert!(m.popular(Some("socks"), at(1.0), 5).is_empty());
}

#[test]
fn recently_viewed_is_newest_first() {
    let mut m = Model::new(Settings::default());
    let p = ProfileId(1);
    m.observe(p, "a", Signal::View, at(0.0));
    m.observe(p, "b", Signal::View, at(1.0));
    m.observe(p, "c", Signal::Cart, at(2.0));
    m.observe(p, "a", Signal::View, at(3.0));
    assert_eq!(m.recently_viewed(p, 10), ["a", "b"]);
    assert_eq!(m.recently_viewed(p, 1), ["a"]);
    assert!(m.recently_viewed(ProfileId(2), 1).is_empty());
}

#[test]
fn merged_profiles_are_one_history() {
    let mut m = Model::new(undecayed(0.0));
    let (anonymous, known, other) = (ProfileId(1), ProfileId(2), ProfileId(3));
    m.observe(anonymous, "a", Signal::View, at(0.0));
    m.observe(known, "b", Signal::View, at(1.0));
    m.observe(other, "a", Signal::View, at(1.0));
    m.refresh();
    assert!(m.similar("a", 5).is_empty());
    m.merge_profiles(anonymous, known);
    assert_eq!(m.stats().stale_items, 2);
    assert_eq!(m.refresh(), 2);
    assert_eq!(ids(&m.similar("a", 5)), ["b"]);
    assert_eq!(m.recently_viewed(known, 5), ["b", "a"]);
    let stats = m.stats();
    assert_eq!((stats.profiles, stats.interactions), (2, 3));
    // Merging into a profile the model never saw hands the history over.
    m.merge_profiles(known, ProfileId(4));
    assert_eq!(m.recently_viewed(ProfileId(4), 5), ["b", "a"]);
    m.histories.check();
}

#[test]
fn forgotten_people_stop_counting() {
    let mut m = three_profiles(undecayed(0.0));
    m.forget(ProfileId(3));
    m.forget(ProfileId(3));
    m.refresh();
    assert_eq!(score_of(&m, "A", "C"), None);
    assert!(!ids(&m.popular(None, at(0.0), 10)).contains(&"C"));
    m.forget(ProfileId(1));
    m.forget(ProfileId(2));
    m.refresh();
    assert!(m.popular(None, at(0.0), 10).is_empty());
    assert_eq!(m.stats().neighbour_lists, 0);
    assert_eq!(m.stats().interactions, 0);
    m.histories.check();
}

#[test]
fn long_histories_keep_their_most_recent_items() {
    let mut m = Model::new(Settings {
        profile_items: 2,
        ..undecayed(0.0)
    });
    let p = ProfileId(1);
    m.observe(p, "a", Signal::Purchase, at(0.0));
    m.observe(p, "b", Signal::View, at(1.0));
    m.observe(p, "c", Signal::View, at(2.0));
    assert_eq!(m.recently_viewed(p, 10), ["c", "b"]);
    // `a` left the history, so it no longer counts as bought (nor as popular).
    assert!(!ids(&m.popular(None, at(3.0), 10)).contains(&"a"));
    m.histories.check();
}

#[test]
fn years_of_history_renormalise_without_changing_answers() {
    // Ten years at a 30-day half-life is 120 half-lives: the anchor moves three times.
    let settings = Settings {
        half_life_days: 30.0,
        shrink: 1.0,
        ..Settings::default()
    };
    let mut m = Model::new(settings.clone());
    let mut w: HashMap<(u64, &str), f64> = HashMap::new();
    let end = 3650.0;
    for day in (0..3650).step_by(5) {
        let day = f64::from(day);
        let (profile, pair) = (
            (day as u64 / 5) % 13,
            [["a", "b"], ["b", "c"]][(day as usize / 5) % 2],
        );
        for item in pair {
            m.observe(ProfileId(profile), item, Signal::View, at(day));
            *w.entry((profile, item)).or_default() += 0.5f64.powf((end - 5.0 - day) / 30.0);
        }
    }
    m.rebuild(&|_, _| {});
    for entry in m.histories.all().flat_map(|h| &h.entries) {
        assert!(entry.weight.is_finite() && entry.weight < 1e12);
    }
    let norm = |i: &str| {
        w.iter()
            .filter(|((_, it), _)| *it == i)
            .map(|(_, v)| v * v)
            .sum::<f64>()
            .sqrt()
    };
    let dot = |a: &str, b: &str| -> f64 {
        w.iter()
            .filter(|((_, it), _)| *it == a)
            .map(|((p, _), v)| v * w.get(&(*p, b)).unwrap_or(&0.0))
            .sum()
    };
    let expected = dot("a", "b") / (norm("a") * norm("b") + 1.0);
    let got = f64::from(score_of(&m, "a", "b").unwrap());
    assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    let popular = m.popular(None, at(end), 1);
    let b: f64 = w
        .iter()
        .filter(|((_, i), _)| *i == "b")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(popular[0].product_id, "b");
    assert!((f64::from(popular[0].score) - b * 0.5f64.powf(5.0 / 30.0)).abs() < 1e-4 * b);
}

#[test]
fn the_model_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Model>();
}

/// One step of a random history.
#[derive(Clone, Debug)]
enum Op {
    Observe(u64, u8, Signal, u16),
    Merge(u64, u64),
    Forget(u64),
    Refresh,
    Rebuild,
}

fn op() -> impl Strategy<Value = Op> {
    let signal = prop_oneof![
        Just(Signal::View),
        Just(Signal::Cart),
        Just(Signal::Purchase)
    ];
    prop_oneof![
        20 => (0..8u64, 0..10u8, signal, 0..400u16).prop_map(|(p, i, s, h)| Op::Observe(p, i, s, h)),
        2 => (0..8u64, 0..8u64).prop_map(|(a, b)| Op::Merge(a, b)),
        1 => (0..8u64).prop_map(Op::Forget),
        2 => Just(Op::Refresh),
        1 => Just(Op::Rebuild),
    ]
}

/// Each item's squared norm and dot products with the others, from scratch (keyed by product id,
/// since that is what stays put).
fn cooccurrence(m: &Model) -> BTreeMap<(String, String), f64> {
    let mut sums = BTreeMap::new();
    for history in m.histories.all() {
        for a in &history.entries {
            for b in &history.entries {
                let key = (
                    m.items.name(a.item).to_owned(),
                    m.items.name(b.item).to_owned(),
                );
                *sums.entry(key).or_default() += f64::from(a.weight) * f64::from(b.weight);
            }
        }
    }
    sums
}

/// Whether an item's sums are the same in two snapshots (up to summation order).
fn unchanged(
    before: &BTreeMap<(String, String), f64>,
    now: &BTreeMap<(String, String), f64>,
    item: &str,
) -> bool {
    let of = |sums: &BTreeMap<(String, String), f64>| -> Vec<(String, f64)> {
        sums.iter()
            .filter(|((a, _), v)| a == item && **v > 0.0)
            .map(|((_, b), v)| (b.clone(), *v))
            .collect()
    };
    let (before, now) = (of(before), of(now));
    before.len() == now.len()
        && before
            .iter()
            .zip(&now)
            .all(|((a, x), (b, y))| a == b && (x - y).abs() <= 1e-9 * x.abs().max(y.abs()))
}

proptest! {
    #[test]
    fn refresh_gives_exactly_the_rows_of_a_rebuild(ops in prop::collection::vec(op(), 1..120)) {
        // A one-day half-life over up to 400 days also crosses the renormalisation threshold.
        let mut m = Model::new(Settings {
            half_life_days: 1.0,
            neighbours: 4,
            profile_items: 4,
            shrink: 0.5,
            ..Settings::default()
        });
        let mut hour = 0u64;
        let mut computed = BTreeMap::new();
        for op in ops {
            match op {
                Op::Observe(p, i, s, dh) => {
                    hour += u64::from(dh) * 2;
                    let t = at(hour as f64 / 24.0);
                    m.observe(ProfileId(p), &format!("item{i}"), s, t);
                }
                Op::Merge(a, b) => m.merge_profiles(ProfileId(a), ProfileId(b)),
                Op::Forget(p) => m.forget(ProfileId(p)),
                Op::Refresh => {
                    m.refresh();
                    computed = cooccurrence(&m);
                }
                Op::Rebuild => {
                    m.rebuild(&|_, _| {});
                    computed = cooccurrence(&m);
                }
            }
            m.histories.check();
        }
        let stale = m.similarity.stale_items();
        // Every item whose co-occurrences changed since rows were last computed is stale.
        let now = cooccurrence(&m);
        for item in 0..m.items.len() as u32 {
            let name = m.items.name(item);
            prop_assert!(stale.contains(&item) || unchanged(&computed, &now, name), "{} changed unmarked", name);
        }
        let mut rebuilt = m.clone();
        prop_assert_eq!(m.refresh(), stale.len());
        rebuilt.rebuild(&|_, _| {});
        for item in 0..m.items.len() as u32 {
            prop_assert_eq!(m.similarity.norm_of(item), rebuilt.similarity.norm_of(item));
        }
        for item in stale {
            prop_assert_eq!(m.similarity.row(item), rebuilt.similarity.row(item), "item {}", item);
        }
        prop_assert_eq!(m.stats().stale_items, 0);
    }
}
