//! The catalog and offers side of the store: items, the events a catalog commit raises, offer
//! definitions and their counts, the indexes that find codes, and the upgrade of a version 6
//! store. Handing out and redeeming codes is in `tests_coupons`.

use super::*;
use crate::tests::{msgs, new_store};
use crate::tests_journeys::{at, people};
use herald_catalog::Offer;
use serde_json::json;

/// Takes a database at schema 7 back to schema 6 (without setting the version).
pub(crate) const UNDO_V7: &str =
    "DROP TABLE catalog_items; DROP TABLE offers; DROP TABLE coupon_codes;";

pub(crate) fn item(id: &str, category: Option<&str>, price: f64) -> Item {
    Item::parse(
        &json!({"product_id": id, "category": category, "price": price, "name": format!("Item {id}")}),
        at("2026-03-01T00:00:00Z"),
    )
    .unwrap()
}

pub(crate) fn ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.product_id.as_str()).collect()
}

pub(crate) fn offer(name: &str, definition: Value) -> Offer {
    Offer::parse(name, &definition).unwrap()
}

pub(crate) fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| (*c).to_owned()).collect()
}

pub(crate) async fn counts(store: &SqliteStore, name: &str) -> OfferCounts {
    store.offer(name).await.unwrap().unwrap().1
}

pub(crate) async fn assign(
    store: &SqliteStore,
    name: &str,
    p: ProfileId,
    when: &str,
) -> Option<String> {
    store
        .assign_coupon(name, p, at(when), vec![])
        .await
        .unwrap()
        .map(|c| c.code)
}

#[tokio::test]
async fn items_are_upserted_paged_counted_and_deleted() {
    let (_dir, store) = new_store();
    let report = store
        .commit_catalog(CatalogCommit {
            items: vec![
                item("c", Some("lamps"), 30.0),
                item("a", Some("shoes"), 10.0),
                item("b", None, 20.0),
                item("d", Some("shoes"), 40.0),
            ],
            events: vec![],
        })
        .await
        .unwrap();
    assert_eq!(report, AppendReport::default());
    assert_eq!(store.catalog_count().await.unwrap(), 4);

    let all = store.catalog_page(None, None, 10).await.unwrap();
    assert_eq!(ids(&all), vec!["a", "b", "c", "d"]);
    assert_eq!(all[0], item("a", Some("shoes"), 10.0), "stored as given");
    let next = store.catalog_page(None, Some("b".into()), 1).await.unwrap();
    assert_eq!(ids(&next), vec!["c"]);
    let shoes = store
        .catalog_page(Some("shoes".into()), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&shoes), vec!["a", "d"]);
    let more_shoes = store
        .catalog_page(Some("shoes".into()), Some("a".into()), 10)
        .await
        .unwrap();
    assert_eq!(ids(&more_shoes), vec!["d"]);

    let mut found = store
        .catalog_items(codes(&["d", "zzz", "a", "d"]))
        .await
        .unwrap();
    found.sort_by(|x, y| x.product_id.cmp(&y.product_id));
    assert_eq!(ids(&found), vec!["a", "d"], "missing ones are left out");

    // An update replaces the item, category included.
    store
        .commit_catalog(CatalogCommit {
            items: vec![item("a", Some("sale"), 5.0)],
            events: vec![],
        })
        .await
        .unwrap();
    assert_eq!(store.catalog_count().await.unwrap(), 4);
    let a = store.catalog_items(codes(&["a"])).await.unwrap();
    assert_eq!(a[0].price, Some(5.0));
    let shoes = store
        .catalog_page(Some("shoes".into()), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&shoes), vec!["d"]);

    assert!(store.delete_catalog_item("a".into()).await.unwrap());
    assert!(!store.delete_catalog_item("a".into()).await.unwrap());
    assert_eq!(store.catalog_count().await.unwrap(), 3);
    store.close().await.unwrap();
}

#[tokio::test]
async fn catalog_commits_append_their_events_once_under_the_catalog_source() {
    let (_dir, store) = new_store();
    let events = || {
        msgs(&[
            r#"{"type":"track","userId":"ann","event":"Price Dropped","messageId":"pd-a-1",
                "properties":{"product_id":"a","previous_price":10,"price":5}}"#,
            r#"{"type":"track","userId":"bob","event":"Back In Stock","messageId":"bis-a-1",
                "properties":{"product_id":"a","stock":3}}"#,
        ])
    };
    let report = store
        .commit_catalog(CatalogCommit {
            items: vec![item("a", None, 5.0)],
            events: events(),
        })
        .await
        .unwrap();
    assert_eq!((report.stored, report.duplicates), (2, 0));
    let again = store
        .commit_catalog(CatalogCommit {
            items: vec![item("a", None, 5.0)],
            events: events(),
        })
        .await
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 2));

    let logged = store.scan_events(0, 10).await.unwrap();
    let names: Vec<_> = logged.iter().map(|e| e.name.as_deref()).collect();
    assert_eq!(names, vec![Some("Price Dropped"), Some("Back In Stock")]);
    let sources: Vec<String> = store
        .read(|c| {
            let mut stmt = c
                .prepare("SELECT s.name FROM events e JOIN sources s ON s.id = e.source_id")
                .map_err(sql)?;
            stmt.query_map([], |r| r.get(0))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)
        })
        .await
        .unwrap();
    assert_eq!(sources, vec![herald_store::CATALOG_SOURCE; 2]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn offers_are_created_replaced_and_listed_with_counts() {
    let (_dir, store) = new_store();
    assert!(store.offers().await.unwrap().is_empty());
    assert!(store.offer("welcome").await.unwrap().is_none());
    let welcome = offer("welcome", json!({"low_water": 2}));
    store.put_offer(welcome.clone()).await.unwrap();
    store
        .put_offer(offer("cart", json!({"pattern": "CART-{XXXXXX}"})))
        .await
        .unwrap();
    let added = store
        .add_coupon_codes(
            "welcome",
            codes(&["W1", "W2", "w1", "W2", "bad code", "W3"]),
        )
        .await
        .unwrap();
    assert_eq!(
        added, 3,
        "duplicates (in any case) and invalid codes are skipped"
    );
    assert_eq!(
        store
            .add_coupon_codes("welcome", codes(&["W3", "W4"]))
            .await
            .unwrap(),
        1
    );
    let all = store.offers().await.unwrap();
    assert_eq!(
        all.iter().map(|(o, _)| o.name.as_str()).collect::<Vec<_>>(),
        vec!["cart", "welcome"]
    );
    assert_eq!(all[1].0, welcome);
    let c = all[1].1;
    assert_eq!(
        c,
        OfferCounts {
            codes: 4,
            assigned: 0,
            redeemed: 0,
            available: Some(4)
        }
    );
    assert!(!c.running_low(&welcome));
    assert_eq!(
        all[0].1.available, None,
        "pattern pools have no count of free codes"
    );

    // Replacing the definition keeps the codes.
    let replaced = offer("welcome", json!({"valid_days": 3, "low_water": 10}));
    store.put_offer(replaced.clone()).await.unwrap();
    let (got, c) = store.offer("welcome").await.unwrap().unwrap();
    assert_eq!(got, replaced);
    assert_eq!(c.available, Some(4));
    assert!(c.running_low(&replaced));

    let err = store
        .add_coupon_codes("nope", codes(&["X1"]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownOffer(ref n) if n == "nope"),
        "{err}"
    );
    assert!(err.to_string().contains("define the offer first"));
    let p = people(&store, &["ann"]).await[0];
    assert!(matches!(
        store
            .assign_coupon("nope", p, at("2026-01-01T00:00:00Z"), vec![])
            .await,
        Err(StoreError::UnknownOffer(_))
    ));
    store.close().await.unwrap();
}

#[tokio::test]
async fn finding_codes_is_an_index_seek() {
    let (_dir, store) = new_store();
    let plans: Vec<String> = store
        .read(|c| {
            let plan = |q: &str| -> Result<String, StoreError> {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {q}")).map_err(sql)?;
                let rows: Vec<String> = stmt
                    .query_map([], |r| r.get::<_, String>(3))
                    .map_err(sql)?
                    .collect::<Result<_, _>>()
                    .map_err(sql)?;
                Ok(rows.join("; "))
            };
            Ok(vec![
                plan(
                    "SELECT rowid FROM coupon_codes
                     WHERE offer = 'x' AND assigned_at IS NULL AND redeemed_at IS NULL
                     ORDER BY rowid LIMIT 1",
                )?,
                plan("SELECT offer FROM coupon_codes WHERE code = 'abc'")?,
                plan("SELECT code FROM coupon_codes WHERE profile_id = 1 AND offer = 'x'")?,
            ])
        })
        .await
        .unwrap();
    assert!(plans[0].contains("coupon_codes_free"), "{}", plans[0]);
    assert!(!plans[0].contains("TEMP B-TREE"), "no sort: {}", plans[0]);
    assert!(plans[1].contains("coupon_codes_code"), "{}", plans[1]);
    assert!(plans[2].contains("coupon_codes_holder"), "{}", plans[2]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_version_6_store_gains_the_catalog_and_offers() {
    let (dir, store) = new_store();
    let p = people(&store, &["ann"]).await[0];
    store.close().await.unwrap();
    {
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(UNDO_V7).unwrap();
        c.execute_batch("PRAGMA user_version = 6;").unwrap();
    }
    let err = SqliteStore::open(dir.path(), Access::ReadOnly)
        .err()
        .unwrap();
    assert!(err.to_string().contains("upgrade"), "{err}");
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    assert_eq!(store.catalog_count().await.unwrap(), 0);
    assert!(store.offers().await.unwrap().is_empty());
    store
        .commit_catalog(CatalogCommit {
            items: vec![item("a", None, 1.0)],
            events: vec![],
        })
        .await
        .unwrap();
    store.put_offer(offer("welcome", json!({}))).await.unwrap();
    store
        .add_coupon_codes("welcome", codes(&["W1"]))
        .await
        .unwrap();
    assert_eq!(
        assign(&store, "welcome", p, "2026-03-01T00:00:00Z")
            .await
            .as_deref(),
        Some("W1")
    );
    assert_eq!(store.stats().await.unwrap().profiles, 1);
    store.close().await.unwrap();
}
