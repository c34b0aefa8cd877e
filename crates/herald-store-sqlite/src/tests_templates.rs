//! Templates and the link key.

use crate::tests::new_store;
use crate::{Access, DB_FILE, SqliteStore};
use herald_core::Timestamp;
use herald_store::{Store, TemplateRecord};
use rusqlite::Connection;
use serde_json::json;

/// What schema version 5 added, undone (for upgrade tests).
pub(crate) const UNDO_V5: &str = "DROP TABLE templates; DELETE FROM meta WHERE key = 'link_key';";

fn record(name: &str, channel: &str, version: u32, live: bool) -> TemplateRecord {
    TemplateRecord {
        name: name.into(),
        channel: channel.into(),
        version,
        definition: json!({ "subject": format!("{name} v{version}") }),
        live,
        created_at: "2026-03-01T00:00:00Z".parse::<Timestamp>().unwrap(),
    }
}

#[tokio::test]
async fn template_versions_per_name_and_channel() {
    let (_dir, store) = new_store();
    store
        .commit_templates(vec![
            record("welcome_1", "email", 1, true),
            record("cart", "email", 1, true),
            record("cart", "sms", 1, true),
        ])
        .await
        .unwrap();
    // A new email version of `cart`; its SMS and `welcome_1` stay as they are, and an existing
    // version is never overwritten.
    let mut changed = record("cart", "email", 1, false);
    changed.definition = json!({ "subject": "overwritten?" });
    store
        .commit_templates(vec![changed, record("cart", "email", 2, true)])
        .await
        .unwrap();
    let all = store.template_records().await.unwrap();
    let live: Vec<(String, String, u32)> = all
        .iter()
        .filter(|r| r.live)
        .map(|r| (r.name.clone(), r.channel.clone(), r.version))
        .collect();
    assert_eq!(
        live,
        [
            ("cart".into(), "email".into(), 2),
            ("cart".into(), "sms".into(), 1),
            ("welcome_1".into(), "email".into(), 1)
        ]
    );
    assert_eq!(all[0].definition, json!({ "subject": "cart v1" }));
    store.close().await.unwrap();
}

#[tokio::test]
async fn each_store_has_its_own_link_key() {
    let (_a, one) = new_store();
    let (_b, two) = new_store();
    let k1 = one.link_key().await.unwrap();
    assert_eq!(k1, one.link_key().await.unwrap());
    assert_ne!(k1, two.link_key().await.unwrap());
    assert_ne!(k1, [0; 32]);
    one.close().await.unwrap();
    two.close().await.unwrap();
}

#[tokio::test]
async fn a_version_4_store_gains_templates_and_a_link_key() {
    let (dir, store) = new_store();
    store.close().await.unwrap();
    {
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(crate::tests_catalog::UNDO_V7).unwrap();
        c.execute_batch(crate::tests_messages::UNDO_V6).unwrap();
        c.execute_batch(UNDO_V5).unwrap();
        c.execute_batch("PRAGMA user_version = 4;").unwrap();
    }
    let err = SqliteStore::open(dir.path(), Access::ReadOnly)
        .err()
        .unwrap();
    assert!(err.to_string().contains("upgrade"), "{err}");
    let store = SqliteStore::open(dir.path(), Access::ReadWrite).unwrap();
    assert_ne!(store.link_key().await.unwrap(), [0; 32]);
    assert!(store.template_records().await.unwrap().is_empty());
    store.close().await.unwrap();
}
