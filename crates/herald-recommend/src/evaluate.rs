//! Offline evaluation: would the model have recommended what people went on to buy?
//!
//! History is split in time. The model learns everything before the holdout start; then, for
//! each person who had history and bought something during the holdout, its ten "for you" picks
//! (as of the holdout start) are scored against the distinct products they bought. A popularity
//! baseline (the ten most popular items they had not already bought) is scored the same way, so a
//! change to the model or its settings can be judged by the gap between the two.

use crate::{Model, ProfileId, Settings, Signal};
use herald_core::Timestamp;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Recommendations scored per person.
const K: usize = 10;

/// Ranking quality over the test profiles (means; each between 0 and 1).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Share of people with at least one purchased product among the ten picks.
    pub hit_rate_at_10: f64,
    /// Normalised discounted cumulative gain: hits near the top count more.
    pub ndcg_at_10: f64,
    /// Hits divided by ten.
    pub precision_at_10: f64,
}

/// The outcome of [`evaluate`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Evaluation {
    pub holdout_start: Timestamp,
    pub end: Timestamp,
    /// Interactions the model learnt from.
    pub train_interactions: u64,
    /// People scored: history before the holdout and a purchase in it.
    pub test_profiles: u64,
    /// Distinct (person, product) purchases in the holdout, over the test profiles.
    pub test_purchases: u64,
    pub herald: Metrics,
    pub popularity: Metrics,
}

/// Trains on interactions before `holdout_start`; for every profile that has training history and
/// buys something in [holdout_start, end), recommends 10 with `for_you(profile, holdout_start, 10)`
/// and the popularity baseline (top 10 by decayed popularity at holdout_start, excluding what the
/// profile bought in training), and scores them against the set of distinct products bought in
/// the holdout (binary relevance; NDCG with log2 discount, IDCG over min(10, |relevant|)).
pub fn evaluate(
    interactions: impl IntoIterator<Item = (ProfileId, String, Signal, Timestamp)>,
    holdout_start: Timestamp,
    end: Timestamp,
    settings: Settings,
) -> Evaluation {
    let mut training = Vec::new();
    let mut bought_before: HashMap<ProfileId, HashSet<String>> = HashMap::new();
    // Ordered by profile, so the metric sums are taken in the same order on every run.
    let mut bought_after: BTreeMap<ProfileId, HashSet<String>> = BTreeMap::new();
    for (profile, product, signal, at) in interactions {
        if at < holdout_start {
            if signal == Signal::Purchase {
                bought_before
                    .entry(profile)
                    .or_default()
                    .insert(product.clone());
            }
            training.push((profile, product, signal, at));
        } else if at < end && signal == Signal::Purchase {
            bought_after.entry(profile).or_default().insert(product);
        }
    }
    // The model is fed in time order, as it would be live (it matters for which items a long
    // history keeps).
    training.sort_by_key(|t| t.3);
    let mut model = Model::new(settings);
    for (profile, product, signal, at) in &training {
        model.observe(*profile, product, *signal, *at);
    }
    model.rebuild(&|_, _| {});
    let trained: HashSet<ProfileId> = training.iter().map(|t| t.0).collect();
    let ranked: Vec<String> = model
        .popular(None, holdout_start, usize::MAX)
        .into_iter()
        .map(|s| s.product_id)
        .collect();
    let mut herald = Tally::default();
    let mut popularity = Tally::default();
    let mut test_purchases = 0;
    let nothing = HashSet::new();
    for (profile, relevant) in &bought_after {
        if !trained.contains(profile) {
            continue;
        }
        test_purchases += relevant.len() as u64;
        let picks = model.for_you(*profile, holdout_start, K);
        let picks: Vec<&str> = picks.items.iter().map(|s| s.product_id.as_str()).collect();
        herald.add(&picks, relevant);
        let owned = bought_before.get(profile).unwrap_or(&nothing);
        let baseline: Vec<&str> = ranked
            .iter()
            .filter(|p| !owned.contains(*p))
            .take(K)
            .map(String::as_str)
            .collect();
        popularity.add(&baseline, relevant);
    }
    Evaluation {
        holdout_start,
        end,
        train_interactions: training.len() as u64,
        test_profiles: herald.profiles,
        test_purchases,
        herald: herald.metrics(),
        popularity: popularity.metrics(),
    }
}

/// Running sums of the per-person metrics.
#[derive(Default)]
struct Tally {
    profiles: u64,
    hits: u64,
    ndcg: f64,
    precision: f64,
}

impl Tally {
    /// Scores one person's picks (best first) against what they bought.
    fn add(&mut self, picks: &[&str], relevant: &HashSet<String>) {
        let (hits, dcg) = picks
            .iter()
            .take(K)
            .enumerate()
            .filter(|(_, p)| relevant.contains(**p))
            .fold((0, 0.0), |(hits, dcg), (rank, _)| {
                (hits + 1, dcg + discount(rank))
            });
        let ideal: f64 = (0..relevant.len().min(K)).map(discount).sum();
        self.profiles += 1;
        self.hits += u64::from(hits > 0);
        if ideal > 0.0 {
            self.ndcg += dcg / ideal;
        }
        self.precision += f64::from(hits) / K as f64;
    }

    fn metrics(&self) -> Metrics {
        let n = self.profiles.max(1) as f64;
        Metrics {
            hit_rate_at_10: self.hits as f64 / n,
            ndcg_at_10: self.ndcg / n,
            precision_at_10: self.precision / n,
        }
    }
}

/// The gain of a hit at 0-based `rank`: 1 / log2(rank + 2).
fn discount(rank: usize) -> f64 {
    1.0 / ((rank + 2) as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relevant(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_match_hand_computation() {
        let mut t = Tally::default();
        // Hits at ranks 1 and 3 of two relevant: DCG = 1 + 1/2, IDCG = 1 + 1/log2(3).
        t.add(&["a", "x", "b", "y"], &relevant(&["a", "b"]));
        // No hit.
        t.add(&["x", "y"], &relevant(&["a"]));
        // One hit at rank 2 of twelve relevant: IDCG sums ten positions.
        let many: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
        let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
        t.add(&["x", "r5"], &relevant(&many_refs));
        let m = t.metrics();
        let idcg10: f64 = (1..=10).map(|r| 1.0 / ((r + 1) as f64).log2()).sum();
        let ndcg = [
            1.5 / (1.0 + 1.0 / 3f64.log2()),
            0.0,
            (1.0 / 3f64.log2()) / idcg10,
        ];
        assert!((m.hit_rate_at_10 - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.precision_at_10 - (0.2 + 0.0 + 0.1) / 3.0).abs() < 1e-12);
        assert!((m.ndcg_at_10 - ndcg.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_perfect_list_scores_one() {
        let mut t = Tally::default();
        t.add(&["a", "b"], &relevant(&["b", "a"]));
        let m = t.metrics();
        assert_eq!(m.hit_rate_at_10, 1.0);
        assert!((m.ndcg_at_10 - 1.0).abs() < 1e-12);
        assert!((m.precision_at_10 - 0.2).abs() < 1e-12);
    }

    #[test]
    fn splits_history_at_the_holdout() {
        let at = |day: i64| Timestamp::from_second(1_700_000_000 + day * 86_400).unwrap();
        let p = |n| ProfileId(n);
        let mut data = Vec::new();
        // Ten people view a and b together and buy a; ten others view d over and over (the most
        // popular item). Person 99 buys c and a, then b during the holdout.
        for n in 0..10 {
            data.push((p(n), "a".to_string(), Signal::View, at(0)));
            data.push((p(n), "b".to_string(), Signal::View, at(0)));
            data.push((p(n), "a".to_string(), Signal::Purchase, at(1)));
            for _ in 0..7 {
                data.push((p(20 + n), "d".to_string(), Signal::View, at(1)));
            }
        }
        data.push((p(99), "c".to_string(), Signal::Purchase, at(2)));
        data.push((p(99), "a".to_string(), Signal::View, at(3)));
        data.push((p(99), "a".to_string(), Signal::Purchase, at(3)));
        data.push((p(99), "b".to_string(), Signal::Purchase, at(20)));
        // Someone with no history before the holdout is not scored.
        data.push((p(100), "b".to_string(), Signal::Purchase, at(20)));
        // Nor are purchases after the end.
        data.push((p(5), "b".to_string(), Signal::Purchase, at(40)));
        let e = evaluate(data, at(10), at(30), Settings::default());
        assert_eq!(e.train_interactions, 103);
        assert_eq!((e.test_profiles, e.test_purchases), (1, 1));
        // The model recommends b (bought with a) first; popularity puts d first, then b.
        assert_eq!(e.herald.hit_rate_at_10, 1.0);
        assert!((e.herald.ndcg_at_10 - 1.0).abs() < 1e-12);
        assert_eq!(e.popularity.hit_rate_at_10, 1.0);
        assert!((e.popularity.ndcg_at_10 - 1.0 / 3f64.log2()).abs() < 1e-12);
    }
}
