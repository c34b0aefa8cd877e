//! What one person's message (or API answer) gets from the shop: recommendations described by
//! the catalog, their coupon codes, and their cart as it stands now.
//!
//! Recommendations come from the live model as product ids; they are described by the catalog,
//! else by what the events said about them (a product nobody described has nothing to show and
//! is left out). Cart items keep what the person saw and gain the current price and stock, so a
//! reminder can say "now $39.99" or "only 3 left".

use crate::Recommender;
use crate::offers::{self, OfferCache};
use async_trait::async_trait;
use herald_catalog::Item;
use herald_core::{ProfileId, Timestamp};
use herald_messages::MessagesError;
use herald_messages::merchandise::{Mentions, Merchandise};
use herald_recommend::Scored;
use herald_store::{Profile, Store, StoreError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Recommendations a template list holds (templates show fewer with `limit:`).
pub const LIST: usize = 8;
/// Stock at or below which an item is `low_stock` ("only 3 left").
pub const LOW_STOCK: i64 = 5;

/// The shop's side of composing messages.
pub struct Merchandiser {
    store: Arc<dyn Store>,
    recommender: Recommender,
    offers: OfferCache,
}

impl Merchandiser {
    pub fn new(store: Arc<dyn Store>, recommender: Recommender) -> Merchandiser {
        Merchandiser {
            store,
            recommender,
            offers: OfferCache::default(),
        }
    }
}

/// A product id as events give it: a string, or a number.
pub fn product_id(item: &Value) -> Option<String> {
    match item.get("product_id").or_else(|| item.get("sku"))? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Catalog items (else learnt ones) for these ids, by id: from the recommender's memory once it
/// is built, from the store before.
pub async fn lookup(
    store: &dyn Store,
    recommender: &Recommender,
    ids: Vec<String>,
) -> Result<HashMap<String, Item>, StoreError> {
    if let Some(found) = recommender.described(&ids) {
        return Ok(found);
    }
    let mut found: HashMap<String, Item> = store
        .catalog_items(ids.clone())
        .await?
        .into_iter()
        .map(|i| (i.product_id.clone(), i))
        .collect();
    let missing: Vec<String> = ids
        .into_iter()
        .filter(|id| !found.contains_key(id))
        .collect();
    for item in recommender.learnt(&missing) {
        found.insert(item.product_id.clone(), item);
    }
    Ok(found)
}

/// The first `n` scored products as templates and the API show them: the item's fields,
/// `in_stock`, `low_stock` and `score`; products nothing describes are left out.
pub fn describe(scored: &[Scored], items: &HashMap<String, Item>, n: usize) -> Vec<Value> {
    scored
        .iter()
        .filter_map(|s| {
            let item = items.get(&s.product_id)?;
            item.name.as_ref()?;
            let mut v = item_json(item);
            v.insert("score".into(), json!(s.score));
            Some(Value::Object(v))
        })
        .take(n)
        .collect()
}

fn item_json(item: &Item) -> Map<String, Value> {
    let mut v = match item.to_json() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    v.insert(
        "low_stock".into(),
        json!(item.stock.is_some_and(|s| s > 0 && s <= LOW_STOCK)),
    );
    v
}

/// "Recommended for you" as the API and `herald recommend` print it.
pub async fn for_you(
    store: &dyn Store,
    recommender: &Recommender,
    profile: ProfileId,
    n: usize,
    now: Timestamp,
) -> Result<Value, StoreError> {
    // Asks for a few more than `n`, as products nothing describes are left out.
    let recs = recommender.read(|m| m.for_you(profile, now, n + n / 2 + 2));
    let items = lookup(
        store,
        recommender,
        recs.items.iter().map(|s| s.product_id.clone()).collect(),
    )
    .await?;
    let described = describe(&recs.items, &items, n);
    Ok(json!({
        "strategy": recs.strategy,
        "ready": recommender.ready(),
        "items": described,
    }))
}

#[async_trait]
impl Merchandise for Merchandiser {
    async fn current(&self, items: &mut [Value]) -> Result<(), MessagesError> {
        let ids: Vec<String> = items.iter().filter_map(product_id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let known = lookup(self.store.as_ref(), &self.recommender, ids).await?;
        for value in items.iter_mut() {
            let (Some(id), Value::Object(fields)) = (product_id(value), &mut *value) else {
                continue;
            };
            let Some(item) = known.get(&id) else { continue };
            let seen = fields.get("price").and_then(Value::as_f64);
            if let (Some(seen), Some(now)) = (seen, item.price)
                && (seen - now).abs() >= 0.005
            {
                fields.insert("previous_price".into(), json!(seen));
            }
            for (k, v) in item_json(item) {
                // The catalog's price and stock are the current ones; the rest of what the
                // person saw (quantity, variant) stays.
                if matches!(k.as_str(), "price" | "stock" | "in_stock" | "low_stock")
                    || !fields.contains_key(&k)
                {
                    fields.insert(k, v);
                }
            }
        }
        Ok(())
    }

    async fn objects(
        &self,
        profile: &Profile,
        about: &[Value],
        mentions: Mentions<'_>,
        assign: bool,
        now: Timestamp,
    ) -> Result<Map<String, Value>, MessagesError> {
        let mut out = Map::new();
        if mentions("recommendations") {
            let seeds: Vec<String> = about.iter().filter_map(product_id).collect();
            let lists: Vec<(&str, Vec<Scored>)> = self.recommender.read(|m| {
                let mut lists = Vec::new();
                let mut want = |name: &'static str, make: &dyn Fn() -> Vec<Scored>| {
                    if mentions(&format!("recommendations.{name}")) {
                        lists.push((name, make()));
                    }
                };
                want("for_you", &|| m.for_you(profile.id, now, LIST + 4).items);
                want("similar", &|| {
                    let seeds: Vec<String> = if seeds.is_empty() {
                        m.recently_viewed(profile.id, 3)
                    } else {
                        seeds.clone()
                    };
                    let refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
                    m.similar_to_all(&refs, LIST + 4)
                });
                want("recently_viewed", &|| {
                    m.recently_viewed(profile.id, LIST + 4)
                        .into_iter()
                        .map(|product_id| Scored {
                            product_id,
                            score: 1.0,
                        })
                        .collect()
                });
                want("popular", &|| m.popular(None, now, LIST + 4));
                lists
            });
            let ids: Vec<String> = lists
                .iter()
                .flat_map(|(_, l)| l.iter().map(|s| s.product_id.clone()))
                .collect();
            let items = lookup(self.store.as_ref(), &self.recommender, ids).await?;
            let mut recommendations = Map::new();
            for (name, list) in lists {
                let described = describe(&list, &items, LIST);
                recommendations.insert(name.to_owned(), Value::Array(described));
            }
            out.insert("recommendations".into(), Value::Object(recommendations));
        }
        if mentions("offers") {
            let mut coupons = Map::new();
            for (offer, _) in self.offers.get(self.store.as_ref()).await?.iter() {
                if !mentions(&format!("offers.{}", offer.name)) {
                    continue;
                }
                let value = if assign {
                    match offers::coupon(self.store.as_ref(), offer, profile.id, now).await? {
                        Some(c) => c.to_json(offer),
                        // An empty pool: the template's `if offers.x.code` shows no code.
                        None => Value::Object(offer.attributes.clone()),
                    }
                } else {
                    let mut preview = offer.attributes.clone();
                    preview.insert("code".into(), json!("PREVIEW"));
                    preview.insert("expires_at".into(), json!(offer.expiry(now)));
                    Value::Object(preview)
                };
                coupons.insert(offer.name.clone(), value);
            }
            out.insert("offers".into(), Value::Object(coupons));
        }
        Ok(out)
    }
}
