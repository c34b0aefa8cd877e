//! Ranking candidates: best score first, ties broken by product id, so answers never depend on
//! hash-map or thread order.

use std::cmp::Ordering;

/// Higher score first, then the smaller product id. Scores are never NaN here (callers drop
/// non-finite ones), and `total_cmp` keeps the order total regardless.
pub(crate) fn best_first(names: &[Box<str>], a: &(u32, f64), b: &(u32, f64)) -> Ordering {
    b.1.total_cmp(&a.1)
        .then_with(|| names[a.0 as usize].cmp(&names[b.0 as usize]))
}

/// Keeps the `n` best candidates (each item at most once), sorted best first.
pub(crate) fn keep_best(candidates: &mut Vec<(u32, f64)>, n: usize, names: &[Box<str>]) {
    if n == 0 {
        candidates.clear();
        return;
    }
    if candidates.len() > n {
        candidates.select_nth_unstable_by(n - 1, |a, b| best_first(names, a, b));
        candidates.truncate(n);
    }
    candidates.sort_unstable_by(|a, b| best_first(names, a, b));
}

/// Adds up the scores of repeated items (sorting by item first, stably, so sums are always taken
/// in the same order).
pub(crate) fn sum_by_item(candidates: &mut Vec<(u32, f64)>) {
    candidates.sort_by_key(|c| c.0);
    candidates.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_smaller_product_id() {
        let names: Vec<Box<str>> = vec!["b".into(), "a".into(), "c".into(), "d".into()];
        let mut c = vec![(0, 1.0), (1, 1.0), (2, 3.0), (3, 0.5)];
        keep_best(&mut c, 3, &names);
        assert_eq!(c, vec![(2, 3.0), (1, 1.0), (0, 1.0)]);
        keep_best(&mut c, 0, &names);
        assert!(c.is_empty());
    }

    #[test]
    fn repeated_items_add_up() {
        let mut c = vec![(3, 1.0), (1, 2.0), (3, 0.5), (1, 1.0), (2, 4.0)];
        sum_by_item(&mut c);
        assert_eq!(c, vec![(1, 3.0), (2, 4.0), (3, 1.5)]);
    }
}
