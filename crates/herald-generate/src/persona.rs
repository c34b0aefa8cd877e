//! Personas: the behavioural archetypes simulated people are drawn from.
//!
//! Segments and journeys are only worth demonstrating on data where people differ in the ways real
//! customers do: most visitors look and leave, some buy now and then, a few buy constantly or
//! expensively, former customers drift away, trial users live in the product and readers come for
//! the blog. Each persona is a row of numbers; a person also gets a personal activity multiplier,
//! so two people of one persona still differ.

use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Persona {
    WindowShopper,
    OccasionalBuyer,
    LoyalBuyer,
    BigSpender,
    Lapsing,
    TrialUser,
    ContentReader,
}

/// How a person relates to the shop over the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signup {
    /// A customer since before the window starts.
    Existing,
    /// Browses anonymously, then signs up during this (1-based) session, or earlier at checkout.
    During { session: u32 },
    /// Stays anonymous (and checks out as a guest, if ever).
    Never,
}

/// The kinds of visit a person makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Visit {
    Shop,
    Content,
    App,
}

/// How intensely a SaaS user uses the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    Light,
    Mid,
    Heavy,
}

impl Usage {
    pub(crate) fn draw(rng: &mut Rng) -> Self {
        match rng.weighted(&[45, 35, 20]) {
            0 => Usage::Light,
            1 => Usage::Mid,
            _ => Usage::Heavy,
        }
    }

    /// Mean `Feature Used` events in one app visit.
    pub(crate) fn features_per_visit(self) -> f64 {
        match self {
            Usage::Light => 1.5,
            Usage::Mid => 3.5,
            Usage::Heavy => 7.0,
        }
    }

    /// Multiplier on how often app users come back.
    pub(crate) fn visit_factor(self) -> f64 {
        match self {
            Usage::Light => 0.5,
            Usage::Mid => 1.0,
            Usage::Heavy => 2.5,
        }
    }
}

/// A persona's numbers. Rates are visits per day; `*_days` are mean lifetimes of interest.
pub(crate) struct Behaviour {
    /// Share of the population, relative to the other personas.
    share: u32,
    /// Weights of existing customer, signs up during the window, never signs up.
    signup: [u32; 3],
    /// Weights of shopping, reading and app visits.
    visits: [u32; 3],
    /// Extra visit rate right after the first visit (discovery), fading with `burst_days`.
    pub burst: f64,
    pub burst_days: f64,
    /// Long-term visit rate, fading with `baseline_days` (infinite for loyal people).
    pub baseline: f64,
    pub baseline_days: f64,
    /// Mean products viewed in a shopping visit.
    pub views: f64,
    /// Chance that a viewed product goes into the cart.
    pub add_to_cart: f64,
    /// Chance that a visit ending with a full cart checks out.
    pub checkout: f64,
    /// Above 1, dearer products and larger quantities.
    pub spend: f64,
    /// Chance that a known person receives marketing email.
    pub subscribe: f64,
    /// Chance of working at a company that shows up in `group` calls.
    pub b2b: f64,
}

const PERSONAS: [(Persona, Behaviour); 7] = [
    (
        Persona::WindowShopper,
        Behaviour {
            share: 31,
            signup: [4, 16, 80],
            visits: [85, 15, 0],
            burst: 0.25,
            burst_days: 4.0,
            baseline: 0.01,
            baseline_days: 60.0,
            views: 3.0,
            add_to_cart: 0.08,
            checkout: 0.12,
            spend: 0.9,
            subscribe: 0.5,
            b2b: 0.0,
        },
    ),
    (
        Persona::OccasionalBuyer,
        Behaviour {
            share: 20,
            signup: [40, 40, 20],
            visits: [90, 10, 0],
            burst: 0.2,
            burst_days: 6.0,
            baseline: 0.022,
            baseline_days: 100.0,
            views: 3.0,
            add_to_cart: 0.2,
            checkout: 0.45,
            spend: 1.0,
            subscribe: 0.6,
            b2b: 0.05,
        },
    ),
    (
        Persona::LoyalBuyer,
        Behaviour {
            share: 7,
            signup: [80, 20, 0],
            visits: [90, 10, 0],
            burst: 0.2,
            burst_days: 10.0,
            baseline: 0.05,
            baseline_days: f64::INFINITY,
            views: 3.0,
            add_to_cart: 0.3,
            checkout: 0.6,
            spend: 1.1,
            subscribe: 0.8,
            b2b: 0.05,
        },
    ),
    (
        Persona::BigSpender,
        Behaviour {
            share: 3,
            signup: [70, 30, 0],
            visits: [95, 5, 0],
            burst: 0.2,
            burst_days: 10.0,
            baseline: 0.04,
            baseline_days: f64::INFINITY,
            views: 4.0,
            add_to_cart: 0.35,
            checkout: 0.65,
            spend: 2.2,
            subscribe: 0.7,
            b2b: 0.1,
        },
    ),
    (
        Persona::Lapsing,
        Behaviour {
            share: 12,
            signup: [100, 0, 0],
            visits: [90, 10, 0],
            burst: 0.0,
            burst_days: 1.0,
            baseline: 0.06,
            baseline_days: 25.0,
            views: 2.5,
            add_to_cart: 0.2,
            checkout: 0.4,
            spend: 1.0,
            subscribe: 0.7,
            b2b: 0.05,
        },
    ),
    (
        Persona::TrialUser,
        Behaviour {
            share: 10,
            signup: [20, 70, 10],
            visits: [10, 15, 75],
            burst: 0.4,
            burst_days: 10.0,
            baseline: 0.05,
            baseline_days: 60.0,
            views: 2.0,
            add_to_cart: 0.1,
            checkout: 0.4,
            spend: 1.0,
            subscribe: 0.5,
            b2b: 0.7,
        },
    ),
    (
        Persona::ContentReader,
        Behaviour {
            share: 17,
            signup: [10, 25, 65],
            visits: [20, 80, 0],
            burst: 0.2,
            burst_days: 5.0,
            baseline: 0.02,
            baseline_days: 90.0,
            views: 2.0,
            add_to_cart: 0.1,
            checkout: 0.3,
            spend: 0.9,
            subscribe: 0.6,
            b2b: 0.2,
        },
    ),
];

impl Behaviour {
    /// Whether the persona uses the SaaS app at all.
    pub(crate) fn visits_app(&self) -> bool {
        self.visits[2] > 0
    }
}

impl Persona {
    pub(crate) fn draw(rng: &mut Rng) -> Self {
        let shares = PERSONAS.map(|(_, b)| b.share);
        PERSONAS[rng.weighted(&shares)].0
    }

    pub(crate) fn behaviour(self) -> &'static Behaviour {
        &PERSONAS
            .iter()
            .find(|(p, _)| *p == self)
            .expect("every persona has a row")
            .1
    }

    pub(crate) fn draw_signup(self, rng: &mut Rng) -> Signup {
        match rng.weighted(&self.behaviour().signup) {
            0 => Signup::Existing,
            // Trial users sign up almost at once; shoppers after looking around a while.
            1 if self == Persona::TrialUser => Signup::During {
                session: 1 + rng.below(2) as u32,
            },
            1 => Signup::During {
                session: 1 + rng.below(4) as u32,
            },
            _ => Signup::Never,
        }
    }

    pub(crate) fn draw_visit(self, rng: &mut Rng) -> Visit {
        match rng.weighted(&self.behaviour().visits) {
            0 => Visit::Shop,
            1 => Visit::Content,
            _ => Visit::App,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_persona_is_drawn() {
        let mut rng = Rng::stream(1, 2, 3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            seen.insert(format!("{:?}", Persona::draw(&mut rng)));
        }
        assert_eq!(seen.len(), PERSONAS.len());
    }
}
