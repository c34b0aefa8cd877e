use super::*;
use herald_core::credentials::Secret;
use herald_core::parse::parse_line;
use tempfile::TempDir;

pub(crate) fn new_store() -> (TempDir, SqliteStore) {
    let dir = TempDir::new().unwrap();
    SqliteStore::create(
        dir.path(),
        &NewStore {
            write_key: Secret::new("wk"),
            admin_token: Secret::new("admin-secret"),
        },
    )
    .unwrap();
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    (dir, store)
}

pub(crate) fn msgs(lines: &[&str]) -> Vec<Message> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    lines
        .iter()
        .map(|l| {
            parse_line(l, Timestamp::now(), &mut || {
                format!(
                    "gen-{}",
                    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                )
            })
            .unwrap()
        })
        .collect()
}

pub(crate) async fn source(store: &SqliteStore) -> SourceId {
    store
        .source_for_write_key("wk")
        .await
        .unwrap()
        .expect("default source")
}

#[tokio::test]
async fn create_refuses_existing_and_open_refuses_missing_or_locked() {
    let (dir, store) = new_store();
    let again = SqliteStore::create(
        dir.path(),
        &NewStore {
            write_key: Secret::new("x"),
            admin_token: Secret::new("y"),
        },
    );
    assert!(matches!(
        again,
        Err(StoreError::Locked(_)) | Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        SqliteStore::open(dir.path(), Access::ReadWrite),
        Err(StoreError::Locked(_))
    ));
    // Reading beside the writer is fine.
    let reader = SqliteStore::open(dir.path(), Access::ReadOnly).unwrap();
    assert_eq!(reader.stats().await.unwrap().events, 0);
    assert!(matches!(
        reader
            .append(
                SourceId(1),
                msgs(&[r#"{"type":"track","userId":"u","event":"e"}"#])
            )
            .await,
        Err(StoreError::ReadOnly)
    ));
    store.close().await.unwrap();
    assert!(matches!(
        SqliteStore::create(
            dir.path(),
            &NewStore {
                write_key: Secret::new("x"),
                admin_token: Secret::new("y")
            }
        ),
        Err(StoreError::AlreadyExists(_))
    ));
    let missing = TempDir::new().unwrap();
    assert!(matches!(
        SqliteStore::open(missing.path(), Access::ReadWrite),
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn credentials_are_checked() {
    let (_dir, store) = new_store();
    assert!(store.source_for_write_key("wk").await.unwrap().is_some());
    assert!(store.source_for_write_key("nope").await.unwrap().is_none());
    assert!(store.verify_admin_token("admin-secret").await.unwrap());
    assert!(
        store.verify_admin_token("admin-secret").await.unwrap(),
        "cached path"
    );
    assert!(!store.verify_admin_token("admin").await.unwrap());
}

#[tokio::test]
async fn duplicates_are_dropped_across_restarts() {
    let (dir, store) = new_store();
    let src = source(&store).await;
    let batch = msgs(&[
        r#"{"type":"track","userId":"u1","event":"A","messageId":"m1"}"#,
        r#"{"type":"track","userId":"u1","event":"A","messageId":"m1"}"#,
        r#"{"type":"track","userId":"u1","event":"B","messageId":"m2"}"#,
    ]);
    let r = store.append(src, batch.clone()).await.unwrap();
    assert_eq!((r.stored, r.duplicates), (2, 1));
    store.close().await.unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    let r = store.append(src, batch).await.unwrap();
    assert_eq!((r.stored, r.duplicates), (0, 3));
    // The same message id from another source is another message.
    let import = store.named_source(IMPORT_SOURCE).await.unwrap();
    assert_ne!(import, src);
    let r = store
        .append(
            import,
            msgs(&[r#"{"type":"track","userId":"u1","event":"A","messageId":"m1"}"#]),
        )
        .await
        .unwrap();
    assert_eq!(r.stored, 1);
    assert_eq!(store.stats().await.unwrap().events, 3);
}

#[tokio::test]
async fn anonymous_history_joins_the_identified_profile() {
    let (_dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"page","anonymousId":"a1","name":"Home","timestamp":"2024-01-01T00:00:00Z"}"#,
                r#"{"type":"track","anonymousId":"a1","event":"Product Viewed","timestamp":"2024-01-01T00:01:00Z"}"#,
                r#"{"type":"identify","anonymousId":"a1","userId":"u1","traits":{"email":"u1@x.io"},"timestamp":"2024-01-01T00:02:00Z"}"#,
            ]),
        )
        .await
        .unwrap();
    let p = store.profile("u1").await.unwrap().unwrap();
    assert_eq!(p.user_id.as_deref(), Some("u1"));
    assert_eq!(p.anonymous_ids, vec!["a1"]);
    assert_eq!(p.event_count, 3);
    assert_eq!(p.traits["email"], "u1@x.io");
    assert_eq!(p.first_seen.unwrap().to_string(), "2024-01-01T00:00:00Z");
    assert_eq!(store.profile("a1").await.unwrap().unwrap().id, p.id);
    let events = store.profile_events("u1", 10).await.unwrap().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0].kind,
        herald_core::MessageKind::Identify,
        "newest first"
    );
    assert_eq!(store.stats().await.unwrap().profiles, 1);
}

#[tokio::test]
async fn known_user_on_new_device_absorbs_its_history_and_alias_merges_both_sides() {
    let (_dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"identify","userId":"u1","traits":{"plan":"pro","email":"u1@x.io"}}"#,
                r#"{"type":"track","anonymousId":"phone","event":"App Opened"}"#,
                r#"{"type":"identify","anonymousId":"phone","traits":{"plan":"free","device":"ios"}}"#,
                r#"{"type":"track","anonymousId":"phone","userId":"u1","event":"Logged In"}"#,
            ]),
        )
        .await
        .unwrap();
    let p = store.profile("u1").await.unwrap().unwrap();
    assert_eq!(p.event_count, 4);
    assert_eq!(p.traits["plan"], "pro", "the known profile's traits win");
    assert_eq!(p.traits["device"], "ios", "the absorbed profile fills gaps");
    assert_eq!(store.stats().await.unwrap().profiles, 1);

    // Alias with history on both sides.
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"track","userId":"old-crm-id","event":"Order Completed"}"#,
                r#"{"type":"alias","previousId":"old-crm-id","userId":"u1"}"#,
            ]),
        )
        .await
        .unwrap();
    let p = store.profile("old-crm-id").await.unwrap().unwrap();
    assert_eq!(p.user_id.as_deref(), Some("u1"));
    assert_eq!(p.user_ids, vec!["old-crm-id", "u1"]);
    assert_eq!(p.event_count, 6);
    assert_eq!(store.stats().await.unwrap().profiles, 1);
}

#[tokio::test]
async fn two_known_people_on_one_device_stay_apart() {
    let (_dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"identify","anonymousId":"laptop","userId":"alice"}"#,
                r#"{"type":"identify","anonymousId":"laptop","userId":"bob"}"#,
                r#"{"type":"track","anonymousId":"laptop","userId":"bob","event":"X"}"#,
            ]),
        )
        .await
        .unwrap();
    let alice = store.profile("alice").await.unwrap().unwrap();
    let bob = store.profile("bob").await.unwrap().unwrap();
    assert_ne!(alice.id, bob.id);
    assert_eq!((alice.event_count, bob.event_count), (1, 2));
}

#[tokio::test]
async fn erasure_removes_everything_and_suppresses_later_events() {
    let (dir, store) = new_store();
    let src = source(&store).await;
    store
        .append(
            src,
            msgs(&[
                r#"{"type":"track","anonymousId":"a9","event":"Viewed"}"#,
                r#"{"type":"identify","anonymousId":"a9","userId":"gone","traits":{"email":"g@x.io"}}"#,
                r#"{"type":"group","userId":"gone","groupId":"acme","traits":{"name":"Acme"}}"#,
                r#"{"type":"track","userId":"stays","event":"Viewed"}"#,
            ]),
        )
        .await
        .unwrap();
    let export = store.export_profile("gone").await.unwrap().unwrap();
    assert_eq!(export.events.len(), 3);
    assert_eq!(export.groups[0].traits["name"], "Acme");
    let erasure = store.erase("gone").await.unwrap().unwrap();
    assert_eq!((erasure.events_deleted, erasure.ids_suppressed), (3, 2));
    assert!(store.profile("gone").await.unwrap().is_none());
    assert!(store.profile("a9").await.unwrap().is_none());
    assert!(store.erase("gone").await.unwrap().is_none());
    let r = store
        .append(
            src,
            msgs(&[
                r#"{"type":"track","userId":"gone","event":"Back"}"#,
                r#"{"type":"track","anonymousId":"a9","event":"Back"}"#,
            ]),
        )
        .await
        .unwrap();
    assert_eq!(r.dropped_erased, 2);
    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.events, stats.profiles, stats.dropped_erased),
        (1, 1, 2)
    );
    // Suppression survives a restart.
    store.close().await.unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    let r = store
        .append(
            src,
            msgs(&[r#"{"type":"track","userId":"gone","event":"Again"}"#]),
        )
        .await
        .unwrap();
    assert_eq!(r.dropped_erased, 1);
    assert!(store.profile("gone").await.unwrap().is_none());
}

#[tokio::test]
async fn concurrent_appends_are_all_stored_once() {
    let (_dir, store) = new_store();
    let store = Arc::new(store);
    let src = source(&store).await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let lines: Vec<String> = (0..200)
                .map(|i| {
                    format!(
                        r#"{{"type":"track","userId":"u{}","event":"E","messageId":"t{t}-{i}"}}"#,
                        i % 37
                    )
                })
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            store.append(src, msgs(&refs)).await.unwrap()
        }));
    }
    let mut stored = 0;
    for t in tasks {
        stored += t.await.unwrap().stored;
    }
    assert_eq!(stored, 3200);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.events, stats.profiles), (3200, 37));
    let all = store.scan_events(0, 10_000).await.unwrap();
    assert_eq!(all.len(), 3200);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
}
