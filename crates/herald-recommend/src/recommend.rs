//! Answers: items like an item or a basket, picks for a person, what is popular, what they viewed.
//!
//! Reads only: every answer comes from the stored rows, histories and popularity, so it costs
//! the size of one history times the row length, never the size of the catalog (apart from the
//! overall-popularity fallback, one pass over the items).

use crate::model::Model;
use crate::rank::{keep_best, sum_by_item};
use crate::{ProfileId, Recommendations, Scored, Strategy};
use herald_core::Timestamp;

/// How much an item the person viewed or carted but did not buy scores, per unit of their own
/// decayed weight on it, next to similarities (which are below 1). People often come back for
/// what they looked at: on generated shop data about 40% of the purchases in a two-week holdout
/// were of items already in the buyer's history. `evaluate` over twelve generated shops found
/// 1 best, with 0.5 to 2 within a point of hit rate; without this term the model did no better
/// than plain popularity there.
const REVISIT: f64 = 1.0;

/// At most this many of the person's strongest categories feed the popular-in-category top-up.
const TOP_UP_CATEGORIES: usize = 3;

impl Model {
    /// Items most similar to this one (not itself), best first; unavailable items left out.
    pub fn similar(&self, product_id: &str, n: usize) -> Vec<Scored> {
        let Some(item) = self.items.get(product_id) else {
            return Vec::new();
        };
        self.similarity
            .row(item)
            .iter()
            .filter(|&&(j, _)| self.items.available(j))
            .take(n)
            .map(|&(j, score)| self.scored(j, score))
            .collect()
    }

    /// Similar to any of several items (a cart, an order), leaving the seeds themselves out.
    pub fn similar_to_all(&self, product_ids: &[&str], n: usize) -> Vec<Scored> {
        let mut seeds: Vec<u32> = product_ids
            .iter()
            .filter_map(|id| self.items.get(id))
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        let mut candidates: Vec<(u32, f64)> = seeds
            .iter()
            .flat_map(|&seed| self.similarity.row(seed))
            .map(|&(j, s)| (j, f64::from(s)))
            .collect();
        sum_by_item(&mut candidates);
        candidates.retain(|&(j, _)| seeds.binary_search(&j).is_err() && self.items.available(j));
        keep_best(&mut candidates, n, self.items.names());
        candidates
            .iter()
            .map(|&(j, s)| self.scored(j, s as f32))
            .collect()
    }

    /// "Recommended for you": scored from the profile's recent views, carts and purchases
    /// (weights decayed to `now`) through the neighbour lists, leaving out what they bought and
    /// what is unavailable; topped up with what is popular in their categories, then overall,
    /// when history is thin.
    pub fn for_you(&self, profile: ProfileId, now: Timestamp, n: usize) -> Recommendations {
        let decay = self.clock.decay_to(now.as_millisecond());
        let entries = self
            .histories
            .get(profile)
            .map(|h| h.entries.as_slice())
            .unwrap_or_default();
        let mut bought: Vec<u32> = entries
            .iter()
            .filter(|e| e.bought())
            .map(|e| e.item)
            .collect();
        bought.sort_unstable();
        // Ranked on forward weights (decay scales every score alike, and could underflow).
        let mut candidates = Vec::with_capacity(
            entries
                .iter()
                .map(|e| self.similarity.row(e.item).len() + 1)
                .sum(),
        );
        for e in entries {
            let w = f64::from(e.weight);
            if w <= 0.0 {
                continue;
            }
            candidates.extend(
                self.similarity
                    .row(e.item)
                    .iter()
                    .map(|&(j, s)| (j, w * f64::from(s))),
            );
            if !e.bought() {
                candidates.push((e.item, w * REVISIT));
            }
        }
        sum_by_item(&mut candidates);
        candidates.retain(|&(j, _)| self.items.available(j) && bought.binary_search(&j).is_err());
        keep_best(&mut candidates, n, self.items.names());
        let mut chosen: Vec<u32> = candidates.iter().map(|c| c.0).collect();
        let mut items: Vec<Scored> = candidates
            .iter()
            .map(|&(j, s)| self.scored(j, (s * decay) as f32))
            .collect();
        let mut strategy = (!items.is_empty()).then_some(Strategy::Personal);
        chosen.extend_from_slice(&bought);
        chosen.sort_unstable();
        if items.len() < n {
            let more = self.popular_in_categories(entries, &chosen, n - items.len());
            strategy = strategy.or((!more.is_empty()).then_some(Strategy::PopularInCategory));
            self.take_top_up(more, decay, &mut chosen, &mut items);
        }
        if items.len() < n {
            let mut more = self.popular_items(None, (n - items.len()).saturating_add(chosen.len()));
            more.retain(|&(j, _)| chosen.binary_search(&j).is_err());
            more.truncate(n - items.len());
            self.take_top_up(more, decay, &mut chosen, &mut items);
        }
        Recommendations {
            items,
            strategy: strategy.unwrap_or(Strategy::Popular),
        }
    }

    /// Most popular items (decayed interaction weight) overall or in a category, available only.
    pub fn popular(&self, category: Option<&str>, now: Timestamp, n: usize) -> Vec<Scored> {
        let decay = self.clock.decay_to(now.as_millisecond());
        let category = match category {
            Some(name) => match self.items.category_named(name) {
                Some(c) => Some(c),
                None => return Vec::new(),
            },
            None => None,
        };
        self.popular_items(category, n)
            .iter()
            .map(|&(j, p)| self.scored(j, (p * decay) as f32))
            .collect()
    }

    /// The profile's recently viewed items, newest first (for "products you viewed").
    pub fn recently_viewed(&self, profile: ProfileId, n: usize) -> Vec<String> {
        let Some(history) = self.histories.get(profile) else {
            return Vec::new();
        };
        let mut viewed: Vec<(u32, &str)> = history
            .entries
            .iter()
            .filter(|e| e.viewed())
            .map(|e| (e.minute(), self.items.name(e.item)))
            .collect();
        viewed.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        viewed
            .into_iter()
            .take(n)
            .map(|(_, name)| name.to_owned())
            .collect()
    }

    fn scored(&self, item: u32, score: f32) -> Scored {
        Scored {
            product_id: self.items.name(item).to_owned(),
            score,
        }
    }

    /// The `n` available items with the highest forward popularity, overall or in a category.
    fn popular_items(&self, category: Option<u32>, n: usize) -> Vec<(u32, f64)> {
        let available = |&j: &u32| self.items.available(j) && self.items.popularity(j) > 0.0;
        let with_popularity = |j: u32| (j, self.items.popularity(j));
        let mut candidates: Vec<(u32, f64)> = match category {
            Some(c) => self
                .items
                .members(c)
                .iter()
                .copied()
                .filter(available)
                .map(with_popularity)
                .collect(),
            None => (0..self.items.len() as u32)
                .filter(available)
                .map(with_popularity)
                .collect(),
        };
        keep_best(&mut candidates, n, self.items.names());
        candidates
    }

    /// Popular items of the person's strongest categories, each weighted by the category's share
    /// of the person's (decayed) interest; `excluded` is sorted.
    fn popular_in_categories(
        &self,
        entries: &[crate::history::Entry],
        excluded: &[u32],
        n: usize,
    ) -> Vec<(u32, f64)> {
        let mut interest: Vec<(u32, f64)> = entries
            .iter()
            .filter_map(|e| Some((self.items.category(e.item)?, f64::from(e.weight))))
            .collect();
        sum_by_item(&mut interest);
        let total: f64 = interest.iter().map(|c| c.1).sum();
        if total <= 0.0 {
            return Vec::new();
        }
        // Equal interest goes to the category the model learnt of first.
        interest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        interest.truncate(TOP_UP_CATEGORIES);
        let mut candidates = Vec::new();
        for &(category, weight) in &interest {
            let wanted = n.saturating_add(excluded.len().min(self.items.members(category).len()));
            candidates.extend(
                self.popular_items(Some(category), wanted)
                    .into_iter()
                    .filter(|&(j, _)| excluded.binary_search(&j).is_err())
                    .map(|(j, p)| (j, p * weight / total)),
            );
        }
        keep_best(&mut candidates, n, self.items.names());
        candidates
    }

    fn take_top_up(
        &self,
        more: Vec<(u32, f64)>,
        decay: f64,
        chosen: &mut Vec<u32>,
        items: &mut Vec<Scored>,
    ) {
        for (j, p) in more {
            items.push(self.scored(j, (p * decay) as f32));
            chosen.push(j);
        }
        chosen.sort_unstable();
    }
}
