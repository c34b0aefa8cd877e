//! Coupon codes: handing them out from imported and pattern pools (also under concurrency),
//! expiry, redemption at checkout, and what merges and erasure do to them.

use super::*;
use crate::tests::{msgs, new_store, source};
use crate::tests_catalog::{assign, codes, counts, offer};
use crate::tests_journeys::{at, people};
use serde_json::json;
use std::collections::{HashMap, HashSet};

#[tokio::test]
async fn imported_pools_give_each_person_one_code_oldest_first() {
    let (_dir, store) = new_store();
    store
        .put_offer(offer("welcome", json!({"valid_days": 7})))
        .await
        .unwrap();
    store
        .add_coupon_codes("welcome", codes(&["W1", "W2"]))
        .await
        .unwrap();
    store
        .add_coupon_codes("welcome", codes(&["W0"]))
        .await
        .unwrap();
    let p = people(&store, &["ann", "bob", "cy", "dee"]).await;
    let when = "2026-03-01T10:00:00Z";
    let first = store
        .assign_coupon("welcome", p[0], at(when), vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.code, "W1", "the oldest code goes first");
    assert_eq!(first.profile, p[0]);
    assert_eq!(first.assigned_at, at(when));
    assert_eq!(first.expires_at, Some(at("2026-03-08T10:00:00Z")));
    assert_eq!(first.redeemed_at, None);
    let later = store
        .assign_coupon("welcome", p[0], at("2026-03-05T00:00:00Z"), vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later, first, "the same person keeps the same code");
    assert_eq!(
        assign(&store, "welcome", p[1], when).await.as_deref(),
        Some("W2")
    );
    assert_eq!(
        assign(&store, "welcome", p[2], when).await.as_deref(),
        Some("W0")
    );
    assert_eq!(
        assign(&store, "welcome", p[3], when).await,
        None,
        "the pool is empty"
    );
    assert_eq!(
        counts(&store, "welcome").await,
        OfferCounts {
            codes: 3,
            assigned: 3,
            redeemed: 0,
            available: Some(0)
        }
    );
    store
        .add_coupon_codes("welcome", codes(&["W9"]))
        .await
        .unwrap();
    assert_eq!(
        assign(&store, "welcome", p[3], when).await.as_deref(),
        Some("W9")
    );
    assert_eq!(store.coupons(p[0]).await.unwrap(), vec![first]);

    // A person who no longer exists gets nothing.
    assert_eq!(assign(&store, "welcome", ProfileId(999), when).await, None);
    store.close().await.unwrap();
}

#[tokio::test]
async fn pattern_pools_take_the_first_candidate_not_taken() {
    let (_dir, store) = new_store();
    store
        .put_offer(offer("cart", json!({"pattern": "CART-{XXXXXX}"})))
        .await
        .unwrap();
    let p = people(&store, &["ann", "bob", "cy"]).await;
    let now = at("2026-03-01T00:00:00Z");
    let ann = store
        .assign_coupon("cart", p[0], now, codes(&["CART-AAAAAA", "CART-BBBBBB"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.code, "CART-AAAAAA");
    assert_eq!(ann.expires_at, None);
    // Bob's first candidate collides with Ann's code (also in another case).
    let bob = store
        .assign_coupon(
            "cart",
            p[1],
            now,
            codes(&["cart-aaaaaa", "not valid!", "CART-BBBBBB"]),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.code, "CART-BBBBBB");
    assert_eq!(
        store
            .assign_coupon("cart", p[2], now, codes(&["CART-AAAAAA", "CART-BBBBBB"]))
            .await
            .unwrap(),
        None,
        "all candidates taken: the caller generates more"
    );
    let again = store
        .assign_coupon("cart", p[0], now, codes(&["CART-ZZZZZZ"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again, ann,
        "a person keeps their code whatever the candidates"
    );
    assert_eq!(
        counts(&store, "cart").await,
        OfferCounts {
            codes: 0,
            assigned: 2,
            redeemed: 0,
            available: None
        }
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn codes_expire_with_the_offer_and_ended_offers_assign_nothing_new() {
    let (_dir, store) = new_store();
    store
        .put_offer(offer(
            "xmas",
            json!({"valid_days": 7, "ends_at": "2026-12-25T00:00:00Z"}),
        ))
        .await
        .unwrap();
    store
        .add_coupon_codes("xmas", codes(&["X1", "X2", "X3"]))
        .await
        .unwrap();
    let p = people(&store, &["ann", "bob", "cy"]).await;
    let early = store
        .assign_coupon("xmas", p[0], at("2026-12-01T08:00:00Z"), vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(early.expires_at, Some(at("2026-12-08T08:00:00Z")));
    let late = store
        .assign_coupon("xmas", p[1], at("2026-12-22T08:00:00Z"), vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(late.expires_at, Some(at("2026-12-25T00:00:00Z")));
    let after = at("2026-12-26T00:00:00Z");
    assert_eq!(
        store
            .assign_coupon("xmas", p[2], after, vec![])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .assign_coupon("xmas", p[0], after, vec![])
            .await
            .unwrap(),
        Some(early),
        "who had a code still has it"
    );
    assert_eq!(counts(&store, "xmas").await.available, Some(1));
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_assignment_gives_each_person_one_code_and_no_code_twice() {
    let (_dir, store) = new_store();
    let store = Arc::new(store);
    store.put_offer(offer("welcome", json!({}))).await.unwrap();
    store
        .put_offer(offer("cart", json!({"pattern": "C{999999}"})))
        .await
        .unwrap();
    let pool: Vec<String> = (0..40).map(|i| format!("W{i:03}")).collect();
    store.add_coupon_codes("welcome", pool).await.unwrap();
    let names: Vec<String> = (0..30).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = people(&store, &refs).await;
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (i, person) in p.iter().copied().enumerate() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let now = at("2026-03-01T00:00:00Z");
                let imported = store
                    .assign_coupon("welcome", person, now, vec![])
                    .await
                    .unwrap()
                    .unwrap();
                // Candidates overlap between people, so collisions are certain.
                let candidates = (0..3)
                    .map(|k| format!("C{:06}", (i + k + round) % 40))
                    .collect();
                let generated = store
                    .assign_coupon("cart", person, now, candidates)
                    .await
                    .unwrap();
                (person, imported.code, generated.map(|c| c.code))
            }));
        }
    }
    let mut imported: HashMap<ProfileId, HashSet<String>> = HashMap::new();
    let mut generated: HashMap<ProfileId, HashSet<String>> = HashMap::new();
    for t in tasks {
        let (person, code, gen_code) = t.await.unwrap();
        imported.entry(person).or_default().insert(code);
        if let Some(c) = gen_code {
            generated.entry(person).or_default().insert(c);
        }
    }
    for held in [&imported, &generated] {
        assert!(held.values().all(|codes| codes.len() == 1), "{held:?}");
        let distinct: HashSet<&String> = held.values().flatten().collect();
        assert_eq!(distinct.len(), held.len(), "no code went to two people");
    }
    assert_eq!(imported.len(), 30);
    let c = counts(&store, "welcome").await;
    assert_eq!((c.assigned, c.available), (30, Some(10)));
    assert_eq!(
        counts(&store, "cart").await.assigned,
        generated.len() as u64
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn checkout_events_redeem_codes_whatever_their_case() {
    let (_dir, store) = new_store();
    store.put_offer(offer("welcome", json!({}))).await.unwrap();
    store
        .add_coupon_codes("welcome", codes(&["W1", "W2", "W3", "W4"]))
        .await
        .unwrap();
    let p = people(&store, &["ann", "bob"]).await;
    let now = "2026-03-01T00:00:00Z";
    assert_eq!(
        assign(&store, "welcome", p[0], now).await.as_deref(),
        Some("W1")
    );
    assert_eq!(
        assign(&store, "welcome", p[1], now).await.as_deref(),
        Some("W2")
    );
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"track","userId":"ann","event":"Coupon Applied","timestamp":"2026-03-02T00:00:00Z",
                    "properties":{"coupon_id":"internal-7","coupon_name":"w1"}}"#,
                r#"{"type":"track","userId":"bob","event":"Order Completed","timestamp":"2026-03-03T00:00:00Z",
                    "properties":{"order_id":"o1","coupon":"W2, W4"}}"#,
                r#"{"type":"track","userId":"bob","event":"Coupon Entered","timestamp":"2026-03-03T00:00:00Z",
                    "properties":{"coupon":"W3"}}"#,
                r#"{"type":"track","userId":"ann","event":"Coupon Applied","timestamp":"2026-03-09T00:00:00Z",
                    "properties":{"coupon":"W1"}}"#,
            ]),
        )
        .await
        .unwrap();
    let ann = store.coupons(p[0]).await.unwrap();
    assert_eq!(
        ann[0].redeemed_at,
        Some(at("2026-03-02T00:00:00Z")),
        "first use counts"
    );
    let bob = store.coupons(p[1]).await.unwrap();
    assert_eq!(bob[0].redeemed_at, Some(at("2026-03-03T00:00:00Z")));
    assert_eq!(
        bob[0].to_json(&offer("welcome", json!({})))["redeemed"],
        true
    );
    // W4 was free but used at checkout: it went out some other way and is not handed out.
    assert_eq!(
        counts(&store, "welcome").await,
        OfferCounts {
            codes: 4,
            assigned: 2,
            redeemed: 3,
            available: Some(1)
        }
    );
    let cy = people(&store, &["cy"]).await[0];
    assert_eq!(
        assign(&store, "welcome", cy, now).await.as_deref(),
        Some("W3")
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn merges_move_codes_unless_the_survivor_has_one() {
    let (_dir, store) = new_store();
    for name in ["welcome", "cart"] {
        store.put_offer(offer(name, json!({}))).await.unwrap();
    }
    store
        .add_coupon_codes("welcome", codes(&["W1", "W2", "W3"]))
        .await
        .unwrap();
    store
        .add_coupon_codes("cart", codes(&["C1"]))
        .await
        .unwrap();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[r#"{"type":"track","anonymousId":"a1","event":"e"}"#]),
        )
        .await
        .unwrap();
    let anon = store.resolve("a1").await.unwrap().unwrap();
    let ann = people(&store, &["ann"]).await[0];
    let now = "2026-03-01T00:00:00Z";
    assert_eq!(
        assign(&store, "welcome", anon, now).await.as_deref(),
        Some("W1")
    );
    assert_eq!(
        assign(&store, "cart", anon, now).await.as_deref(),
        Some("C1")
    );
    assert_eq!(
        assign(&store, "welcome", ann, now).await.as_deref(),
        Some("W2")
    );
    store
        .append(
            src,
            msgs(&[r#"{"type":"alias","userId":"ann","previousId":"a1"}"#]),
        )
        .await
        .unwrap();
    let into = store.resolve("ann").await.unwrap().unwrap();
    let held: Vec<(String, String)> = store
        .coupons(into)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.offer, c.code))
        .collect();
    assert_eq!(
        held,
        vec![
            ("cart".into(), "C1".into()),
            ("welcome".into(), "W2".into())
        ]
    );
    let absorbed = if into == anon { ann } else { anon };
    // The absorbed person's second welcome code stays taken, and asking for the absorbed id
    // answers with the survivor's code.
    assert_eq!(
        assign(&store, "welcome", absorbed, now).await.as_deref(),
        Some("W2")
    );
    let c = counts(&store, "welcome").await;
    assert_eq!((c.assigned, c.available), (2, Some(1)));
    let cy = people(&store, &["cy"]).await[0];
    assert_eq!(
        assign(&store, "welcome", cy, now).await.as_deref(),
        Some("W3")
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn erasure_takes_the_person_off_their_codes_but_keeps_them_taken() {
    let (_dir, store) = new_store();
    store.put_offer(offer("welcome", json!({}))).await.unwrap();
    store
        .add_coupon_codes("welcome", codes(&["W1", "W2", "W3"]))
        .await
        .unwrap();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[r#"{"type":"track","anonymousId":"a1","event":"e"}"#]),
        )
        .await
        .unwrap();
    let anon = store.resolve("a1").await.unwrap().unwrap();
    let ann = people(&store, &["ann"]).await[0];
    let now = "2026-03-01T00:00:00Z";
    assert_eq!(
        assign(&store, "welcome", anon, now).await.as_deref(),
        Some("W1")
    );
    assert_eq!(
        assign(&store, "welcome", ann, now).await.as_deref(),
        Some("W2")
    );
    store
        .append(
            src,
            msgs(&[r#"{"type":"alias","userId":"ann","previousId":"a1"}"#]),
        )
        .await
        .unwrap();
    store.erase("ann").await.unwrap().unwrap();
    for p in [ann, anon] {
        assert!(store.coupons(p).await.unwrap().is_empty());
        assert_eq!(assign(&store, "welcome", p, now).await, None);
    }
    let holders: i64 = store
        .read(|c| {
            c.query_row(
                "SELECT count(*) FROM coupon_codes WHERE profile_id IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .map_err(sql)
        })
        .await
        .unwrap();
    assert_eq!(holders, 0, "no code points at the erased person");
    assert_eq!(counts(&store, "welcome").await.available, Some(1));
    let bob = people(&store, &["bob"]).await[0];
    assert_eq!(
        assign(&store, "welcome", bob, now).await.as_deref(),
        Some("W3")
    );
    let cy = people(&store, &["cy"]).await[0];
    assert_eq!(
        assign(&store, "welcome", cy, now).await,
        None,
        "W1 and W2 stay taken"
    );
    store.close().await.unwrap();
}
