//! Deterministic randomness that stays identical across runs, platforms and dependency upgrades.
//!
//! The output of a seed is a contract (tests and benchmarks compare bytes), so nothing here comes
//! from a crate whose sampling algorithms may change between versions, and nothing calls the
//! platform's `libm`, whose `ln`/`exp` may differ in the last bit between systems. The generator is
//! SplitMix64: tiny state (a person carries their own stream), fast, and good enough for
//! simulation. `ln` and `exp` are computed with basic IEEE operations only, which Rust never fuses
//! or reorders, so they round the same everywhere.

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a strong 64-bit mix, also used to hash ids.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A well-spread 64-bit value for a (seed, domain, a, b) key, so independent ids and streams never
/// line up even for neighbouring inputs.
pub(crate) fn hash(seed: u64, domain: u64, a: u64, b: u64) -> u64 {
    mix(mix(mix(seed ^ mix(domain.wrapping_mul(GOLDEN))) ^ a) ^ b.wrapping_mul(GOLDEN))
}

impl Rng {
    /// An independent stream for one use (`domain`) of one entity (`index`) under a seed.
    pub(crate) fn stream(seed: u64, domain: u64, index: u64) -> Self {
        Rng(hash(seed, domain, index, 0))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`). Lemire's multiply-shift; the bias for the small `n` used here
    /// is below 2^-40 and not worth a rejection loop.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn in proportion to `weights`.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// Exponentially distributed with the given mean.
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        // 1 - unit() is in (0, 1], so ln is finite.
        -ln(1.0 - self.unit()) * mean
    }

    /// Poisson-distributed count, by inversion of one uniform draw. Rates here are mostly far
    /// below 1 and this runs for every person every day, so the common zero is decided without an
    /// `exp`: `u < 1 - lambda` implies `u < e^-lambda`.
    pub(crate) fn poisson(&mut self, lambda: f64) -> u32 {
        let u = self.unit();
        if lambda <= 0.0 || u < 1.0 - lambda {
            return 0;
        }
        let (mut k, mut p) = (0u32, exp(-lambda));
        let mut cdf = p;
        while u >= cdf && k < 64 {
            k += 1;
            p *= lambda / f64::from(k);
            cdf += p;
        }
        k
    }

    /// Roughly normal (Irwin–Hall sum of uniforms): only used for personal multipliers, where the
    /// missing far tails are welcome.
    pub(crate) fn normal(&mut self) -> f64 {
        (0..6).map(|_| self.unit()).sum::<f64>() - 3.0
    }

    /// Log-normal multiplier with median 1.
    pub(crate) fn log_normal(&mut self, sigma: f64) -> f64 {
        exp(self.normal() * sigma * std::f64::consts::SQRT_2)
    }
}

const LN2: f64 = std::f64::consts::LN_2;

/// Natural logarithm of a positive, normal `x`, accurate to about 1e-12.
pub(crate) fn ln(x: f64) -> f64 {
    debug_assert!(x > 0.0 && x.is_normal());
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln(m) = 2 atanh(s) with |s| <= 0.172, so the series converges fast.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 30.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    e as f64 * LN2 + 2.0 * sum
}

/// `e^x`, accurate to about 1e-12 relative; underflows to 0 below -700.
pub(crate) fn exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    let x = x.min(700.0);
    let k = (x / LN2).round();
    let r = x - k * LN2;
    // Taylor series of e^r for |r| <= 0.35.
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..18 {
        term *= r / f64::from(n);
        sum += term;
    }
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_matches_libm_closely() {
        for &x in &[1e-9, 0.001, 0.3, 0.5, 1.0, 1.5, 2.0, 10.0, 1234.5] {
            assert!((ln(x) - x.ln()).abs() < 1e-10, "ln({x})");
        }
        for &x in &[-50.0, -3.2, -1.0, 0.0, 0.7, 1.0, 5.5, 40.0] {
            let rel = (exp(x) - f64::exp(x)).abs() / f64::exp(x);
            assert!(rel < 1e-10, "exp({x})");
        }
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, 1, 2).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::stream(7, 1, 2).next_u64(),
            Rng::stream(7, 1, 3).next_u64()
        );
        let mut r = Rng::stream(1, 2, 3);
        let mean = (0..20_000).map(|_| r.exponential(2.0)).sum::<f64>() / 20_000.0;
        assert!((mean - 2.0).abs() < 0.1, "{mean}");
        let mean = (0..20_000).map(|_| r.poisson(0.7)).sum::<u32>() as f64 / 20_000.0;
        assert!((mean - 0.7).abs() < 0.05, "{mean}");
    }
}
