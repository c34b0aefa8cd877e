//! The items the model knows: their interned ids, what the catalog says about them, and how
//! popular they are.
//!
//! Product ids are strings from customers' systems; everything inside the model uses a dense
//! `u32` instead, so per-item state is a plain vector and neighbour rows stay small.

use crate::ItemInfo;
use std::collections::HashMap;

/// No category.
const NONE: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub(crate) struct Items {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
    category: Vec<u32>,
    available: Vec<bool>,
    /// Forward-decayed interaction weight summed over the histories the model keeps.
    popularity: Vec<f64>,
    categories: Vec<Box<str>>,
    category_index: HashMap<Box<str>, u32>,
    /// The items of each category.
    members: Vec<Vec<u32>>,
}

impl Items {
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn get(&self, product_id: &str) -> Option<u32> {
        self.index.get(product_id).copied()
    }

    /// The item's dense id, adding it (available, no category) if it is new.
    pub(crate) fn intern(&mut self, product_id: &str) -> u32 {
        if let Some(&item) = self.index.get(product_id) {
            return item;
        }
        let item = u32::try_from(self.names.len()).expect("fewer than 2^32 items");
        self.names.push(product_id.into());
        self.index.insert(product_id.into(), item);
        self.category.push(NONE);
        self.available.push(true);
        self.popularity.push(0.0);
        item
    }

    pub(crate) fn names(&self) -> &[Box<str>] {
        &self.names
    }

    pub(crate) fn name(&self, item: u32) -> &str {
        &self.names[item as usize]
    }

    pub(crate) fn available(&self, item: u32) -> bool {
        self.available[item as usize]
    }

    pub(crate) fn category(&self, item: u32) -> Option<u32> {
        Some(self.category[item as usize]).filter(|&c| c != NONE)
    }

    pub(crate) fn category_named(&self, name: &str) -> Option<u32> {
        self.category_index.get(name).copied()
    }

    pub(crate) fn members(&self, category: u32) -> &[u32] {
        &self.members[category as usize]
    }

    pub(crate) fn popularity(&self, item: u32) -> f64 {
        self.popularity[item as usize]
    }

    pub(crate) fn add_popularity(&mut self, item: u32, weight: f64) {
        let p = &mut self.popularity[item as usize];
        // Subtractions (forgotten or pruned history) may leave rounding dust below zero.
        *p = (*p + weight).max(0.0);
    }

    /// Scales every popularity by `factor` (when the decay anchor moves).
    pub(crate) fn rescale(&mut self, factor: f64) {
        self.popularity.iter_mut().for_each(|p| *p *= factor);
    }

    pub(crate) fn set(&mut self, item: u32, info: ItemInfo) {
        let i = item as usize;
        self.available[i] = info.available;
        let new = match info.category {
            Some(name) => self.category_id(&name),
            None => NONE,
        };
        let old = self.category[i];
        if old == new {
            return;
        }
        if old != NONE {
            let members = &mut self.members[old as usize];
            if let Some(at) = members.iter().position(|&m| m == item) {
                members.swap_remove(at);
            }
        }
        if new != NONE {
            self.members[new as usize].push(item);
        }
        self.category[i] = new;
    }

    fn category_id(&mut self, name: &str) -> u32 {
        if let Some(&c) = self.category_index.get(name) {
            return c;
        }
        let c = u32::try_from(self.categories.len()).expect("fewer than 2^32 categories");
        self.categories.push(name.into());
        self.category_index.insert(name.into(), c);
        self.members.push(Vec::new());
        c
    }

    /// Rough heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let strings: usize = self.names.iter().map(|n| 2 * n.len()).sum();
        strings
            + self.names.len() * (2 * 16 + 4 + 4 + 1 + 8)
            + self.members.iter().map(|m| m.capacity() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_items_are_available_without_category() {
        let mut items = Items::default();
        let a = items.intern("a");
        assert_eq!(items.intern("a"), a);
        assert!(items.available(a));
        assert_eq!(items.category(a), None);
    }

    #[test]
    fn category_changes_move_membership() {
        let mut items = Items::default();
        let a = items.intern("a");
        let info = |c: &str| ItemInfo {
            category: Some(c.into()),
            available: true,
        };
        items.set(a, info("shoes"));
        items.set(a, info("hats"));
        let shoes = items.category_named("shoes").unwrap();
        let hats = items.category_named("hats").unwrap();
        assert!(items.members(shoes).is_empty());
        assert_eq!(items.members(hats), &[a]);
        items.set(a, ItemInfo::default());
        assert!(items.members(hats).is_empty());
        assert!(!items.available(a));
    }
}
