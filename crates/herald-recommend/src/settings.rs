//! The knobs of the model, with defaults chosen by `evaluate` on generated shop data.
//!
//! Tuned over twelve `herald-generate` shops (3,000 profiles, 120 days, 14-day holdout), the
//! defaults reach a hit rate@10 of about 0.53 where the popularity baseline reaches 0.35 to 0.39.
//! Two choices go against intuition. A purchase adds little weight (2) because it always follows
//! a cart add of the same item, whose weight (3) it stacks on, and because bought items are not
//! recommended again: a heavy purchase weight lets their neighbours crowd the picks out (5 costs
//! about two points of hit rate). The shrink is large (300) because pairs seen together by few
//! people are mostly noise; values from 300 to 1,000 score alike, 10 cost about five points.

/// How the model weighs, forgets and prunes.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Half-life of an interaction's weight, in days (default 60); zero or less: no decay.
    pub half_life_days: f64,
    /// Neighbours kept per item (default 40).
    pub neighbours: usize,
    /// Distinct items remembered per profile, most recent kept (default 100).
    pub profile_items: usize,
    /// Weight of a product view or click (default 1).
    pub view_weight: f32,
    /// Weight of a cart add (default 3).
    pub cart_weight: f32,
    /// Weight of a purchase (default 2; it adds to the cart add that came before it).
    pub purchase_weight: f32,
    /// Added to the cosine denominator, so pairs seen together by one or two people rank below
    /// well-supported ones. In units of a fresh weight-1 interaction squared: with the default,
    /// two items viewed together once by the same person score 1 / (1 + shrink).
    pub shrink: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            half_life_days: 60.0,
            neighbours: 40,
            profile_items: 100,
            view_weight: 1.0,
            cart_weight: 3.0,
            purchase_weight: 2.0,
            shrink: 300.0,
        }
    }
}

impl Settings {
    pub(crate) fn weight(&self, signal: crate::Signal) -> f32 {
        match signal {
            crate::Signal::View => self.view_weight,
            crate::Signal::Cart => self.cart_weight,
            crate::Signal::Purchase => self.purchase_weight,
        }
    }
}
