//! The journey side of the store as it touches people: trait updates, erasure, merges; and the
//! migration to schema 4.

use super::*;
use crate::tests::{msgs, new_store, source};
use crate::tests_journeys::{
    UNDO_V4, action, at, count, instance, instances_of, message, people, record, state,
};
use herald_core::MessageKind;
use herald_store::OutboxStatus;
use serde_json::json;

#[tokio::test]
async fn trait_updates_merge_like_an_identify_and_are_logged() {
    let (_dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"identify","userId":"ann","traits":{"email":"a@x.io","plan":"free"},"timestamp":"2025-06-01T00:00:00Z"}"#,
            ]),
        )
        .await
        .unwrap();
    let ann = store.resolve("ann").await.unwrap().unwrap();
    let before = store.profile("ann").await.unwrap().unwrap();
    let traits = json!({"plan": "pro", "onboarded": true})
        .as_object()
        .unwrap()
        .clone();
    store
        .commit_journeys(JourneyCommit {
            traits: vec![(ann, traits, at("2026-01-01T00:00:00Z"))],
            ..Default::default()
        })
        .await
        .unwrap();
    let after = store.profile("ann").await.unwrap().unwrap();
    assert_eq!(
        Value::Object(after.traits),
        json!({"email": "a@x.io", "plan": "pro", "onboarded": true})
    );
    assert_eq!(
        (after.first_seen, after.last_seen, after.event_count),
        (before.first_seen, before.last_seen, before.event_count),
        "Herald's own events are not activity"
    );
    assert_eq!(store.stats().await.unwrap().events, 1);

    let events = store.scan_events(1, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!((e.kind, e.profile_id), (MessageKind::Identify, ann));
    assert_eq!(e.timestamp, at("2026-01-01T00:00:00Z"));
    let body: Value = serde_json::from_str(&e.body).unwrap();
    assert_eq!(body["type"], "identify");
    assert_eq!(body["userId"], "ann");
    assert_eq!(body["traits"], json!({"plan": "pro", "onboarded": true}));
    assert_eq!(body["messageId"], e.message_id);
    let seq = e.seq as i64;
    let source_name: String = store
        .read(move |c| {
            c.query_row(
                "SELECT s.name FROM events e JOIN sources s ON s.id = e.source_id WHERE e.seq = ?1",
                [seq],
                |r| r.get(0),
            )
            .map_err(sql)
        })
        .await
        .unwrap();
    assert_eq!(source_name, "journeys");
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_trait_update_and_an_identify_in_one_transaction_both_land() {
    let (dir, store) = new_store();
    let [ann] = people(&store, &["ann"]).await[..] else {
        unreachable!()
    };
    store.close().await.unwrap();
    // The writer groups concurrent commands into one transaction; do that deterministically.
    let mut conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let mut state = apply::WriterState::load(&conn).unwrap();
    let tx = conn.transaction().unwrap();
    let mut deltas = apply::Deltas::default();
    let identify = msgs(&[r#"{"type":"identify","userId":"ann","traits":{"email":"a@x.io"}}"#]);
    apply::append(&tx, &mut state, &mut deltas, SourceId(1), &identify).unwrap();
    let commit = JourneyCommit {
        traits: vec![(
            ann,
            json!({"plan": "pro"}).as_object().unwrap().clone(),
            Timestamp::now(),
        )],
        ..Default::default()
    };
    journeys::commit(&tx, &mut state, &mut deltas, &commit).unwrap();
    apply::finish(&tx, &mut state, &mut deltas).unwrap();
    tx.commit().unwrap();
    let traits: String = conn
        .query_row(
            "SELECT traits FROM profiles WHERE id = ?1",
            [ann.0 as i64],
            |r| r.get(0),
        )
        .unwrap();
    let traits: Value = serde_json::from_str(&traits).unwrap();
    assert_eq!(traits, json!({"email": "a@x.io", "plan": "pro"}));
}

#[tokio::test]
async fn erasure_removes_journey_data_and_late_steps_write_nothing() {
    let (_dir, store) = new_store();
    let [gone, stays] = people(&store, &["gone", "stays"]).await[..] else {
        unreachable!()
    };
    let trait_update = |p| {
        (
            p,
            json!({"plan": "pro"}).as_object().unwrap().clone(),
            at("2026-01-01T00:00:00Z"),
        )
    };
    let step = |p: ProfileId, id: &str| JourneyCommit {
        states: vec![state(
            p,
            Some("2026-01-02T00:00:00Z"),
            vec![instance(p, 1, 2)],
        )],
        messages: vec![message(id, p, OutboxStatus::Queued, "2026-01-01T00:00:00Z")],
        actions: vec![action(p, Some(2), "send")],
        traits: vec![trait_update(p)],
        ..Default::default()
    };
    store.commit_journeys(step(gone, "m-gone")).await.unwrap();
    store.commit_journeys(step(stays, "m-stays")).await.unwrap();

    let erasure = store.erase("gone").await.unwrap().unwrap();
    assert_eq!(
        erasure.events_deleted, 1,
        "the trait update's event is not counted as ingested"
    );
    assert!(store.journey_states(vec![gone]).await.unwrap().is_empty());
    assert!(instances_of(&store, gone).await.is_empty());
    let outbox = store.outbox(0, 10, None).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].profile, stays);
    assert_eq!(
        count(&store, "SELECT count(*) FROM journey_actions").await,
        1
    );
    assert_eq!(
        store.journey_step_counts().await.unwrap()[0].count,
        2,
        "counts are statistics and stay"
    );
    assert_eq!(
        store
            .due_journey_profiles(at("2026-02-01T00:00:00Z"), 10)
            .await
            .unwrap(),
        [stays]
    );
    assert_eq!(store.stats().await.unwrap().events, 1);

    // A step decided before the erasure and committed after it.
    let events_before = store.scan_events(0, 100).await.unwrap().len();
    store.commit_journeys(step(gone, "m-late")).await.unwrap();
    assert!(store.journey_states(vec![gone]).await.unwrap().is_empty());
    assert!(instances_of(&store, gone).await.is_empty());
    assert_eq!(store.outbox(0, 10, None).await.unwrap().len(), 1);
    assert_eq!(
        count(&store, "SELECT count(*) FROM journey_actions").await,
        1
    );
    assert_eq!(
        store.scan_events(0, 100).await.unwrap().len(),
        events_before
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_trait_update_of_a_merged_profile_goes_to_the_survivor() {
    let (_dir, store) = new_store();
    let [a, b] = people(&store, &["a", "b"]).await[..] else {
        unreachable!()
    };
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[r#"{"type":"alias","previousId":"b","userId":"a"}"#]),
        )
        .await
        .unwrap();
    store
        .commit_journeys(JourneyCommit {
            traits: vec![(
                b,
                json!({"plan": "pro"}).as_object().unwrap().clone(),
                Timestamp::now(),
            )],
            ..Default::default()
        })
        .await
        .unwrap();
    let p = store.profile("b").await.unwrap().unwrap();
    assert_eq!(p.id, a);
    assert_eq!(p.traits["plan"], "pro");
    let last = store.scan_events(0, 100).await.unwrap().pop().unwrap();
    assert_eq!((last.kind, last.profile_id), (MessageKind::Identify, a));
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_version_3_store_is_upgraded_when_opened_for_writing() {
    let (dir, store) = new_store();
    store.close().await.unwrap();
    {
        // Take the database back to what Herald with segments but no journeys created.
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(crate::tests_catalog::UNDO_V7).unwrap();
        c.execute_batch(crate::tests_messages::UNDO_V6).unwrap();
        c.execute_batch(crate::tests_templates::UNDO_V5).unwrap();
        c.execute_batch(UNDO_V4).unwrap();
        c.execute_batch("PRAGMA user_version = 3;").unwrap();
    }
    let err = SqliteStore::open(dir.path(), Access::ReadOnly)
        .err()
        .unwrap();
    assert!(err.to_string().contains("upgrade"), "{err}");
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    assert_eq!(
        store.journey_cursor().await.unwrap(),
        JourneyCursor::default()
    );
    let [ann] = people(&store, &["ann"]).await[..] else {
        unreachable!()
    };
    store
        .commit_journeys(JourneyCommit {
            cursor: JourneyCursor {
                events: 1,
                profile_log: 0,
            },
            definitions: Some(vec![record("welcome", 1, true)]),
            states: vec![state(ann, Some("2026-01-01T00:00:00Z"), vec![])],
            messages: vec![message(
                "m",
                ann,
                OutboxStatus::Queued,
                "2026-01-01T00:00:00Z",
            )],
            actions: vec![action(ann, Some(1), "send")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store.journey_cursor().await.unwrap().events, 1);
    assert_eq!(store.outbox(0, 10, None).await.unwrap().len(), 1);
    let version: i64 = store
        .read(|c| schema::version(c).map_err(sql))
        .await
        .unwrap();
    assert_eq!(version, schema::VERSION);
    store.close().await.unwrap();
}
