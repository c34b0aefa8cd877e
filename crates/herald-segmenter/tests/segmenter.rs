//! The segmenter over a real SQLite store: following the log, timers, merges, restarts, and the
//! library against plain SQL over the same events.

use herald_core::credentials::Secret;
use herald_core::parse::parse_line;
use herald_core::{SourceId, Timestamp};
use herald_segmenter::Segmenter;
use herald_segments::{Definition, lang, library};
use herald_store::{NewStore, Store};
use herald_store_sqlite::{Access, SqliteStore};
use jiff::SignedDuration;
use std::collections::BTreeSet;
use std::sync::Arc;
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

async fn append(store: &SqliteStore, lines: &[String]) {
    let source: SourceId = store.source_for_write_key("wk").await.unwrap().unwrap();
    let mut n = 0;
    let messages = lines
        .iter()
        .map(|l| {
            parse_line(l, Timestamp::now(), &mut || {
                n += 1;
                format!("gen-{n}-{}", l.len())
            })
            .unwrap()
        })
        .collect();
    store.append(source, messages).await.unwrap();
}

fn order(user: &str, id: &str, at: Timestamp) -> String {
    format!(
        r#"{{"type":"track","userId":"{user}","messageId":"{id}","event":"Order Completed","properties":{{"revenue":10}},"timestamp":"{at}"}}"#
    )
}

fn defs(text: &str) -> Vec<Definition> {
    lang::parse(text).unwrap()
}

async fn members(store: &SqliteStore, name: &str) -> Vec<String> {
    store
        .segment_members(name, None, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

const DAY: SignedDuration = SignedDuration::from_hours(24);

#[tokio::test]
async fn follows_the_log_fires_timers_and_resumes_after_a_restart() {
    let (dir, store) = new_store();
    let t0: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    append(&store, &[order("ada", "o1", t0)]).await;
    let mut seg = Segmenter::load(store.clone(), t0).await.unwrap();
    let plan = seg
        .plan(
            defs("segment recent_buyers\n  count(\"Order Completed\") in last 30 days >= 1"),
            t0 + DAY,
        )
        .await
        .unwrap();
    assert_eq!(plan.preview.segments[0].entering, 1);
    seg.apply(plan, t0 + DAY).await.unwrap();
    assert_eq!(members(&store, "recent_buyers").await, ["ada"]);
    // The exact instant ada leaves: 30 days after her order.
    assert_eq!(seg.next_timer(), Some(t0 + DAY * 30));

    // A new buyer arrives; the step sees it.
    append(&store, &[order("bob", "o2", t0 + DAY * 2)]).await;
    seg.catch_up(t0 + DAY * 2).await.unwrap();
    assert_eq!(members(&store, "recent_buyers").await, ["ada", "bob"]);

    // One millisecond before the deadline nothing changes; at it, ada leaves.
    seg.catch_up(t0 + DAY * 30 - SignedDuration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(members(&store, "recent_buyers").await, ["ada", "bob"]);
    seg.catch_up(t0 + DAY * 30).await.unwrap();
    assert_eq!(members(&store, "recent_buyers").await, ["bob"]);

    // A restart resumes from the committed cursor and state.
    let cursor = seg.cursor();
    drop(seg);
    store.close().await.unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), Access::ReadWrite).unwrap());
    let mut seg = Segmenter::load(store.clone(), t0 + DAY * 30).await.unwrap();
    assert_eq!(seg.cursor(), cursor);
    assert_eq!(seg.next_timer(), Some(t0 + DAY * 32));
    append(&store, &[order("cy", "o3", t0 + DAY * 31)]).await;
    seg.catch_up(t0 + DAY * 32).await.unwrap();
    assert_eq!(members(&store, "recent_buyers").await, ["cy"]);
    // Each change was recorded once as an event of the profile.
    let ada = store.profile_events("ada", 10).await.unwrap().unwrap();
    let names: Vec<_> = ada.iter().filter_map(|e| e.name.clone()).collect();
    assert_eq!(names.iter().filter(|n| *n == "Segment Entered").count(), 1);
    assert_eq!(names.iter().filter(|n| *n == "Segment Exited").count(), 1);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_merge_combines_both_histories() {
    let (_dir, store) = new_store();
    let t0: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    let anon = |id: &str, at: Timestamp| {
        format!(
            r#"{{"type":"track","anonymousId":"device-1","messageId":"{id}","event":"Order Completed","timestamp":"{at}"}}"#
        )
    };
    append(
        &store,
        &[anon("a1", t0), anon("a2", t0 + DAY), order("ada", "o1", t0)],
    )
    .await;
    let mut seg = Segmenter::load(store.clone(), t0).await.unwrap();
    let plan = seg
        .plan(
            defs("segment frequent_buyers\n  count(\"Order Completed\") in last 90 days >= 3"),
            t0 + DAY * 2,
        )
        .await
        .unwrap();
    seg.apply(plan, t0 + DAY * 2).await.unwrap();
    assert!(members(&store, "frequent_buyers").await.is_empty());
    append(
        &store,
        &[format!(
            r#"{{"type":"alias","previousId":"device-1","userId":"ada","timestamp":"{}"}}"#,
            t0 + DAY * 2
        )],
    )
    .await;
    seg.catch_up(t0 + DAY * 2).await.unwrap();
    assert_eq!(members(&store, "frequent_buyers").await, ["ada"]);
    store.close().await.unwrap();
}

/// The library computed by Herald equals plain SQL over the same events in SQLite.
#[tokio::test]
async fn library_segments_match_plain_sql() {
    let (dir, store) = new_store();
    let end: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let opts = herald_generate::Options::new(400, 120, 9, end);
    let lines: Vec<String> = herald_generate::Generator::new(&opts).collect();
    for chunk in lines.chunks(2000) {
        append(&store, chunk).await;
    }
    let now = end + SignedDuration::from_hours(6);
    let mut seg = Segmenter::load(store.clone(), now).await.unwrap();
    let plan = seg.plan(library::library(), now).await.unwrap();
    seg.apply(plan, now).await.unwrap();

    let sql = rusqlite::Connection::open_with_flags(
        dir.path().join("herald.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let now_ms = now.as_millisecond();
    let day = 86_400_000i64;
    let customer = "source_id NOT IN (SELECT id FROM sources WHERE name = 'segments')";
    let by_sql = |query: String| -> BTreeSet<i64> {
        let mut stmt = sql.prepare(&query).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let by_herald = |name: &str| -> BTreeSet<i64> {
        let mut stmt = sql
            .prepare("SELECT profile_id FROM segment_members WHERE segment = ?1")
            .unwrap();
        stmt.query_map([name], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let window = |days: i64| format!("ts > {} AND ts <= {now_ms}", now_ms - days * day);
    let cases = [
        (
            "frequent_buyers",
            format!("SELECT profile_id FROM events WHERE name = 'Order Completed' AND {} GROUP BY profile_id HAVING count(*) >= 3", window(90)),
        ),
        (
            "high_value_buyers",
            format!("SELECT profile_id FROM events WHERE name = 'Order Completed' AND {} GROUP BY profile_id HAVING sum(json_extract(body, '$.properties.revenue')) >= 500", window(365)),
        ),
        (
            "lapsed_buyers",
            format!("SELECT profile_id FROM events WHERE name = 'Order Completed' AND ts <= {now_ms} GROUP BY profile_id HAVING sum({}) = 0", window(90)),
        ),
        (
            "passive_engagers",
            format!("SELECT profile_id FROM events WHERE name IN ('Email Opened', 'Email Link Clicked') AND {} GROUP BY profile_id HAVING sum(name = 'Email Opened') >= 1 AND sum(name = 'Email Link Clicked') = 0", window(30)),
        ),
        (
            "ctr_shoes",
            format!("SELECT DISTINCT profile_id FROM events WHERE name = 'Email Link Clicked' AND instr(json_extract(body, '$.properties.link_url'), '/shoes') > 0 AND {}", window(30)),
        ),
        (
            "cart_abandoners",
            format!("SELECT a.profile_id FROM (SELECT profile_id, max(ts) AS t FROM events WHERE name = 'Product Added' AND ts <= {now_ms} GROUP BY profile_id) a
                     WHERE a.t > {} AND {now_ms} - a.t > 3600000
                     AND NOT EXISTS (SELECT 1 FROM events o WHERE o.profile_id = a.profile_id AND o.name = 'Order Completed' AND o.ts >= a.t AND o.ts <= {now_ms})", now_ms - 7 * day),
        ),
        (
            "churn_risk",
            format!("SELECT profile_id FROM events WHERE {customer} AND ts <= {now_ms} GROUP BY profile_id HAVING sum(name = 'Order Completed') >= 2 AND sum({}) = 0", window(45)),
        ),
        (
            "mid_users",
            format!("SELECT profile_id FROM events WHERE name = 'Feature Used' AND {} GROUP BY profile_id HAVING count(*) BETWEEN 5 AND 19", window(30)),
        ),
    ];
    let mut nonempty = 0;
    for (name, query) in cases {
        let expected = by_sql(query);
        assert_eq!(by_herald(name), expected, "segment {name}");
        nonempty += usize::from(!expected.is_empty());
    }
    assert!(
        nonempty >= 6,
        "the generated shop should populate most of these segments"
    );
    store.close().await.unwrap();
}
