//! Item-to-item similarity: a cosine over the items' profile-weight vectors, kept as the top
//! neighbours of each item.
//!
//! `sim(i, j) = Σ_p w_pi·w_pj / (‖i‖·‖j‖ + shrink)`, with forward-decayed weights (see
//! [`crate::decay`]), so scores do not drift as time passes and only the rows of items whose
//! co-occurrences changed need recomputing. The shrink is expressed in squared units of a fresh
//! weight-1 interaction, which keeps its meaning as forward weights grow.
//!
//! A row is always computed by [`row`] from the current histories and the item norms, and a norm
//! always by [`norm`], in the same order of summation, whether for a full rebuild or a refresh of
//! the stale items. An item's norm changes only when its own weights do, which marks it stale, so
//! after a refresh every norm equals the one a rebuild would compute and the refreshed rows are
//! bit for bit the rows a rebuild would give. Rows that were not stale keep the score they had
//! for a neighbour whose norm has since changed: a small drift that the next rebuild removes.

use crate::history::Histories;
use crate::rank::keep_best;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// One neighbour: an item and its similarity.
pub(crate) type Neighbour = (u32, f32);

/// Below this many rows a refresh runs on the calling thread: splitting the work would cost more
/// than it saves.
const PARALLEL_FROM: usize = 256;

/// How often (in rows) a rebuild reports progress.
const PROGRESS_EVERY: u64 = 1024;

/// Neighbour rows, item norms, and which items are stale.
#[derive(Clone, Debug, Default)]
pub(crate) struct Similarity {
    norms: Vec<f64>,
    rows: Vec<Box<[Neighbour]>>,
    stale: Vec<bool>,
    stale_list: Vec<u32>,
}

/// Rows recomputed for the items that were stale, not yet in place.
#[derive(Debug)]
pub struct Refresh {
    items: Vec<u32>,
    /// Every norm, the stale items' recomputed.
    norms: Vec<f64>,
    rows: Vec<Box<[Neighbour]>>,
}

/// What a row computation reads.
#[derive(Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) histories: &'a Histories,
    pub(crate) names: &'a [Box<str>],
    /// The shrink in forward-weight units.
    pub(crate) shrink: f64,
    pub(crate) neighbours: usize,
}

impl Similarity {
    /// Makes room for items up to `items` (new items have empty rows).
    pub(crate) fn grow(&mut self, items: usize) {
        if self.rows.len() < items {
            self.norms.resize(items, 0.0);
            self.rows.resize_with(items, Default::default);
            self.stale.resize(items, false);
        }
    }

    pub(crate) fn row(&self, item: u32) -> &[Neighbour] {
        &self.rows[item as usize]
    }

    /// Marks an item's row as needing recomputation.
    pub(crate) fn mark(&mut self, item: u32) {
        let stale = &mut self.stale[item as usize];
        if !*stale {
            *stale = true;
            self.stale_list.push(item);
        }
    }

    pub(crate) fn mark_all(&mut self) {
        for item in 0..self.rows.len() as u32 {
            self.mark(item);
        }
    }

    pub(crate) fn stale(&self) -> usize {
        self.stale_list.len()
    }

    pub(crate) fn filled_rows(&self) -> usize {
        self.rows.iter().filter(|r| !r.is_empty()).count()
    }

    /// Scales every norm by `factor` (a power of two, when the decay anchor moves).
    pub(crate) fn rescale(&mut self, factor: f64) {
        self.norms.iter_mut().for_each(|n| *n *= factor);
    }

    /// Recomputes every norm and row in parallel.
    pub(crate) fn rebuild(&mut self, inputs: Inputs<'_>, progress: &(dyn Fn(u64, u64) + Sync)) {
        let items = inputs.names.len();
        self.grow(items);
        let total = items as u64;
        progress(0, total);
        self.norms = (0..items as u32)
            .into_par_iter()
            .map(|i| norm(inputs.histories, i))
            .collect();
        let done = AtomicU64::new(0);
        let norms = &self.norms;
        self.rows = (0..items as u32)
            .into_par_iter()
            .with_min_len(64)
            .map_init(
                || Scratch::new(items),
                |scratch, i| {
                    let row = row(inputs, norms, i, scratch);
                    let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if done.is_multiple_of(PROGRESS_EVERY) && done < total {
                        progress(done, total);
                    }
                    row
                },
            )
            .collect();
        for &item in &self.stale_list {
            self.stale[item as usize] = false;
        }
        self.stale_list.clear();
        progress(total, total);
    }

    /// The stale items' norms and rows, computed without changing anything, so that readers
    /// can go on while it runs; [`Similarity::install`] puts them in place.
    pub(crate) fn prepare(&self, inputs: Inputs<'_>) -> Refresh {
        let items = inputs.names.len();
        let mut stale = self.stale_list.clone();
        // In item order, as a rebuild goes: neighbouring ids were often learnt together and share
        // much of their audience, whose histories then stay in cache from one row to the next.
        stale.sort_unstable();
        let mut norms = self.norms.clone();
        norms.resize(items, 0.0);
        let rows: Vec<Box<[Neighbour]>> = if stale.len() < PARALLEL_FROM {
            for &item in &stale {
                norms[item as usize] = norm(inputs.histories, item);
            }
            let mut scratch = Scratch::new(items);
            stale
                .iter()
                .map(|&item| row(inputs, &norms, item, &mut scratch))
                .collect()
        } else {
            let fresh: Vec<f64> = stale
                .par_iter()
                .map(|&item| norm(inputs.histories, item))
                .collect();
            for (&item, norm) in stale.iter().zip(fresh) {
                norms[item as usize] = norm;
            }
            let norms = &norms;
            stale
                .par_iter()
                .with_min_len(32)
                .map_init(
                    || Scratch::new(items),
                    |scratch, &item| row(inputs, norms, item, scratch),
                )
                .collect()
        };
        Refresh {
            items: stale,
            norms,
            rows,
        }
    }

    /// Puts a prepared refresh in place; returns how many rows it recomputed. Items marked
    /// stale after it was prepared stay stale.
    pub(crate) fn install(&mut self, refresh: Refresh) -> usize {
        let Refresh { items, norms, rows } = refresh;
        self.grow(norms.len());
        for (&item, row) in items.iter().zip(rows) {
            self.norms[item as usize] = norms[item as usize];
            self.rows[item as usize] = row;
            self.stale[item as usize] = false;
        }
        let stale = &self.stale;
        self.stale_list.retain(|&i| stale[i as usize]);
        items.len()
    }

    /// Rough heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        let rows: usize = self
            .rows
            .iter()
            .map(|r| r.len() * size_of::<Neighbour>())
            .sum();
        rows + self.rows.len() * (size_of::<Box<[Neighbour]>>() + 8 + 1)
            + self.stale_list.capacity() * 4
    }

    #[cfg(test)]
    pub(crate) fn norm_of(&self, item: u32) -> f64 {
        self.norms[item as usize]
    }

    #[cfg(test)]
    pub(crate) fn stale_items(&self) -> Vec<u32> {
        self.stale_list.clone()
    }
}

/// Per-thread working memory for row computations: a dense accumulator over all items and the
/// list of the entries it touched, so clearing costs only what was used.
struct Scratch {
    dots: Vec<f64>,
    touched: Vec<u32>,
    candidates: Vec<(u32, f64)>,
}

impl Scratch {
    fn new(items: usize) -> Scratch {
        Scratch {
            dots: vec![0.0; items],
            touched: Vec::new(),
            candidates: Vec::new(),
        }
    }
}

/// `‖item‖`: the Euclidean norm of the item's profile weights.
pub(crate) fn norm(histories: &Histories, item: u32) -> f64 {
    histories
        .audience(item)
        .iter()
        .map(|m| f64::from(m.weight).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The item's best neighbours by shrunk cosine, best first (ties by product id).
fn row(inputs: Inputs<'_>, norms: &[f64], item: u32, scratch: &mut Scratch) -> Box<[Neighbour]> {
    let Scratch {
        dots,
        touched,
        candidates,
    } = scratch;
    let histories = inputs.histories;
    for member in histories.audience(item) {
        let own = f64::from(member.weight);
        if own <= 0.0 {
            continue;
        }
        for e in &histories.history(member.profile).entries {
            // Weights are never negative; a zero one (decayed past f32's range) adds nothing and
            // must not count as touched, since "touched" is read off a non-zero sum.
            if e.item == item || e.weight <= 0.0 {
                continue;
            }
            let dot = &mut dots[e.item as usize];
            if *dot == 0.0 {
                touched.push(e.item);
            }
            *dot += own * f64::from(e.weight);
        }
    }
    let own_norm = norms[item as usize];
    candidates.clear();
    for &j in touched.iter() {
        let dot = std::mem::take(&mut dots[j as usize]);
        let denominator = own_norm * norms[j as usize] + inputs.shrink;
        if denominator <= 0.0 {
            continue;
        }
        // Ranked by the score as stored, so the stored row is in exactly the order it was chosen.
        let score = (dot / denominator) as f32;
        if score.is_finite() && score > 0.0 {
            candidates.push((j, f64::from(score)));
        }
    }
    touched.clear();
    keep_best(candidates, inputs.neighbours, inputs.names);
    candidates.iter().map(|&(j, s)| (j, s as f32)).collect()
}
