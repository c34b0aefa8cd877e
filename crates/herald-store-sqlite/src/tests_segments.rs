//! The segment side of the store: engine steps, memberships, the profile log, migrations.

use super::*;
use crate::tests::{msgs, new_store, source};
use herald_store::{MembershipChange, ProfileChange, SegmentState};

fn record(name: &str, version: u64) -> SegmentRecord {
    SegmentRecord {
        name: name.into(),
        definition: serde_json::json!({"name": name}),
        version,
        updated_at: Timestamp::now(),
    }
}

fn change(segment: &str, profile: ProfileId, entered: bool) -> MembershipChange {
    MembershipChange {
        segment: segment.into(),
        profile,
        entered,
        at: "2026-01-01T00:00:00Z".parse().unwrap(),
        backfill: false,
    }
}

#[tokio::test]
async fn a_step_writes_states_members_events_and_cursor_at_once() {
    let (_dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"track","userId":"zed","event":"e"}"#,
                r#"{"type":"track","anonymousId":"anon-b","event":"e"}"#,
                r#"{"type":"track","userId":"amy","event":"e"}"#,
            ]),
        )
        .await
        .unwrap();
    let zed = store.resolve("zed").await.unwrap().unwrap();
    let anon = store.resolve("anon-b").await.unwrap().unwrap();
    let amy = store.resolve("amy").await.unwrap().unwrap();
    let commit = SegmentCommit {
        cursor: SegmentCursor {
            events: 3,
            profile_log: 0,
            program: u64::MAX - 1,
        },
        definitions: Some(vec![record("buyers", 1), record("other", 1)]),
        states: vec![SegmentState {
            profile: zed,
            state: Some(vec![1, 2, 3]),
            due: Some(Timestamp::now()),
        }],
        changes: vec![
            change("buyers", zed, true),
            change("buyers", anon, true),
            change("buyers", amy, true),
            change("buyers", amy, false),
        ],
    };
    store.commit_segments(commit.clone()).await.unwrap();
    // Replaying the same step changes nothing.
    store.commit_segments(commit).await.unwrap();

    let members = store.segment_members("buyers", None, 10).await.unwrap();
    let ids: Vec<_> = members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["anon-b", "zed"]);
    let page = store
        .segment_members("buyers", Some("anon-b"), 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(
        store.segment_sizes().await.unwrap(),
        vec![("buyers".to_string(), 2), ("other".to_string(), 0)]
    );
    assert_eq!(
        store.segment_states().await.unwrap(),
        vec![(zed, vec![1, 2, 3])]
    );
    let cursor = store.segment_cursor().await.unwrap();
    assert_eq!((cursor.events, cursor.program), (3, u64::MAX - 1));
    assert_eq!(
        store.profile_segments(zed).await.unwrap()[0].0,
        "buyers".to_string()
    );
    // Membership events are recorded once each, and not counted as ingested.
    let amy_events = store.profile_events("amy", 10).await.unwrap().unwrap();
    let mut names: Vec<_> = amy_events
        .iter()
        .filter_map(|e| e.name.as_deref())
        .collect();
    names.sort();
    assert_eq!(names, ["Segment Entered", "Segment Exited", "e"]);
    assert_eq!(store.stats().await.unwrap().events, 3);

    // Dropping a definition drops its members.
    store
        .commit_segments(SegmentCommit {
            cursor: SegmentCursor {
                events: 3,
                profile_log: 0,
                program: 7,
            },
            definitions: Some(vec![record("other", 2)]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        store
            .segment_members("buyers", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let defs = store.segment_definitions().await.unwrap();
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0].version, 2);
    store.close().await.unwrap();
}

#[tokio::test]
async fn merges_and_erasures_are_logged_and_gone_profiles_are_not_written() {
    let (_dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"track","userId":"a","event":"e"}"#,
                r#"{"type":"track","userId":"b","event":"e"}"#,
            ]),
        )
        .await
        .unwrap();
    let a = store.resolve("a").await.unwrap().unwrap();
    let b = store.resolve("b").await.unwrap().unwrap();
    store
        .commit_segments(SegmentCommit {
            states: vec![SegmentState {
                profile: b,
                state: Some(vec![9]),
                due: None,
            }],
            changes: vec![change("s", b, true)],
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .append(
            src,
            msgs(&[r#"{"type":"alias","previousId":"b","userId":"a"}"#]),
        )
        .await
        .unwrap();
    store.erase("a").await.unwrap().unwrap();
    let log = store.profile_log(0, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[0].change,
        ProfileChange::Merged {
            absorbed: b,
            into: a
        }
    );
    assert_eq!(
        log[0].after_event, 3,
        "two events and a membership event came before"
    );
    assert_eq!(log[1].change, ProfileChange::Erased { profile: a });
    assert!(store.segment_states().await.unwrap().is_empty());
    // A late step about the erased person writes nothing.
    store
        .commit_segments(SegmentCommit {
            states: vec![SegmentState {
                profile: a,
                state: Some(vec![1]),
                due: None,
            }],
            changes: vec![change("s", a, true)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(store.segment_states().await.unwrap().is_empty());
    assert!(
        store
            .segment_members("s", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.stats().await.unwrap().events, 0);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_version_1_store_is_upgraded_when_opened_for_writing() {
    let (dir, store) = new_store();
    store.close().await.unwrap();
    {
        // Take the database back to what issue 2's Herald created.
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(crate::tests_catalog::UNDO_V7).unwrap();
        c.execute_batch(crate::tests_messages::UNDO_V6).unwrap();
        c.execute_batch(crate::tests_templates::UNDO_V5).unwrap();
        c.execute_batch(crate::tests_journeys::UNDO_V4).unwrap();
        c.execute_batch(
            "DROP TABLE segments; DROP TABLE segment_members; DROP TABLE segment_state;
             DROP TABLE profile_log;
             DELETE FROM counters WHERE name LIKE 'segment_%';
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let err = SqliteStore::open(dir.path(), Access::ReadOnly)
        .err()
        .unwrap();
    assert!(err.to_string().contains("upgrade"), "{err}");
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    assert_eq!(
        store.segment_cursor().await.unwrap(),
        SegmentCursor::default()
    );
    store.close().await.unwrap();
}
