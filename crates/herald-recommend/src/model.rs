//! The model: what it learns from interactions and how its similarity rows are kept current.
//!
//! Learning is cheap and local: an interaction updates one history entry, one item's popularity,
//! and marks the rows it affects as stale. Similarity rows are recomputed only on request, all at
//! once ([`Model::rebuild`]) or just the stale ones ([`Model::refresh`]), so a caller decides when
//! to spend the time (after an import, every few seconds while serving).

use crate::decay::{Clock, scale_of};
use crate::history::{Entry, Histories, Touch, minute_of};
use crate::items::Items;
use crate::similarity::{Inputs, Refresh, Similarity};
use crate::{ItemInfo, ModelStats, ProfileId, Settings, Signal};
use herald_core::Timestamp;

/// Item-to-item recommendations learnt from views, cart adds and purchases. Plain data: `Send`,
/// `Sync` and `Clone`, so a server can keep one behind a lock and hand out snapshots.
#[derive(Clone, Debug)]
pub struct Model {
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) items: Items,
    pub(crate) histories: Histories,
    pub(crate) similarity: Similarity,
}

impl Model {
    pub fn new(settings: Settings) -> Model {
        Model {
            clock: Clock::new(settings.half_life_days),
            settings,
            items: Items::default(),
            histories: Histories::default(),
            similarity: Similarity::default(),
        }
    }

    /// One interaction. O(items of that profile) at most; never rebuilds neighbour lists itself.
    pub fn observe(&mut self, profile: ProfileId, product_id: &str, signal: Signal, at: Timestamp) {
        let t = at.as_millisecond();
        if let Some(k) = self.clock.admit(t) {
            self.renormalise(k);
        }
        let item = self.intern(product_id);
        let signal_weight = self.settings.weight(signal);
        // Negative or NaN weights in settings count as zero: the interaction is remembered (a
        // purchase still excludes the item) but moves no similarity.
        let signal_weight = if signal_weight > 0.0 {
            f64::from(signal_weight)
        } else {
            0.0
        };
        let weight = signal_weight * self.clock.growth(t);
        let similarity = &mut self.similarity;
        similarity.mark(item);
        let touch = Touch {
            item,
            weight,
            minute: minute_of(t),
            signal,
        };
        let evicted =
            self.histories
                .record(profile, touch, self.settings.profile_items, |touched| {
                    similarity.mark(touched)
                });
        self.items.add_popularity(item, weight);
        if let Some(entry) = evicted {
            self.drop_entries(&[entry]);
        }
    }

    /// Category and availability of an item (from the catalog, or learnt from events); unknown
    /// items are available with no category.
    pub fn set_item(&mut self, product_id: &str, info: ItemInfo) {
        let item = self.intern(product_id);
        self.items.set(item, info);
    }

    /// Two profiles became one person: `from`'s history joins `into`'s.
    pub fn merge_profiles(&mut self, from: ProfileId, into: ProfileId) {
        let similarity = &mut self.similarity;
        let evicted = self
            .histories
            .merge(from, into, self.settings.profile_items, |touched| {
                similarity.mark(touched)
            });
        self.drop_entries(&evicted);
    }

    /// An erased person: their history is removed (and stops counting toward
    /// co-occurrence/popularity).
    pub fn forget(&mut self, profile: ProfileId) {
        let removed = self.histories.forget(profile);
        self.drop_entries(&removed);
    }

    /// Recomputes every neighbour list, in parallel (rayon); `progress(done, total)` is called
    /// now and then (for an indicatif bar).
    pub fn rebuild(&mut self, progress: &(dyn Fn(u64, u64) + Sync)) {
        // Taken out for the rebuild, so that it can read the rest of the model meanwhile.
        let mut similarity = std::mem::take(&mut self.similarity);
        similarity.rebuild(self.inputs(), progress);
        self.similarity = similarity;
    }

    /// Recomputes the neighbour lists of the items whose co-occurrences changed since the last
    /// rebuild/refresh; returns how many. Exactly what `rebuild` would give for those rows.
    ///
    /// The other rows keep the score they gave a neighbour whose norm has changed since (its
    /// ranking among their neighbours may be slightly off) until the next rebuild; refreshing
    /// them too would mean recomputing nearly every row whenever a popular item is touched.
    pub fn refresh(&mut self) -> usize {
        let refresh = self.prepare_refresh();
        self.apply_refresh(refresh)
    }

    /// What [`Model::refresh`] would recompute, computed from a shared reference so that
    /// readers go on meanwhile; [`Model::apply_refresh`] puts it in place. Nothing may be
    /// observed in between (the model's one writer prepares and applies).
    pub fn prepare_refresh(&self) -> Refresh {
        self.similarity.prepare(self.inputs())
    }

    /// Puts a prepared refresh in place; returns how many neighbour lists it recomputed.
    pub fn apply_refresh(&mut self, refresh: Refresh) -> usize {
        self.similarity.install(refresh)
    }

    /// The profiles who viewed, carted or bought `product_id` at or after `since`:
    /// the people a price drop or a restock concerns.
    pub fn recent_profiles(&self, product_id: &str, since: Timestamp) -> Vec<ProfileId> {
        let Some(item) = self.items.get(product_id) else {
            return Vec::new();
        };
        let minute = minute_of(since.as_millisecond());
        let wanted: Vec<u32> = self
            .histories
            .audience(item)
            .iter()
            .map(|m| m.profile)
            .filter(|&p| {
                let history = self.histories.history(p);
                history
                    .find(item)
                    .is_some_and(|at| history.entries[at].minute() >= minute)
            })
            .collect();
        self.histories.ids(&wanted)
    }

    pub fn stats(&self) -> ModelStats {
        ModelStats {
            profiles: self.histories.profiles() as u64,
            items: self.items.len() as u64,
            interactions: self
                .histories
                .all()
                .map(|h| u64::from(h.interactions))
                .sum(),
            neighbour_lists: self.similarity.filled_rows() as u64,
            stale_items: self.similarity.stale() as u64,
        }
    }

    /// Items whose neighbour lists are out of date (cheap, unlike [`Model::stats`]).
    pub fn stale_items(&self) -> usize {
        self.similarity.stale()
    }

    /// Rough bytes the model holds on the heap (histories, audiences, rows, item tables).
    pub fn heap_bytes(&self) -> usize {
        self.items.heap_bytes() + self.histories.heap_bytes() + self.similarity.heap_bytes()
    }

    /// What row computations read.
    fn inputs(&self) -> Inputs<'_> {
        let unit = self.clock.unit();
        Inputs {
            histories: &self.histories,
            names: self.items.names(),
            shrink: f64::from(self.settings.shrink.max(0.0)) * unit * unit,
            neighbours: self.settings.neighbours,
        }
    }

    fn intern(&mut self, product_id: &str) -> u32 {
        let item = self.items.intern(product_id);
        let items = self.items.len();
        self.histories.grow(items);
        self.similarity.grow(items);
        item
    }

    /// Entries that left histories: they no longer count toward popularity, and their items'
    /// rows must be recomputed.
    fn drop_entries(&mut self, entries: &[Entry]) {
        for entry in entries {
            self.items
                .add_popularity(entry.item, -f64::from(entry.weight));
            self.similarity.mark(entry.item);
        }
        // The remaining co-occurrences of a forgotten profile's items changed too; every such
        // item is in `entries` and marked above. For an eviction or a merge, the caller's
        // `touched` already marked the profile's other items.
    }

    /// The decay anchor moved `k` half-lives forward: every forward weight is scaled by `2^-k`.
    /// A power of two scales exactly, so cosines keep their values; rows are still marked stale
    /// because weights that fall below `f32`'s normal range lose bits and a refresh must stay
    /// identical to a rebuild. This happens about once every 32 half-lives (five years at the
    /// default), so the one full refresh it causes does not matter.
    fn renormalise(&mut self, k: i32) {
        let factor = scale_of(k);
        self.histories.rescale(factor);
        self.items.rescale(factor);
        self.similarity.rescale(factor);
        self.similarity.mark_all();
    }
}

#[cfg(test)]
mod tests;
