//! Order-independent sums of `f64`.
//!
//! Floating-point addition is not associative: `0.1 + 0.2 + 0.3` and `0.3 + 0.2 + 0.1` differ in
//! the last bit. Events arrive in any order, and the incremental engine and the reference
//! evaluator add them in different orders, so a plain running sum could put a profile on
//! different sides of `sum(revenue) >= 500`. Instead a sum is kept exactly, as a short list of
//! non-overlapping partial sums (Shewchuk's expansion arithmetic), and rounded once, to the
//! nearest `f64`, when read. The result depends only on the multiset of values.
//!
//! Sums beyond the `f64` range are not exact (they become infinite), which no real property
//! reaches.

/// An exact sum of `f64` values.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ExactSum {
    /// Non-overlapping partial sums, increasing in magnitude; their exact sum is the total.
    partials: Vec<f64>,
}

impl ExactSum {
    pub(crate) fn add(&mut self, mut x: f64) {
        let mut kept = 0;
        for i in 0..self.partials.len() {
            let mut y = self.partials[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            // `hi + lo == x + y` exactly (the classic two-sum with |x| >= |y|).
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// The exact sum rounded to the nearest `f64` (ties to even).
    pub(crate) fn value(&self) -> f64 {
        let p = &self.partials;
        let Some(&last) = p.last() else {
            return 0.0;
        };
        let mut n = p.len() - 1;
        let mut hi = last;
        let mut lo = 0.0;
        // Add from the largest partial down until the addition stops being exact.
        while n > 0 {
            let x = hi;
            let y = p[n - 1];
            n -= 1;
            hi = x + y;
            let rounded = hi - x;
            lo = y - rounded;
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even correctly: if the remainder `lo` is exactly half an ulp and the next
        // partial pushes in the same direction, the rounding must go that way.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }

    pub(crate) fn partials(&self) -> &[f64] {
        &self.partials
    }

    pub(crate) fn from_partials(partials: Vec<f64>) -> ExactSum {
        ExactSum { partials }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.partials.capacity() * size_of::<f64>()
    }
}

/// The exact sum of some values, rounded once.
#[cfg(test)]
pub(crate) fn exact_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut sum = ExactSum::default();
    for v in values {
        sum.add(v);
    }
    sum.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_do_not_depend_on_order() {
        let values = [0.1, 0.2, 0.3, 1e16, -1e16, 49.99, 19.99, 1e-17];
        let forward = exact_sum(values);
        let backward = exact_sum(values.iter().rev().copied());
        assert_eq!(forward.to_bits(), backward.to_bits());
        assert_eq!(exact_sum([0.1, 0.2, 0.3]), 0.6);
        assert_ne!(0.1 + 0.2 + 0.3, 0.6, "the naive sum is off by one ulp");
        assert_eq!(exact_sum([]), 0.0);
        assert_eq!(exact_sum([1e308, 1.0, -1e308]), 1.0);
    }

    #[test]
    fn rounds_half_to_even() {
        // 1 + 2^-53 is exactly halfway between 1 and the next f64; ties go to the even 1.0, but
        // a further tiny positive amount must push it up.
        let half_ulp = 2f64.powi(-53);
        assert_eq!(exact_sum([1.0, half_ulp]), 1.0);
        assert_eq!(exact_sum([1.0, half_ulp, 1e-300]), 1.0 + 2.0 * half_ulp);
    }
}
