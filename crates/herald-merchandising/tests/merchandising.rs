//! The shop layer over a real SQLite store: the live recommender following the log (new events,
//! merges), catalog updates raising events for recent viewers only and only once, cart items
//! brought up to date, and coupons assigned once per person and never for a preview.

use herald_catalog::{Item, Offer};
use herald_core::credentials::Secret;
use herald_core::parse::parse_line;
use herald_core::{ProfileId, SourceId, Timestamp};
use herald_merchandising::{Merchandiser, Recommender, catalog};
use herald_messages::merchandise::Merchandise;
use herald_store::{NewStore, Store};
use herald_store_sqlite::{Access, SqliteStore};
use jiff::SignedDuration;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

fn new_store() -> (TempDir, Arc<SqliteStore>) {
    let dir = TempDir::new().unwrap();
    SqliteStore::create(
        dir.path(),
        &NewStore {
            write_key: Secret::new("wk"),
            admin_token: Secret::new("admin"),
        },
    )
    .unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), Access::ReadWrite).unwrap());
    (dir, store)
}

async fn append(store: &SqliteStore, lines: Vec<Value>) {
    let source: SourceId = store.source_for_write_key("wk").await.unwrap().unwrap();
    let messages = lines
        .iter()
        .map(|l| parse_line(&l.to_string(), Timestamp::now(), &mut || unreachable!()).unwrap())
        .collect();
    store.append(source, messages).await.unwrap();
}

fn ago(days: i64) -> Timestamp {
    Timestamp::now() - SignedDuration::from_hours(24 * days)
}

/// `who` (a userId, or `anon:ID`) viewed `product` `days` ago.
fn view(who: &str, product: &str, days: i64, n: u32) -> Value {
    let mut v = json!({"type": "track", "event": "Product Viewed",
        "messageId": format!("view-{who}-{product}-{days}-{n}"), "timestamp": ago(days).to_string(),
        "properties": {"product_id": product, "name": format!("Product {product}"), "price": 10.0,
                       "category": "shoes"}});
    match who.strip_prefix("anon:") {
        Some(a) => v["anonymousId"] = json!(a),
        None => v["userId"] = json!(who),
    }
    v
}

fn item(id: &str, price: f64, stock: i64) -> Item {
    Item::parse(
        &json!({"product_id": id, "name": format!("Product {id}"), "price": price, "stock": stock,
                "category": "shoes", "url": format!("https://shop.example/{id}")}),
        Timestamp::now(),
    )
    .unwrap()
}

async fn profile(store: &SqliteStore, id: &str) -> ProfileId {
    store.resolve(id).await.unwrap().unwrap()
}

/// Polls `check` (every 20 ms, for at most 10 s).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_recommender_follows_new_events_and_merges() {
    let (_dir, store) = new_store();
    // p1 and p2 are viewed together by many; p9 by others.
    let mut history = Vec::new();
    for i in 0..20 {
        history.push(view(&format!("u{i}"), "p1", 3, 0));
        history.push(view(&format!("u{i}"), "p2", 3, 0));
        history.push(view(&format!("w{i}"), "p9", 3, 0));
    }
    append(&store, history).await;
    let recommender = Recommender::new(Default::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(recommender.clone().run(store.clone(), async {
        let _ = stopped.await;
    }));
    eventually("the first build", || recommender.ready()).await;
    let similar = recommender.read(|m| m.similar("p1", 3));
    assert_eq!(similar.first().map(|s| s.product_id.as_str()), Some("p2"));

    // A new person's view counts as soon as it is stored and the recommender is woken.
    append(&store, vec![view("carol", "p1", 0, 1)]).await;
    recommender.wake();
    let carol = profile(&store, "carol").await;
    eventually("carol's view", || {
        recommender.read(|m| m.recently_viewed(carol, 5)) == vec!["p1".to_owned()]
    })
    .await;
    // What she looked at can come back, then what is viewed with it, before the unrelated.
    let picks = recommender.read(|m| m.for_you(carol, Timestamp::now(), 3));
    let ids: Vec<&str> = picks.items.iter().map(|s| s.product_id.as_str()).collect();
    assert_eq!(ids, ["p1", "p2", "p9"], "{picks:?}");

    // What she did anonymously joins her history when the two are linked.
    append(&store, vec![view("anon:a-1", "p9", 0, 2)]).await;
    append(
        &store,
        vec![
            json!({"type": "identify", "userId": "carol", "anonymousId": "a-1",
                    "messageId": "link-1", "traits": {}}),
        ],
    )
    .await;
    recommender.wake();
    let carol = profile(&store, "carol").await;
    eventually("the merge", || {
        let mut viewed = recommender.read(|m| m.recently_viewed(carol, 5));
        viewed.sort();
        viewed == vec!["p1".to_owned(), "p9".to_owned()]
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_updates_reach_recent_viewers_once() {
    let (_dir, store) = new_store();
    append(
        &store,
        vec![
            view("ann", "p1", 5, 0),
            view("bob", "p1", 60, 0),
            view("cat", "p2", 1, 0),
            view("dan", "p3", 1, 0),
        ],
    )
    .await;
    let recommender = Recommender::load(store.as_ref(), Default::default(), &|_, _| {})
        .await
        .unwrap();
    let now = Timestamp::now();
    let first = catalog::update(
        store.as_ref(),
        &recommender,
        vec![item("p1", 10.0, 5), item("p2", 20.0, 0), item("p3", 5.0, 9)],
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        (first.stored, first.events),
        (3, 0),
        "new items raise nothing"
    );
    let changes = vec![item("p1", 8.0, 5), item("p2", 20.0, 4), item("p3", 6.0, 9)];
    let report = catalog::update(store.as_ref(), &recommender, changes.clone(), now)
        .await
        .unwrap();
    assert_eq!(
        (
            report.stored,
            report.price_dropped,
            report.back_in_stock,
            report.events
        ),
        (3, 1, 1, 2)
    );
    let events = store.scan_events(0, 1_000).await.unwrap();
    let raised: Vec<(String, Value)> = events
        .iter()
        .filter(|e| matches!(e.name.as_deref(), Some("Price Dropped" | "Back In Stock")))
        .map(|e| (e.name.clone().unwrap(), Value::Object(e.properties())))
        .collect();
    assert_eq!(raised.len(), 2, "{raised:?}");
    let ann = profile(&store, "ann").await;
    let cat = profile(&store, "cat").await;
    let by = |name: &str| {
        events
            .iter()
            .find(|e| e.name.as_deref() == Some(name))
            .unwrap()
    };
    assert_eq!(
        by("Price Dropped").profile_id,
        ann,
        "bob viewed too long ago"
    );
    assert_eq!(by("Back In Stock").profile_id, cat);
    let dropped = Value::Object(by("Price Dropped").properties());
    assert_eq!(
        (
            dropped["price"].as_f64(),
            dropped["previous_price"].as_f64()
        ),
        (Some(8.0), Some(10.0))
    );
    assert_eq!(dropped["name"], "Product p1");
    // The same update again: nothing is stored or raised.
    let before = store.stats().await.unwrap().events;
    let again = catalog::update(store.as_ref(), &recommender, changes, now)
        .await
        .unwrap();
    assert_eq!((again.stored, again.events), (0, 0));
    assert_eq!(store.stats().await.unwrap().events, before);
    // Sold out: left out of recommendations from now on.
    catalog::update(store.as_ref(), &recommender, vec![item("p1", 8.0, 0)], now)
        .await
        .unwrap();
    assert!(
        recommender
            .read(|m| m.popular(None, now, 10))
            .iter()
            .all(|s| s.product_id != "p1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_items_are_current_and_coupons_are_given_once() {
    let (_dir, store) = new_store();
    append(
        &store,
        vec![view("ann", "p1", 1, 0), view("bob", "p1", 1, 0)],
    )
    .await;
    let recommender = Recommender::load(store.as_ref(), Default::default(), &|_, _| {})
        .await
        .unwrap();
    let now = Timestamp::now();
    catalog::update(store.as_ref(), &recommender, vec![item("p1", 9.5, 3)], now)
        .await
        .unwrap();
    let shop = Merchandiser::new(store.clone(), recommender);
    let mut cart = vec![json!({"product_id": "p1", "price": 12.0, "quantity": 2, "variant": "42"})];
    shop.current(&mut cart).await.unwrap();
    assert_eq!(cart[0]["price"], 9.5);
    assert_eq!(cart[0]["previous_price"], 12.0);
    assert_eq!(
        (cart[0]["stock"].as_i64(), cart[0]["low_stock"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(
        (cart[0]["quantity"].as_i64(), cart[0]["variant"].as_str()),
        (Some(2), Some("42"))
    );
    assert_eq!(cart[0]["url"], "https://shop.example/p1");

    let offer = Offer::parse(
        "cart",
        &json!({"pattern": "CART-{XXXXXX}", "valid_days": 7, "attributes": {"percent_off": 10}}),
    )
    .unwrap();
    store.put_offer(offer).await.unwrap();
    let ann = store.profile("ann").await.unwrap().unwrap();
    let bob = store.profile("bob").await.unwrap().unwrap();
    let mentions = |name: &str| "offers.cart.code recommendations.similar".contains(name);
    let preview = shop
        .objects(&ann, &cart, &mentions, false, now)
        .await
        .unwrap();
    assert_eq!(preview["offers"]["cart"]["code"], "PREVIEW");
    assert!(
        store.coupons(ann.id).await.unwrap().is_empty(),
        "a preview assigns nothing"
    );
    let first = shop
        .objects(&ann, &cart, &mentions, true, now)
        .await
        .unwrap();
    let code = first["offers"]["cart"]["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("CART-") && code.len() == 11, "{code}");
    assert_eq!(first["offers"]["cart"]["percent_off"], 10);
    let again = shop
        .objects(&ann, &cart, &mentions, true, now)
        .await
        .unwrap();
    assert_eq!(again["offers"]["cart"]["code"], code.as_str());
    let other = shop
        .objects(&bob, &cart, &mentions, true, now)
        .await
        .unwrap();
    assert_ne!(other["offers"]["cart"]["code"], code.as_str());
    // Only what the template mentions is computed.
    assert!(first["recommendations"].get("for_you").is_none());
    assert!(first["recommendations"]["similar"].is_array());
}
