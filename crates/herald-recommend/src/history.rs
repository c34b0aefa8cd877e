//! Who interacted with what: each profile's recent items with their forward-decayed weights, and
//! for each item the profiles that have it in their history.
//!
//! The two directions are kept in step so one item's similarity row can be recomputed from the
//! item's profiles alone. The audience repeats each profile's weight for the item, so norms and
//! rows read it without searching the history. Each history entry remembers where its profile
//! sits in the item's list, so updating or removing an entry costs the length of one history at
//! most, never the length of a popular item's audience.

use crate::Signal;
use herald_core::ProfileId;
use std::collections::HashMap;

const VIEWED: u32 = 1 << 30;
const BOUGHT: u32 = 1 << 31;
const MINUTES: u32 = VIEWED - 1;

/// One item in one profile's history (16 bytes: there are as many as distinct profile–item
/// pairs, the bulk of the model's memory).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Entry {
    pub(crate) item: u32,
    /// Position of the profile in the item's audience.
    slot: u32,
    /// Forward-decayed sum of the interactions' signal weights.
    pub(crate) weight: f32,
    /// Minute of the latest interaction (30 bits reach past the year 3000) and two flags.
    stamp: u32,
}

impl Entry {
    pub(crate) fn minute(&self) -> u32 {
        self.stamp & MINUTES
    }

    pub(crate) fn viewed(&self) -> bool {
        self.stamp & VIEWED != 0
    }

    pub(crate) fn bought(&self) -> bool {
        self.stamp & BOUGHT != 0
    }

    fn touch(&mut self, minute: u32, signal: Signal) {
        let flags = match signal {
            Signal::View => VIEWED,
            Signal::Cart => 0,
            Signal::Purchase => BOUGHT,
        };
        self.stamp = (self.stamp & !MINUTES) | minute.max(self.minute()) | flags;
    }

    fn absorb(&mut self, other: &Entry) {
        self.weight += other.weight;
        let minute = self.minute().max(other.minute());
        self.stamp = ((self.stamp | other.stamp) & !MINUTES) | minute;
    }
}

/// Minutes since the Unix epoch, clamped to what an [`Entry`] holds.
pub(crate) fn minute_of(ms: i64) -> u32 {
    ms.div_euclid(60_000).clamp(0, i64::from(MINUTES)) as u32
}

/// One interaction, weighed and ready to record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Touch {
    pub(crate) item: u32,
    /// Forward-decayed signal weight.
    pub(crate) weight: f64,
    pub(crate) minute: u32,
    pub(crate) signal: Signal,
}

/// A profile in an item's audience, with its weight for the item (always equal to the weight in
/// the profile's entry).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Member {
    pub(crate) profile: u32,
    pub(crate) weight: f32,
}

/// One profile's recent items.
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    pub(crate) entries: Vec<Entry>,
    /// Interactions observed (including those of profiles merged in).
    pub(crate) interactions: u32,
}

impl History {
    pub(crate) fn find(&self, item: u32) -> Option<usize> {
        self.entries.iter().position(|e| e.item == item)
    }

    /// The entry touched longest ago (the first of equals, so the choice is deterministic).
    fn oldest(&self) -> Option<usize> {
        (0..self.entries.len()).min_by_key(|&i| self.entries[i].minute())
    }
}

/// Every profile's history, and every item's audience.
#[derive(Clone, Debug, Default)]
pub(crate) struct Histories {
    index: HashMap<ProfileId, u32>,
    histories: Vec<History>,
    /// Slots of forgotten or merged-away profiles, reused before the vector grows.
    free: Vec<u32>,
    /// For each item, the profiles whose history has it.
    audience: Vec<Vec<Member>>,
}

impl Histories {
    pub(crate) fn profiles(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn get(&self, id: ProfileId) -> Option<&History> {
        self.index.get(&id).map(|&p| &self.histories[p as usize])
    }

    pub(crate) fn history(&self, p: u32) -> &History {
        &self.histories[p as usize]
    }

    /// The ids of these dense profile numbers, in their order. One pass over the index: the
    /// model keeps no reverse map, as only catalog updates ask.
    pub(crate) fn ids(&self, wanted: &[u32]) -> Vec<ProfileId> {
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut by_slot: HashMap<u32, ProfileId> =
            wanted.iter().map(|&p| (p, ProfileId(0))).collect();
        for (&id, &p) in &self.index {
            if let Some(slot) = by_slot.get_mut(&p) {
                *slot = id;
            }
        }
        wanted.iter().map(|p| by_slot[p]).collect()
    }

    pub(crate) fn audience(&self, item: u32) -> &[Member] {
        &self.audience[item as usize]
    }

    /// Makes room for items up to `items`.
    pub(crate) fn grow(&mut self, items: usize) {
        if self.audience.len() < items {
            self.audience.resize_with(items, Vec::new);
        }
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &History> {
        self.index.values().map(|&p| &self.histories[p as usize])
    }

    fn slot_for(&mut self, id: ProfileId) -> u32 {
        if let Some(&p) = self.index.get(&id) {
            return p;
        }
        let p = self.free.pop().unwrap_or_else(|| {
            self.histories.push(History::default());
            u32::try_from(self.histories.len() - 1).expect("fewer than 2^32 profiles")
        });
        self.index.insert(id, p);
        p
    }

    /// Adds an interaction to the profile's history. When that makes the history longer than
    /// `cap`, the oldest entry leaves and is returned. Either way, the profile's items after the
    /// change (the ones whose co-occurrences moved) are passed to `touched`.
    pub(crate) fn record(
        &mut self,
        id: ProfileId,
        touch: Touch,
        cap: usize,
        mut touched: impl FnMut(u32),
    ) -> Option<Entry> {
        let Touch {
            item,
            weight,
            minute,
            signal,
        } = touch;
        let p = self.slot_for(id);
        let history = &mut self.histories[p as usize];
        history.interactions = history.interactions.saturating_add(1);
        let mut evicted = None;
        match history.find(item) {
            Some(at) => {
                let entry = &mut history.entries[at];
                entry.weight = (f64::from(entry.weight) + weight) as f32;
                entry.touch(minute, signal);
                self.audience[item as usize][entry.slot as usize].weight = entry.weight;
            }
            None => {
                if history.entries.len() >= cap.max(1) {
                    let oldest = history.oldest().expect("a full history has entries");
                    evicted = Some(self.unlink(p, oldest));
                }
                let audience = &mut self.audience[item as usize];
                let mut entry = Entry {
                    item,
                    slot: u32::try_from(audience.len()).expect("fewer than 2^32 profiles"),
                    weight: weight as f32,
                    stamp: 0,
                };
                entry.touch(minute, signal);
                audience.push(Member {
                    profile: p,
                    weight: entry.weight,
                });
                self.histories[p as usize].entries.push(entry);
            }
        }
        self.histories[p as usize]
            .entries
            .iter()
            .for_each(|e| touched(e.item));
        evicted
    }

    /// Removes one entry from a profile's history and the profile from the item's audience.
    fn unlink(&mut self, p: u32, at: usize) -> Entry {
        let entry = self.histories[p as usize].entries.swap_remove(at);
        self.leave_audience(&entry);
        entry
    }

    /// Takes the entry's profile out of its item's audience, fixing the slot of whichever profile
    /// moved into the gap.
    fn leave_audience(&mut self, entry: &Entry) {
        let audience = &mut self.audience[entry.item as usize];
        let slot = entry.slot as usize;
        audience.swap_remove(slot);
        if let Some(&Member { profile: moved, .. }) = audience.get(slot) {
            let history = &mut self.histories[moved as usize];
            let at = history
                .find(entry.item)
                .expect("audience and histories agree");
            history.entries[at].slot = entry.slot;
        }
    }

    /// Removes a profile entirely; returns its entries (their items' co-occurrences changed).
    pub(crate) fn forget(&mut self, id: ProfileId) -> Vec<Entry> {
        let Some(p) = self.index.remove(&id) else {
            return Vec::new();
        };
        let history = std::mem::take(&mut self.histories[p as usize]);
        for entry in &history.entries {
            self.leave_audience(entry);
        }
        self.free.push(p);
        history.entries
    }

    /// Moves `from`'s history into `into`'s: weights of common items add up, flags combine, and
    /// the oldest entries beyond `cap` leave (returned). Every item of the merged history is
    /// passed to `touched`.
    pub(crate) fn merge(
        &mut self,
        from: ProfileId,
        into: ProfileId,
        cap: usize,
        mut touched: impl FnMut(u32),
    ) -> Vec<Entry> {
        if from == into {
            return Vec::new();
        }
        let Some(f) = self.index.remove(&from) else {
            return Vec::new();
        };
        let i = match self.index.get(&into) {
            Some(&i) => i,
            None => {
                // Nothing to combine with: the history simply changes hands.
                self.index.insert(into, f);
                return Vec::new();
            }
        };
        let moved = std::mem::take(&mut self.histories[f as usize]);
        self.free.push(f);
        for entry in moved.entries {
            match self.histories[i as usize].find(entry.item) {
                Some(at) => {
                    let kept = &mut self.histories[i as usize].entries[at];
                    kept.absorb(&entry);
                    let kept = *kept;
                    self.audience[kept.item as usize][kept.slot as usize].weight = kept.weight;
                    self.leave_audience(&entry);
                }
                None => {
                    self.audience[entry.item as usize][entry.slot as usize].profile = i;
                    self.histories[i as usize].entries.push(entry);
                }
            }
        }
        let mut evicted = Vec::new();
        let history = &mut self.histories[i as usize];
        history.interactions = history.interactions.saturating_add(moved.interactions);
        history.entries.iter().for_each(|e| touched(e.item));
        while self.histories[i as usize].entries.len() > cap.max(1) {
            let oldest = self.histories[i as usize].oldest().expect("non-empty");
            evicted.push(self.unlink(i, oldest));
        }
        evicted
    }

    /// Scales every weight by `factor` (when the decay anchor moves). Both copies of a weight go
    /// through the same arithmetic, so they stay equal.
    pub(crate) fn rescale(&mut self, factor: f64) {
        let scale = |w: f32| (f64::from(w) * factor) as f32;
        for history in &mut self.histories {
            for entry in &mut history.entries {
                entry.weight = scale(entry.weight);
            }
        }
        for member in self.audience.iter_mut().flatten() {
            member.weight = scale(member.weight);
        }
    }

    /// Rough heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let entries: usize = self
            .histories
            .iter()
            .map(|h| h.entries.capacity() * size_of::<Entry>())
            .sum();
        let audience: usize = self
            .audience
            .iter()
            .map(|a| a.capacity() * size_of::<Member>())
            .sum();
        entries
            + audience
            + self.histories.capacity() * size_of::<History>()
            + self.audience.capacity() * size_of::<Vec<Member>>()
            // A hash map entry plus its control byte, at the usual load.
            + self.index.capacity() * (size_of::<(ProfileId, u32)>() + 1)
    }

    /// Checks that both directions agree (for tests).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        for (&id, &p) in &self.index {
            for entry in &self.histories[p as usize].entries {
                let member = self.audience[entry.item as usize][entry.slot as usize];
                assert_eq!(member.profile, p, "{id:?} item {}", entry.item);
                assert_eq!(member.weight.to_bits(), entry.weight.to_bits());
            }
        }
        let links: usize = self.audience.iter().map(Vec::len).sum();
        let entries: usize = self.all().map(|h| h.entries.len()).sum();
        assert_eq!(links, entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(h: &mut Histories, p: u64, item: u32, minute: u32, cap: usize) -> Option<Entry> {
        h.grow(item as usize + 1);
        let touch = Touch {
            item,
            weight: 1.0,
            minute,
            signal: Signal::View,
        };
        h.record(ProfileId(p), touch, cap, |_| {})
    }

    #[test]
    fn the_oldest_entry_leaves_a_full_history() {
        let mut h = Histories::default();
        record(&mut h, 1, 0, 10, 2);
        record(&mut h, 1, 1, 5, 2);
        record(&mut h, 2, 1, 7, 2);
        let evicted = record(&mut h, 1, 2, 20, 2).unwrap();
        assert_eq!(evicted.item, 1);
        assert_eq!(
            h.audience(1),
            &[Member {
                profile: 1,
                weight: 1.0
            }]
        );
        h.check();
    }

    #[test]
    fn merging_combines_common_items_and_relinks_the_rest() {
        let mut h = Histories::default();
        record(&mut h, 1, 0, 10, 10);
        record(&mut h, 1, 1, 11, 10);
        record(&mut h, 2, 1, 12, 10);
        record(&mut h, 3, 1, 13, 10);
        record(&mut h, 2, 2, 14, 10);
        let mut touched = Vec::new();
        h.merge(ProfileId(2), ProfileId(1), 10, |i| touched.push(i));
        h.check();
        touched.sort();
        assert_eq!(touched, vec![0, 1, 2]);
        let merged = h.get(ProfileId(1)).unwrap();
        assert_eq!(merged.interactions, 4);
        let one = merged.entries[merged.find(1).unwrap()];
        assert_eq!((one.weight, one.minute()), (2.0, 12));
        assert!(h.get(ProfileId(2)).is_none());
        assert_eq!(h.audience(1).len(), 2);
    }

    #[test]
    fn forgetting_unlinks_and_frees_the_slot() {
        let mut h = Histories::default();
        record(&mut h, 1, 0, 10, 10);
        record(&mut h, 2, 0, 11, 10);
        record(&mut h, 3, 0, 12, 10);
        assert_eq!(h.forget(ProfileId(1)).len(), 1);
        h.check();
        record(&mut h, 4, 0, 13, 10);
        h.check();
        assert_eq!(h.profiles(), 3);
        assert_eq!(h.histories.len(), 3);
    }

    #[test]
    fn flags_and_minutes_pack_into_one_word() {
        let mut e = Entry {
            item: 0,
            slot: 0,
            weight: 0.0,
            stamp: 0,
        };
        e.touch(minute_of(i64::MAX), Signal::Purchase);
        assert!(e.bought() && !e.viewed());
        assert_eq!(e.minute(), MINUTES);
        e.touch(3, Signal::View);
        assert!(e.bought() && e.viewed());
        assert_eq!(e.minute(), MINUTES);
        assert_eq!(minute_of(-5), 0);
    }
}
