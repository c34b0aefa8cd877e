//! The delivery side of the store: the send queue's claims and leases, outcomes with their
//! events, consent (recorded, from identify traits, across merges and erasure), suppressions,
//! and the upgrade of a version 5 store whose queued messages join the queue.

use super::*;
use crate::tests::{msgs, new_store, source};
use crate::tests_journeys::{at, message, people};
use herald_core::consent::Consent;
use herald_store::{
    ConsentChange, DeliveryState, DeliveryUpdate, MessageCommit, OutboxStatus, Suppression,
};

/// Takes a database at schema 6 back to schema 5 (without setting the version).
pub(crate) const UNDO_V6: &str =
    "DROP TABLE deliveries; DROP TABLE consent; DROP TABLE suppressions;";

fn email() -> Vec<String> {
    vec!["email".to_owned()]
}

async fn queue(store: &SqliteStore, messages: Vec<OutboxMessage>) {
    store
        .commit_journeys(JourneyCommit {
            messages,
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn claims_lease_due_messages_once_and_count_attempts() {
    let (_dir, store) = new_store();
    let p = people(&store, &["ann", "bob"]).await;
    queue(
        &store,
        vec![
            message("m1", p[0], OutboxStatus::Queued, "2026-01-01T00:00:00Z"),
            message("m2", p[1], OutboxStatus::Skipped, "2026-01-01T00:00:01Z"),
            message("m3", p[1], OutboxStatus::Queued, "2026-01-01T00:00:02Z"),
        ],
    )
    .await;
    let now = at("2026-01-01T00:01:00Z");
    let lease = at("2026-01-01T00:02:00Z");
    assert!(
        store
            .claim_deliveries(vec!["sms".into()], now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store
        .claim_deliveries(email(), now, lease, 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].message.id.as_str(), claimed[0].attempt),
        ("m1", 1)
    );
    let rest = store
        .claim_deliveries(email(), now, lease, 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "skipped messages are not queued");
    assert_eq!(rest[0].message.id, "m3");
    assert!(
        store
            .claim_deliveries(email(), now, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased messages are not claimed twice"
    );
    assert_eq!(store.next_delivery_due(email()).await.unwrap(), Some(lease));

    // m1 is delivered; m3's sender died, so its lease runs out and it is claimed again.
    store
        .commit_messages(MessageCommit {
            updates: vec![DeliveryUpdate {
                message_id: "m1".into(),
                state: DeliveryState::Delivered,
                due: None,
                address: Some("ann@example.com".into()),
                provider_id: Some("250 ok".into()),
                error: None,
                at: now,
            }],
            events: msgs(
                &[r#"{"type":"track","userId":"ann","event":"Email Delivered",
                "messageId":"delivered-m1","properties":{"email_id":"m1"}}"#],
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let again = store
        .claim_deliveries(email(), lease, at("2026-01-01T00:03:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].message.id.as_str(), again[0].attempt), ("m3", 2));

    let m1 = store.outbox_message("m1").await.unwrap().unwrap();
    let d = m1.delivery.unwrap();
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(d.address.as_deref(), Some("ann@example.com"));
    assert_eq!(d.attempts, 1);
    let found = store
        .message_for_provider_id("email", "250 ok")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, "m1");
    let delivered = store
        .deliveries_in_state(DeliveryState::Delivered, 0, 10)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    let skipped = store.outbox_message("m2").await.unwrap().unwrap();
    assert!(skipped.delivery.is_none());

    // The delivery event went into the log under the messages source, once.
    let events = store.profile_events("ann", 10).await.unwrap().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.name.as_deref() == Some("Email Delivered"))
    );
    store.close().await.unwrap();
}

fn consent(p: ProfileId, key: &str, subscribed: bool, source: &str, when: &str) -> ConsentChange {
    let k = herald_core::consent::ConsentKey::parse(key).unwrap();
    ConsentChange {
        profile: p,
        consent: Consent {
            channel: k.channel,
            topic: k.topic,
            subscribed,
            source: source.into(),
            at: at(when),
        },
    }
}

#[tokio::test]
async fn consent_keeps_the_newest_per_key_and_follows_identify_changes() {
    let (_dir, store) = new_store();
    let p = people(&store, &["ann"]).await[0];
    store
        .commit_messages(MessageCommit {
            consent: vec![
                consent(
                    p,
                    "email",
                    false,
                    "unsubscribe_link",
                    "2026-02-01T00:00:00Z",
                ),
                consent(p, "email", true, "api", "2026-01-01T00:00:00Z"),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let got = store.consent(p).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(
        !got[0].subscribed,
        "an older record does not override a newer one"
    );
    assert_eq!(got[0].source, "unsubscribe_link");

    // An identify older than the unsubscribe does not undo it; one that only repeats the
    // trait's value records nothing; a change is recorded.
    let src = source(&store).await;
    let identify = |unsubscribed: bool, when: &str| {
        format!(
            r#"{{"type":"identify","userId":"ann","traits":{{"unsubscribed":{unsubscribed}}},"timestamp":"{when}"}}"#
        )
    };
    for (unsubscribed, when, source, subscribed) in [
        (false, "2026-01-15T00:00:00Z", "unsubscribe_link", false),
        (false, "2026-03-01T00:00:00Z", "unsubscribe_link", false),
        (true, "2026-03-02T00:00:00Z", "identify", false),
        (false, "2026-03-03T00:00:00Z", "identify", true),
    ] {
        let line = identify(unsubscribed, when);
        store.append(src, msgs(&[line.as_str()])).await.unwrap();
        let got = store.consent(p).await.unwrap().pop().unwrap();
        assert_eq!(
            (got.source.as_str(), got.subscribed),
            (source, subscribed),
            "{when}"
        );
    }
    store.close().await.unwrap();
}

#[tokio::test]
async fn identify_traits_record_consent_per_channel_and_topic() {
    let (_dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"identify","userId":"cy","traits":{"subscriptions":{"sms":true,"email:news":false}},"timestamp":"2026-03-01T00:00:00Z"}"#,
                r#"{"type":"identify","userId":"cy","traits":{"subscriptions":{"sms":true,"email:news":false}},"timestamp":"2026-03-02T00:00:00Z"}"#,
            ]),
        )
        .await
        .unwrap();
    let p = store.resolve("cy").await.unwrap().unwrap();
    let got: Vec<(String, bool, Timestamp)> = store
        .consent(p)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.key().to_string(), c.subscribed, c.at))
        .collect();
    assert_eq!(
        got,
        vec![
            ("email:news".into(), false, at("2026-03-01T00:00:00Z")),
            ("sms".into(), true, at("2026-03-01T00:00:00Z")),
        ]
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn consent_follows_merges_and_goes_with_erasure() {
    let (_dir, store) = new_store();
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
    store
        .commit_messages(MessageCommit {
            consent: vec![
                consent(
                    anon,
                    "email",
                    false,
                    "unsubscribe_link",
                    "2026-02-01T00:00:00Z",
                ),
                consent(ann, "email", true, "api", "2026-01-01T00:00:00Z"),
                consent(ann, "push", true, "api", "2026-01-01T00:00:00Z"),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .append(
            src,
            msgs(&[r#"{"type":"alias","userId":"ann","previousId":"a1"}"#]),
        )
        .await
        .unwrap();
    let into = store.resolve("ann").await.unwrap().unwrap();
    let got: Vec<(String, bool)> = store
        .consent(into)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.key().to_string(), c.subscribed))
        .collect();
    assert_eq!(got, vec![("email".into(), false), ("push".into(), true)]);
    store.erase("ann").await.unwrap();
    assert!(store.consent(into).await.unwrap().is_empty());
    store.close().await.unwrap();
}

#[tokio::test]
async fn suppressions_are_listed_and_lifted() {
    let (_dir, store) = new_store();
    let s = |addr: &str, reason: &str| Suppression {
        channel: "email".into(),
        address: addr.into(),
        reason: reason.into(),
        detail: Some("5.1.1".into()),
        at: at("2026-01-01T00:00:00Z"),
    };
    store
        .commit_messages(MessageCommit {
            suppress: vec![s("b@x.com", "hard_bounce"), s("a@x.com", "complaint")],
            ..Default::default()
        })
        .await
        .unwrap();
    let all = store.suppressions(None, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].address, "a@x.com");
    let next = store
        .suppressions(Some(("email".into(), "a@x.com".into())), 10)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(
        store
            .suppression("email", "b@x.com")
            .await
            .unwrap()
            .unwrap()
            .reason,
        "hard_bounce"
    );
    store
        .commit_messages(MessageCommit {
            unsuppress: vec![("email".into(), "b@x.com".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        store
            .suppression("email", "b@x.com")
            .await
            .unwrap()
            .is_none()
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_version_5_store_queues_its_queued_messages() {
    let (dir, store) = new_store();
    let p = people(&store, &["ann"]).await;
    queue(
        &store,
        vec![
            message("old", p[0], OutboxStatus::Queued, "2026-01-01T00:00:00Z"),
            message(
                "capped",
                p[0],
                OutboxStatus::Skipped,
                "2026-01-01T00:00:00Z",
            ),
        ],
    )
    .await;
    store.close().await.unwrap();
    {
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(crate::tests_catalog::UNDO_V7).unwrap();
        c.execute_batch(UNDO_V6).unwrap();
        c.execute_batch("PRAGMA user_version = 5;").unwrap();
    }
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    let claimed = store
        .claim_deliveries(
            email(),
            at("2026-01-02T00:00:00Z"),
            at("2026-01-02T00:01:00Z"),
            10,
        )
        .await
        .unwrap();
    let ids: Vec<&str> = claimed.iter().map(|c| c.message.id.as_str()).collect();
    assert_eq!(ids, vec!["old"]);
    store.close().await.unwrap();
}
