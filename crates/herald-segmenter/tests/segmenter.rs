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

/// Sizes, entering and leaving counts of a plan's preview, by segment.
fn summary(preview: &herald_segmenter::Preview) -> Vec<(String, u64, u64, u64)> {
    preview
        .segments
        .iter()
        .map(|s| (s.name.clone(), s.after, s.entering, s.leaving))
        .collect()
}

/// Backfills replay the segmenter's in-memory copy of the log. Kept up to date while the
/// segmenter follows new events and merges, it must give exactly what a copy built afresh from
/// the store gives, and exactly the memberships maintained incrementally meanwhile.
#[tokio::test]
async fn the_replay_log_kept_while_following_equals_one_built_afresh() {
    let (_dir, store) = new_store();
    let end: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let opts = herald_generate::Options::new(300, 90, 17, end);
    let lines: Vec<String> = herald_generate::Generator::new(&opts).collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    for chunk in first.chunks(2000) {
        append(&store, chunk).await;
    }
    let now = end + SignedDuration::from_hours(1);
    let mut seg = Segmenter::load(store.clone(), now).await.unwrap();
    let plan = seg.plan(library::library(), now).await.unwrap();
    seg.apply(plan, now).await.unwrap();
    assert!(seg.replay_log_size().is_some(), "the backfill built it");

    // More history arrives, including a merge of an anonymous device into a known buyer.
    for chunk in second.chunks(2000) {
        append(&store, chunk).await;
    }
    let device = |id: &str, at: Timestamp| {
        format!(
            r#"{{"type":"track","anonymousId":"device-x","messageId":"{id}","event":"Order Completed","properties":{{"revenue":700}},"timestamp":"{at}"}}"#
        )
    };
    append(
        &store,
        &[
            device("d1", end - DAY),
            device("d2", end - DAY * 2),
            order("ada", "ada-1", end - DAY * 3),
            format!(
                r#"{{"type":"alias","previousId":"device-x","userId":"ada","timestamp":"{end}"}}"#
            ),
        ],
    )
    .await;
    seg.catch_up(now).await.unwrap();
    let (messages, _) = seg.replay_log_size().unwrap();
    let stored = store.stats().await.unwrap();
    assert!(messages > 0, "{stored:?}");

    // The same definitions again at the same instant: nothing enters or leaves, so replaying the
    // maintained copy agrees with the incremental states profile by profile.
    let kept = seg.plan(library::library(), now).await.unwrap();
    for s in &kept.preview.segments {
        assert_eq!((s.entering, s.leaving), (0, 0), "segment {}", s.name);
    }
    assert!(kept.preview.segments.iter().any(|s| s.after > 0));
    let ada = store.resolve("ada").await.unwrap().unwrap();
    let high_value = kept
        .preview
        .segments
        .iter()
        .find(|s| s.name == "high_value_buyers")
        .unwrap();
    assert!(high_value.after > 0);
    assert!(
        seg.state(ada).is_some_and(|s| seg
            .program()
            .members(s)
            .any(|i| seg.program().segments()[i.index()].as_str() == "high_value_buyers")),
        "the merged device's orders count for ada"
    );

    // A segmenter loaded afresh builds its copy from the store: the same figures.
    let mut fresh = Segmenter::load(store.clone(), now).await.unwrap();
    let rebuilt = fresh.plan(library::library(), now).await.unwrap();
    assert_eq!(summary(&rebuilt.preview), summary(&kept.preview));
    assert_eq!(
        fresh.replay_log_size().unwrap().0,
        seg.replay_log_size().unwrap().0
    );
    store.close().await.unwrap();
}

/// A definition that reads a property the copy of the log does not keep makes the next backfill
/// scan the store again, keeping both the old and the new values.
#[tokio::test]
async fn a_rule_on_a_new_property_rebuilds_the_replay_log() {
    let (_dir, store) = new_store();
    let t0: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    let viewed = |user: &str, id: &str, price: f64| {
        format!(
            r#"{{"type":"track","userId":"{user}","messageId":"{id}","event":"Product Viewed","properties":{{"product_id":"p1","price":{price}}},"timestamp":"{t0}"}}"#
        )
    };
    append(
        &store,
        &[
            viewed("ada", "v1", 250.0),
            viewed("bob", "v2", 20.0),
            order("bob", "o1", t0),
        ],
    )
    .await;
    let now = t0 + DAY;
    let mut seg = Segmenter::load(store.clone(), now).await.unwrap();
    let base = "segment buyers\n  count(\"Order Completed\") >= 1\n";
    let plan = seg.plan(defs(base), now).await.unwrap();
    seg.apply(plan, now).await.unwrap();
    let pricey = format!(
        "{base}segment pricey\n  count(\"Product Viewed\" where price >= 100) in last 7 days >= 1\n"
    );
    let plan = seg.plan(defs(&pricey), now).await.unwrap();
    let after = |name: &str| {
        plan.preview
            .segments
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.after, s.entering))
            .unwrap()
    };
    assert_eq!(after("pricey"), (1, 1));
    assert_eq!(after("buyers"), (1, 0));
    seg.apply(plan, now).await.unwrap();
    assert_eq!(members(&store, "pricey").await, ["ada"]);
    store.close().await.unwrap();
}

/// An erasure leaves nothing of the person in the copy of the log: it is dropped and rebuilt.
#[tokio::test]
async fn an_erasure_drops_the_replay_log() {
    let (_dir, store) = new_store();
    let t0: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    append(&store, &[order("ada", "o1", t0), order("bob", "o2", t0)]).await;
    let now = t0 + DAY;
    let mut seg = Segmenter::load(store.clone(), now).await.unwrap();
    let recent = defs("segment recent_buyers\n  count(\"Order Completed\") in last 30 days >= 1");
    let plan = seg.plan(recent.clone(), now).await.unwrap();
    seg.apply(plan, now).await.unwrap();
    assert_eq!(seg.replay_log_size().unwrap().0, 2);
    store.erase("ada").await.unwrap().unwrap();
    seg.catch_up(now).await.unwrap();
    assert_eq!(seg.replay_log_size(), None);
    let plan = seg.plan(recent, now).await.unwrap();
    assert_eq!(seg.replay_log_size().unwrap().0, 1);
    assert_eq!(plan.preview.segments[0].after, 1);
    store.close().await.unwrap();
}

/// States stored by another program (another Herald, or definitions compiled in another order)
/// are recomputed on load, and compared with the stored memberships: nobody re-enters.
#[tokio::test]
async fn states_of_another_program_are_recomputed_without_recording_changes_again() {
    let (dir, store) = new_store();
    let t0: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    append(&store, &[order("ada", "o1", t0)]).await;
    let mut seg = Segmenter::load(store.clone(), t0).await.unwrap();
    let two = "segment recent_buyers\n  count(\"Order Completed\") in last 30 days >= 1\n\
               segment buyers\n  count(\"Order Completed\") >= 1\n";
    let plan = seg.plan(defs(two), t0).await.unwrap();
    seg.apply(plan, t0).await.unwrap();
    drop(seg);
    store.close().await.unwrap();
    rusqlite::Connection::open(dir.path().join("herald.db"))
        .unwrap()
        .execute(
            "UPDATE counters SET value = 12345 WHERE name = 'segment_program'",
            [],
        )
        .unwrap();

    let store = Arc::new(SqliteStore::open(dir.path(), Access::ReadWrite).unwrap());
    let seg = Segmenter::load(store.clone(), t0 + DAY).await.unwrap();
    assert_ne!(seg.cursor().program, 12345);
    assert_eq!(members(&store, "recent_buyers").await, ["ada"]);
    assert_eq!(members(&store, "buyers").await, ["ada"]);
    let ada = store.profile_events("ada", 20).await.unwrap().unwrap();
    let entered = ada
        .iter()
        .filter(|e| e.name.as_deref() == Some("Segment Entered"))
        .count();
    assert_eq!(entered, 2, "one entry per segment, recorded once");
    store.close().await.unwrap();
}
