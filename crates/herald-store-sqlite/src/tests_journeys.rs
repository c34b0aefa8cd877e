//! The journey side of the store: definitions, runner steps, the outbox, due times. People's
//! side (trait updates, erasure, merges) and the migration are in `tests_journeys_people`.

use super::*;
use crate::tests::{msgs, new_store, source};
use herald_store::{InstanceRow, JourneyAction, JourneyState, OutboxStatus};
use serde_json::json;

/// Takes a database at schema 4 back to schema 3 (without setting the version).
pub(crate) const UNDO_V4: &str = "
    DROP TABLE journeys; DROP TABLE journey_state; DROP TABLE journey_instances;
    DROP TABLE outbox; DROP TABLE journey_actions; DROP TABLE journey_counts;
    DELETE FROM counters WHERE name IN ('journey_events_cursor', 'journey_log_cursor');";

pub(crate) fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub(crate) fn record(name: &str, version: u32, live: bool) -> JourneyRecord {
    JourneyRecord {
        name: name.into(),
        version,
        definition: json!({"name": name, "version": version}),
        live,
        created_at: at("2026-01-01T00:00:00Z"),
    }
}

pub(crate) fn message(
    id: &str,
    profile: ProfileId,
    status: OutboxStatus,
    created: &str,
) -> OutboxMessage {
    OutboxMessage {
        seq: 0,
        id: id.into(),
        profile,
        journey: "welcome".into(),
        version: 1,
        instance: format!("{profile}.1"),
        step: 2,
        channel: "email".into(),
        template: "hello".into(),
        class: "marketing".into(),
        status,
        reason: (status == OutboxStatus::Skipped).then(|| "frequency cap".into()),
        context: json!({"trigger": {"plan": "pro"}}),
        created_at: at(created),
        delivery: None,
    }
}

pub(crate) fn action(profile: ProfileId, step: Option<u32>, what: &str) -> JourneyAction {
    JourneyAction {
        at: at("2026-01-01T00:00:00Z"),
        journey: "welcome".into(),
        version: 1,
        instance: format!("{profile}.1"),
        profile,
        step,
        action: what.into(),
        detail: json!({"template": "hello"}),
    }
}

pub(crate) fn instance(profile: ProfileId, serial: u32, step: u32) -> InstanceRow {
    InstanceRow {
        id: format!("{profile}.{serial}"),
        journey: "welcome".into(),
        version: 1,
        step,
        key: None,
        entered_at: at("2026-01-01T00:00:00Z"),
        wake: Some(at("2026-01-02T00:00:00Z")),
    }
}

pub(crate) fn state(
    profile: ProfileId,
    due: Option<&str>,
    instances: Vec<InstanceRow>,
) -> JourneyState {
    JourneyState {
        profile,
        state: Some(format!("state of {profile}").into_bytes()),
        due: due.map(at),
        instances,
    }
}

/// Stores people by `userId` and returns their profiles in order.
pub(crate) async fn people(store: &SqliteStore, users: &[&str]) -> Vec<ProfileId> {
    let src = source(store).await;
    let lines: Vec<String> = users
        .iter()
        .map(|u| format!(r#"{{"type":"track","userId":"{u}","event":"e"}}"#))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    store.append(src, msgs(&refs)).await.unwrap();
    let mut out = Vec::new();
    for u in users {
        out.push(store.resolve(u).await.unwrap().unwrap());
    }
    out
}

pub(crate) async fn instances_of(store: &SqliteStore, p: ProfileId) -> Vec<InstanceRow> {
    store
        .read(move |c| journeys::instances(c, p))
        .await
        .unwrap()
}

pub(crate) async fn count(store: &SqliteStore, query: &'static str) -> i64 {
    store
        .read(move |c| c.query_row(query, [], |r| r.get(0)).map_err(sql))
        .await
        .unwrap()
}

#[tokio::test]
async fn versions_are_kept_and_live_flags_follow_the_latest_list() {
    let (_dir, store) = new_store();
    let commit = |defs| JourneyCommit {
        definitions: Some(defs),
        ..Default::default()
    };
    store
        .commit_journeys(commit(vec![record("welcome", 1, true)]))
        .await
        .unwrap();
    let mut changed = record("welcome", 1, false);
    changed.definition = json!({"changed": true});
    store
        .commit_journeys(commit(vec![
            changed,
            record("welcome", 2, true),
            record("winback", 1, true),
        ]))
        .await
        .unwrap();
    let defs = store.journey_definitions().await.unwrap();
    let flags: Vec<_> = defs
        .iter()
        .map(|d| (d.name.as_str(), d.version, d.live))
        .collect();
    assert_eq!(
        flags,
        [
            ("welcome", 1, false),
            ("welcome", 2, true),
            ("winback", 1, true)
        ]
    );
    assert_eq!(
        defs[0].definition,
        json!({"name": "welcome", "version": 1}),
        "a stored version is never overwritten"
    );
    // Retiring `welcome` leaves `winback`, which the list does not name, as it was.
    store
        .commit_journeys(commit(vec![record("welcome", 2, false)]))
        .await
        .unwrap();
    let live: Vec<_> = store
        .journey_definitions()
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.live)
        .map(|d| d.name)
        .collect();
    assert_eq!(live, ["winback"]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_step_is_stored_at_once_and_read_back() {
    let (_dir, store) = new_store();
    let [ann, bob] = people(&store, &["ann", "bob"]).await[..] else {
        unreachable!()
    };
    assert_eq!(
        store.journey_cursor().await.unwrap(),
        JourneyCursor::default()
    );
    assert_eq!(store.journey_rules().await.unwrap(), None);
    let cursor = JourneyCursor {
        events: 2,
        profile_log: 1,
    };
    store
        .commit_journeys(JourneyCommit {
            cursor,
            rules: Some(json!({"caps": [{"channel": "email", "per": "1d", "max": 2}]})),
            states: vec![
                state(ann, Some("2026-01-02T00:00:00Z"), vec![instance(ann, 1, 2)]),
                state(bob, None, vec![instance(bob, 1, 2), instance(bob, 2, 3)]),
            ],
            messages: vec![
                message("m-ann", ann, OutboxStatus::Queued, "2026-01-01T00:00:00Z"),
                message("m-bob", bob, OutboxStatus::Skipped, "2026-01-01T00:00:01Z"),
                message("m-ann-2", ann, OutboxStatus::Queued, "2026-01-01T12:00:00Z"),
            ],
            actions: vec![
                action(ann, None, "enter"),
                action(ann, Some(2), "send"),
                action(bob, Some(2), "skip"),
                action(bob, Some(2), "skip"),
            ],
            ..Default::default()
        })
        .await
        .unwrap();

    assert_eq!(store.journey_cursor().await.unwrap(), cursor);
    assert_eq!(
        store.journey_rules().await.unwrap().unwrap()["caps"][0]["max"],
        2
    );
    let states = store
        .journey_states(vec![bob, ann, ProfileId(999)])
        .await
        .unwrap();
    assert_eq!(
        states,
        [
            (bob, format!("state of {bob}").into_bytes()),
            (ann, format!("state of {ann}").into_bytes())
        ]
    );
    assert_eq!(instances_of(&store, bob).await.len(), 2);
    assert_eq!(instances_of(&store, ann).await, [instance(ann, 1, 2)]);

    let all = store.outbox(0, 10, None).await.unwrap();
    let ids: Vec<_> = all.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m-ann", "m-bob", "m-ann-2"]);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let mut expected = message("m-bob", bob, OutboxStatus::Skipped, "2026-01-01T00:00:01Z");
    expected.seq = all[1].seq;
    assert_eq!(all[1], expected);
    let after = store.outbox(all[0].seq, 1, None).await.unwrap();
    assert_eq!(after[0].id, "m-bob");
    let anns = store.outbox(0, 10, Some(ann)).await.unwrap();
    assert_eq!(anns.len(), 2);
    assert!(
        store
            .outbox(anns[1].seq, 10, Some(ann))
            .await
            .unwrap()
            .is_empty()
    );

    // Only queued messages count towards caps.
    let sends = store
        .recent_sends(ann, at("2026-01-01T06:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        sends,
        [(
            "email".to_string(),
            "marketing".to_string(),
            at("2026-01-01T12:00:00Z")
        )]
    );
    assert!(
        store
            .recent_sends(bob, at("2025-01-01T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );

    let counts: Vec<_> = store
        .journey_step_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.step, c.action, c.count))
        .collect();
    assert_eq!(
        counts,
        [
            (None, "enter".to_string(), 1),
            (Some(2), "send".to_string(), 1),
            (Some(2), "skip".to_string(), 2)
        ]
    );
    let waiting: Vec<_> = store
        .journey_waiting()
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.journey, w.version, w.step, w.count))
        .collect();
    assert_eq!(
        waiting,
        [
            ("welcome".to_string(), 1, 2, 2),
            ("welcome".to_string(), 1, 3, 1)
        ]
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM journey_actions").await,
        4
    );

    // A later step replaces a person's instances.
    store
        .commit_journeys(JourneyCommit {
            cursor,
            states: vec![state(bob, None, vec![instance(bob, 2, 4)])],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(instances_of(&store, bob).await, [instance(bob, 2, 4)]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_message_id_is_stored_once() {
    let (_dir, store) = new_store();
    let [ann] = people(&store, &["ann"]).await[..] else {
        unreachable!()
    };
    let first = message("same", ann, OutboxStatus::Queued, "2026-01-01T00:00:00Z");
    let mut replay = first.clone();
    replay.template = "other".into();
    for messages in [vec![first.clone()], vec![replay.clone(), replay]] {
        store
            .commit_journeys(JourneyCommit {
                messages,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let stored = store.outbox(0, 10, None).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].template, "hello", "the first one is kept");
    store.close().await.unwrap();
}

#[tokio::test]
async fn due_profiles_come_earliest_first_and_a_deleted_state_is_gone() {
    let (_dir, store) = new_store();
    let [a, b, c, d] = people(&store, &["a", "b", "c", "d"]).await[..] else {
        unreachable!()
    };
    assert_eq!(store.next_journey_due().await.unwrap(), None);
    store
        .commit_journeys(JourneyCommit {
            states: vec![
                state(a, Some("2026-01-03T00:00:00Z"), vec![instance(a, 1, 1)]),
                state(b, Some("2026-01-01T00:00:00Z"), vec![]),
                state(c, Some("2026-01-02T00:00:00Z"), vec![]),
                state(d, None, vec![]),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let now = at("2026-01-05T00:00:00Z");
    assert_eq!(
        store.due_journey_profiles(now, 10).await.unwrap(),
        [b, c, a]
    );
    assert_eq!(store.due_journey_profiles(now, 2).await.unwrap(), [b, c]);
    assert_eq!(
        store
            .due_journey_profiles(at("2026-01-02T00:00:00Z"), 10)
            .await
            .unwrap(),
        [b, c],
        "due at `now` is due"
    );
    assert_eq!(
        store.next_journey_due().await.unwrap(),
        Some(at("2026-01-01T00:00:00Z"))
    );

    store
        .commit_journeys(JourneyCommit {
            states: vec![
                JourneyState {
                    profile: a,
                    state: None,
                    due: None,
                    instances: vec![],
                },
                state(b, None, vec![]),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(store.due_journey_profiles(now, 10).await.unwrap(), [c]);
    assert!(store.journey_states(vec![a]).await.unwrap().is_empty());
    assert!(instances_of(&store, a).await.is_empty());
    assert_eq!(store.journey_states(vec![b]).await.unwrap().len(), 1);
    store.close().await.unwrap();
}
