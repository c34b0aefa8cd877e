//! One coupon code per person per offer, and pools running low.
//!
//! The store assigns codes atomically and idempotently; what is left here is making codes for
//! pattern pools (a few random candidates per try, since another sender may have taken one a
//! moment ago) and keeping an eye on imported pools, which run out.

use herald_catalog::{Coupon, Offer, OfferCounts};
use herald_core::{ProfileId, Timestamp};
use herald_store::{Store, StoreError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Candidates generated per assignment try for a pattern pool.
const CANDIDATES: usize = 4;
/// Tries before a pattern pool is taken as exhausted.
const TRIES: usize = 5;
/// How long a read of the offers (and their counts) is reused.
const FRESH: Duration = Duration::from_secs(10);

/// The person's code for `offer`, assigned now when they have none; `None` when the pool is
/// empty or the offer has ended.
pub async fn coupon(
    store: &dyn Store,
    offer: &Offer,
    profile: ProfileId,
    now: Timestamp,
) -> Result<Option<Coupon>, StoreError> {
    for _ in 0..TRIES {
        let candidates: Vec<String> = match &offer.pattern {
            Some(p) => {
                let mut rng = rand::rng();
                (0..CANDIDATES).map(|_| p.generate(&mut rng)).collect()
            }
            None => Vec::new(),
        };
        let assigned = store
            .assign_coupon(&offer.name, profile, now, candidates)
            .await?;
        if assigned.is_some() || offer.pattern.is_none() || !offer.is_open(now) {
            return Ok(assigned);
        }
    }
    tracing::warn!(offer = %offer.name, "no unused code after {TRIES} tries: the pattern has too few combinations left");
    Ok(None)
}

/// Every offer with its counts.
pub type Offers = std::sync::Arc<Vec<(Offer, OfferCounts)>>;

/// The offers with their counts, read at most every few seconds; pools running low are
/// logged and exported as the `herald_offer_codes_available` gauge when read.
#[derive(Default)]
pub struct OfferCache {
    read: Mutex<Option<(Instant, Offers)>>,
}

impl OfferCache {
    pub async fn get(&self, store: &dyn Store) -> Result<Offers, StoreError> {
        if let Some((at, offers)) = self.read.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < FRESH
        {
            return Ok(offers.clone());
        }
        let offers = std::sync::Arc::new(store.offers().await?);
        report(&offers);
        *self.read.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), offers.clone()));
        Ok(offers)
    }
}

/// Logs and exports the pools that are running low.
pub fn report(offers: &[(Offer, OfferCounts)]) {
    for (offer, counts) in offers {
        if let Some(available) = counts.available {
            metrics::gauge!("herald_offer_codes_available", "offer" => offer.name.clone())
                .set(available as f64);
        }
        if counts.running_low(offer) {
            tracing::warn!(
                offer = %offer.name,
                available = ?counts.available,
                low_water = offer.low_water,
                "coupon pool running low: import more codes with `herald offers codes`"
            );
        }
    }
}
