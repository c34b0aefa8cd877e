//! Forward decay: time-decayed weights that never need re-decaying.
//!
//! An interaction at time `t` should weigh `w · 2^-(now - t)/H` at `now` (half-life `H`). Written
//! as `w · 2^(t - anchor)/H · 2^-(now - anchor)/H`, the first factor is fixed when the interaction
//! arrives and the second is the same for every interaction. So the model stores the first
//! ("forward") weight and multiplies by the second only when it reports a score. Cosine
//! similarity is a ratio of such weights, so it does not depend on `now` at all, and adding an
//! interaction changes only the sums it belongs to: incremental updates stay exact.
//!
//! Forward weights grow by a factor 2 every half-life. Over years they would overflow `f32`, so
//! once an interaction lands more than [`RENORMALISE_AFTER`] half-lives past the anchor, the
//! anchor moves forward by a whole number of half-lives and every stored weight is scaled by the
//! matching power of two. Scaling by a power of two is exact in binary floating point (until a
//! weight becomes too small to matter), so the model's answers stay as they were.

/// Milliseconds per day.
const DAY_MS: f64 = 86_400_000.0;

/// How many half-lives past the anchor a forward weight may reach before renormalising: 2^32 is
/// far from `f32`'s limit even for squared weights summed over many interactions (kept in f64).
pub(crate) const RENORMALISE_AFTER: f64 = 32.0;

/// The anchor of forward weights and the latest interaction seen.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    half_life_ms: f64,
    /// Where forward weights are 1; set by the first interaction.
    anchor: Option<i64>,
    /// The latest interaction time seen (the model's idea of "now" for similarity).
    latest: i64,
}

impl Clock {
    /// A non-positive or non-finite half-life means no decay at all.
    pub(crate) fn new(half_life_days: f64) -> Clock {
        let half_life_ms = if half_life_days.is_finite() && half_life_days > 0.0 {
            half_life_days * DAY_MS
        } else {
            f64::INFINITY
        };
        Clock {
            half_life_ms,
            anchor: None,
            latest: i64::MIN,
        }
    }

    fn half_lives(&self, t: i64) -> f64 {
        match self.anchor {
            // Computed in f64 from an i64 difference, so spans of centuries keep ms precision.
            Some(anchor) => (t.saturating_sub(anchor)) as f64 / self.half_life_ms,
            None => 0.0,
        }
    }

    /// Takes note of an interaction at `t` before it is weighed. Returns `Some(k)` when the anchor
    /// moved `k` half-lives forward: every stored forward weight must then be scaled by `2^-k`.
    pub(crate) fn admit(&mut self, t: i64) -> Option<i32> {
        self.latest = self.latest.max(t);
        let Some(anchor) = self.anchor else {
            self.anchor = Some(t);
            return None;
        };
        let h = self.half_lives(t);
        if h <= RENORMALISE_AFTER {
            return None;
        }
        let k = h.floor().min(f64::from(i32::MAX)) as i32;
        let shift = (f64::from(k) * self.half_life_ms).round() as i64;
        self.anchor = Some(anchor.saturating_add(shift));
        Some(k)
    }

    /// The forward weight of a weight-1 interaction at `t`.
    pub(crate) fn growth(&self, t: i64) -> f64 {
        exp2(self.half_lives(t))
    }

    /// Turns forward weights into weights decayed to `now`.
    pub(crate) fn decay_to(&self, now: i64) -> f64 {
        exp2(-self.half_lives(now))
    }

    /// The forward weight of a weight-1 interaction at the latest time seen: the unit in which
    /// the similarity shrink is expressed, so that it means the same however old the anchor is.
    pub(crate) fn unit(&self) -> f64 {
        if self.latest == i64::MIN {
            1.0
        } else {
            self.growth(self.latest)
        }
    }
}

/// `2^x`, kept finite: far outside the range any real score needs, it saturates.
fn exp2(x: f64) -> f64 {
    x.clamp(-1000.0, 1000.0).exp2()
}

/// `2^-k` exactly, for rescaling by whole half-lives.
pub(crate) fn scale_of(k: i32) -> f64 {
    2f64.powi(-k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_weight_doubles_each_half_life() {
        let mut clock = Clock::new(1.0);
        assert_eq!(clock.admit(0), None);
        assert_eq!(clock.growth(0), 1.0);
        assert!((clock.growth(DAY_MS as i64) - 2.0).abs() < 1e-12);
        assert!((clock.decay_to(3 * DAY_MS as i64) - 0.125).abs() < 1e-12);
    }

    #[test]
    fn anchor_moves_by_whole_half_lives() {
        let mut clock = Clock::new(1.0);
        clock.admit(0);
        assert_eq!(clock.admit(32 * DAY_MS as i64), None);
        assert_eq!(clock.admit((40.5 * DAY_MS) as i64), Some(40));
        assert!((clock.growth((40.5 * DAY_MS) as i64) - 2f64.sqrt()).abs() < 1e-9);
        assert_eq!(scale_of(40), 1.0 / (1u64 << 40) as f64);
    }

    #[test]
    fn no_half_life_means_no_decay() {
        let mut clock = Clock::new(0.0);
        clock.admit(0);
        assert_eq!(clock.admit(i64::MAX / 2), None);
        assert_eq!(clock.decay_to(1_000_000_000), 1.0);
    }
}
