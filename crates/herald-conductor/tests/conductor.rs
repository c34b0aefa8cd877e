//! The conductor over a real SQLite store: journeys driven by ingested events, by the segment
//! engine's membership changes and by time; restarts; idempotent sends.

use herald_conductor::Conductor;
use herald_core::credentials::Secret;
use herald_core::parse::parse_line;
use herald_core::{SourceId, Timestamp};
use herald_journeys::{lang, library};
use herald_segmenter::Segmenter;
use herald_store::{NewStore, OutboxStatus, Store};
use herald_store_sqlite::{Access, SqliteStore};
use jiff::SignedDuration;
use jiff::tz::TimeZone;
use std::sync::Arc;
use tempfile::TempDir;

const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);

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

/// Appends messages as if received at `at`.
async fn append(store: &SqliteStore, lines: &[String], at: Timestamp) {
    let source: SourceId = store.source_for_write_key("wk").await.unwrap().unwrap();
    let mut n = 0;
    let messages = lines
        .iter()
        .map(|l| {
            parse_line(l, at, &mut || {
                n += 1;
                format!("gen-{n}-{}-{}", l.len(), at.as_millisecond())
            })
            .unwrap()
        })
        .collect();
    store.append(source, messages).await.unwrap();
}

fn track(user: &str, event: &str, props: &str, at: Timestamp) -> String {
    format!(
        r#"{{"type":"track","userId":"{user}","event":"{event}","properties":{props},"timestamp":"{at}"}}"#
    )
}

async fn outbox(store: &SqliteStore) -> Vec<(String, String, OutboxStatus)> {
    let ids: std::collections::HashMap<_, _> = {
        let all = store.outbox(0, 10_000, None).await.unwrap();
        store
            .display_ids(all.iter().map(|m| m.profile).collect())
            .await
            .unwrap()
            .into_iter()
            .collect()
    };
    store
        .outbox(0, 10_000, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (ids[&m.profile].clone(), m.template, m.status))
        .collect()
}

/// Lets time pass to `until` as the live service does: waking at each due instant.
async fn pass_time(conductor: &mut Conductor, store: &SqliteStore, until: Timestamp) {
    while let Some(due) = store.next_journey_due().await.unwrap() {
        if due > until {
            break;
        }
        conductor.catch_up(due).await.unwrap();
    }
    conductor.catch_up(until).await.unwrap();
}

fn t0() -> Timestamp {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn events_and_time_move_journeys_and_a_restart_sends_nothing_twice() {
    let (dir, store) = new_store();
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let doc = lang::parse(library::TEXT).unwrap();
    // Applied before the events arrive, so they trigger it.
    conductor.apply(&doc, false, t0() - HOUR).await.unwrap();
    append(
        &store,
        &[
            track("ada", "Signed Up", "{}", t0()),
            track("bob", "Product Added", r#"{"cart_id":"c1"}"#, t0()),
        ],
        t0(),
    )
    .await;
    conductor.catch_up(t0()).await.unwrap();
    assert_eq!(
        outbox(&store).await,
        [(
            "ada".to_owned(),
            "welcome_1".to_owned(),
            OutboxStatus::Queued
        )]
    );
    assert_eq!(
        store.next_journey_due().await.unwrap(),
        Some(t0() + HOUR),
        "bob's cart check"
    );
    conductor.catch_up(t0() + HOUR * 2).await.unwrap();
    assert_eq!(outbox(&store).await.len(), 2, "abandoned_cart_1 for bob");

    // A restart resumes from the commit: nothing is sent again, the waits continue.
    let cursor = conductor.cursor();
    drop(conductor);
    store.close().await.unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), Access::ReadWrite).unwrap());
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    assert_eq!(conductor.cursor(), cursor);
    conductor.catch_up(t0() + HOUR * 2).await.unwrap();
    assert_eq!(outbox(&store).await.len(), 2);
    pass_time(&mut conductor, &store, t0() + DAY * 6).await;
    let templates: Vec<String> = outbox(&store).await.into_iter().map(|m| m.1).collect();
    assert_eq!(
        templates,
        [
            "welcome_1",
            "abandoned_cart_1",
            "abandoned_cart_2",
            "welcome_2",
            "welcome_3"
        ]
    );
    // Bob's cart instance has sent everything but waits out its goal's 7 days.
    let waiting = store.journey_waiting().await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].journey, "abandoned_cart");
    pass_time(&mut conductor, &store, t0() + DAY * 8).await;
    let waiting = store.journey_waiting().await.unwrap();
    assert!(waiting.is_empty(), "{waiting:?}");
    let counts = store.journey_step_counts().await.unwrap();
    let entered: u64 = counts
        .iter()
        .filter(|c| c.action == "enter")
        .map(|c| c.count)
        .sum();
    assert_eq!(entered, 2);
    store.close().await.unwrap();
}

#[tokio::test]
async fn history_from_before_a_journey_went_live_does_not_trigger_it() {
    let (_dir, store) = new_store();
    append(&store, &[track("ada", "Signed Up", "{}", t0())], t0()).await;
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let doc = lang::parse(library::TEXT).unwrap();
    conductor.apply(&doc, false, t0() + HOUR).await.unwrap();
    conductor.catch_up(t0() + HOUR).await.unwrap();
    assert!(outbox(&store).await.is_empty());
    append(
        &store,
        &[track("bea", "Signed Up", "{}", t0() + HOUR * 2)],
        t0() + HOUR * 2,
    )
    .await;
    conductor.catch_up(t0() + HOUR * 2).await.unwrap();
    assert_eq!(outbox(&store).await.len(), 1);
    store.close().await.unwrap();
}

#[tokio::test]
async fn segment_changes_start_journeys_and_set_trait_reaches_the_profile() {
    let (_dir, store) = new_store();
    let segs = herald_segments::lang::parse(
        "segment inactive_subscribers\n  count(\"Email Delivered\") >= 1\n  and count(\"Email Opened\") in last 60 days = 0\n",
    )
    .unwrap();
    let mut segmenter = Segmenter::load(store.clone(), t0()).await.unwrap();
    let plan = segmenter.plan(segs, t0()).await.unwrap();
    segmenter.apply(plan, t0()).await.unwrap();
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let mut doc = lang::parse(library::TEXT).unwrap();
    doc.journeys.retain(|j| j.name.as_str() == "reengagement");
    conductor.apply(&doc, false, t0()).await.unwrap();

    append(
        &store,
        &[track("ada", "Email Delivered", "{}", t0())],
        t0() + HOUR,
    )
    .await;
    segmenter.catch_up(t0() + HOUR).await.unwrap();
    conductor.catch_up(t0() + HOUR).await.unwrap();
    assert_eq!(
        outbox(&store).await,
        [(
            "ada".to_owned(),
            "winback_offer".to_owned(),
            OutboxStatus::Queued
        )]
    );
    pass_time(&mut conductor, &store, t0() + DAY * 20).await;
    assert_eq!(outbox(&store).await.len(), 2);
    let ada = store.profile("ada").await.unwrap().unwrap();
    assert_eq!(
        ada.traits.get("email_sunset"),
        Some(&serde_json::json!(true))
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn caps_count_sends_already_in_the_outbox() {
    let (_dir, store) = new_store();
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let doc = lang::parse(
        "rules\n  cap email marketing 2 per 7 days\nend\njourney promo\n  on \"Ping\"\ndo\n  send email promo\nend\n",
    )
    .unwrap();
    conductor.apply(&doc, false, t0() - HOUR).await.unwrap();
    for i in 0..3 {
        let at = t0() + DAY * i;
        append(&store, &[track("ada", "Ping", "{}", at)], at).await;
        // A fresh conductor each time: the count must come from the store.
        let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
        conductor.catch_up(at).await.unwrap();
    }
    let statuses: Vec<OutboxStatus> = outbox(&store).await.into_iter().map(|m| m.2).collect();
    assert_eq!(
        statuses,
        [
            OutboxStatus::Queued,
            OutboxStatus::Queued,
            OutboxStatus::Skipped
        ]
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn an_open_just_before_the_wait_ends_counts() {
    let (_dir, store) = new_store();
    let mut segmenter = Segmenter::load(store.clone(), t0()).await.unwrap();
    let plan = segmenter
        .plan(herald_segments::library::library(), t0())
        .await
        .unwrap();
    segmenter.apply(plan, t0()).await.unwrap();
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let mut doc = lang::parse(library::TEXT).unwrap();
    doc.journeys.retain(|j| j.name.as_str() == "reengagement");
    conductor.apply(&doc, false, t0()).await.unwrap();
    let steps = [
        (t0() + HOUR, "Email Delivered"),
        (
            t0() + HOUR + DAY * 7 - SignedDuration::from_mins(40),
            "Email Delivered",
        ),
        (
            t0() + HOUR + DAY * 7 - SignedDuration::from_mins(15),
            "Email Opened",
        ),
    ];
    for (at, name) in steps {
        pass_time(&mut conductor, &store, at - SignedDuration::from_millis(1)).await;
        append(&store, &[track("ada", name, "{}", at)], at).await;
        segmenter.catch_up(at).await.unwrap();
        conductor.catch_up(at).await.unwrap();
    }
    pass_time(&mut conductor, &store, t0() + DAY * 20).await;
    let templates: Vec<String> = outbox(&store).await.into_iter().map(|m| m.1).collect();
    assert_eq!(templates, ["winback_offer"]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_merge_moves_running_instances_to_the_surviving_profile() {
    let (_dir, store) = new_store();
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let mut doc = lang::parse(library::TEXT).unwrap();
    doc.journeys.retain(|j| j.name.as_str() == "abandoned_cart");
    conductor.apply(&doc, false, t0() - HOUR).await.unwrap();
    let device = |event: &str, props: &str, at: Timestamp| {
        format!(
            r#"{{"type":"track","anonymousId":"dev-1","event":"{event}","properties":{props},"timestamp":"{at}"}}"#
        )
    };
    append(&store, &[track("ada", "Signed Up", "{}", t0())], t0()).await;
    append(
        &store,
        &[device("Product Added", r#"{"cart_id":"c9"}"#, t0())],
        t0(),
    )
    .await;
    conductor.catch_up(t0()).await.unwrap();
    assert_eq!(store.journey_waiting().await.unwrap().len(), 1);
    // The device turns out to be ada's.
    let login = format!(
        r#"{{"type":"identify","userId":"ada","anonymousId":"dev-1","timestamp":"{}"}}"#,
        t0() + SignedDuration::from_mins(10)
    );
    append(&store, &[login], t0() + SignedDuration::from_mins(10)).await;
    conductor
        .catch_up(t0() + SignedDuration::from_mins(10))
        .await
        .unwrap();
    pass_time(&mut conductor, &store, t0() + HOUR * 2).await;
    assert_eq!(
        outbox(&store).await,
        [(
            "ada".to_owned(),
            "abandoned_cart_1".to_owned(),
            OutboxStatus::Queued
        )]
    );
    let ada = store.resolve("ada").await.unwrap().unwrap();
    assert!(!store.journey_states(vec![ada]).await.unwrap().is_empty());
    store.close().await.unwrap();
}

#[tokio::test]
async fn running_instances_move_to_a_new_version_only_when_migrated() {
    let (_dir, store) = new_store();
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let version = |template: &str, extra: &str| {
        lang::parse(&format!(
            "journey nudge\n  on \"Ping\"\ndo\n  wait 1 day\n  send email {template}\n{extra}end\n"
        ))
        .unwrap()
    };
    conductor
        .apply(&version("old", ""), false, t0() - HOUR)
        .await
        .unwrap();
    for (user, at) in [("ada", t0()), ("bob", t0() + SignedDuration::from_mins(1))] {
        append(&store, &[track(user, "Ping", "{}", at)], at).await;
    }
    conductor.catch_up(t0()).await.unwrap();
    // Version 2 sends another template; version 3 puts a branch where the wait was.
    conductor
        .apply(&version("new", ""), false, t0() + HOUR)
        .await
        .unwrap();
    let name = herald_journeys::ast::JourneyName::parse("nudge").unwrap();
    let dry = conductor.migrate(&name, true).await.unwrap();
    assert_eq!(dry.len(), 2);
    assert!(dry.iter().all(|m| m.moved && m.step == "steps[0]"));
    // A dry run changes nothing: migrate for real.
    let done = conductor.migrate(&name, false).await.unwrap();
    assert_eq!(done.len(), 2);
    assert!(conductor.migrate(&name, false).await.unwrap().is_empty());
    pass_time(&mut conductor, &store, t0() + DAY * 2).await;
    let templates: Vec<String> = outbox(&store).await.into_iter().map(|m| m.1).collect();
    assert_eq!(templates, ["new", "new"], "both moved to version 2");

    // A step of another kind at the same place: the instance stays on its version.
    append(
        &store,
        &[track("cy", "Ping", "{}", t0() + DAY * 3)],
        t0() + DAY * 3,
    )
    .await;
    conductor.catch_up(t0() + DAY * 3).await.unwrap();
    let branchy = lang::parse(
        "journey nudge\n  on \"Ping\"\ndo\n  if trait vip exists then\n    exit\n  end\n  send email newest\nend\n",
    )
    .unwrap();
    conductor
        .apply(&branchy, false, t0() + DAY * 3)
        .await
        .unwrap();
    let kept = conductor.migrate(&name, false).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].moved, "{kept:?}");
    assert!(kept[0].note.as_deref().unwrap().contains("same kind"));
    pass_time(&mut conductor, &store, t0() + DAY * 5).await;
    let templates: Vec<String> = outbox(&store).await.into_iter().map(|m| m.1).collect();
    assert_eq!(templates, ["new", "new", "new"], "cy finished on version 2");
    store.close().await.unwrap();
}

#[tokio::test]
async fn birthdays_set_before_the_journey_went_live_are_scheduled() {
    let (_dir, store) = new_store();
    let identify = format!(
        r#"{{"type":"identify","userId":"ada","traits":{{"birthday":"1990-03-05","timezone":"Europe/Paris"}},"timestamp":"{}"}}"#,
        t0() - DAY * 100
    );
    append(&store, &[identify], t0() - DAY * 100).await;
    let mut conductor = Conductor::load(store.clone(), TimeZone::UTC).await.unwrap();
    let doc = lang::parse(
        "journey birthday\n  on anniversary of birthday at 09:00\ndo\n  send email happy_birthday\nend\n",
    )
    .unwrap();
    conductor.apply(&doc, false, t0()).await.unwrap();
    let nine_in_paris: Timestamp = "2026-03-05T08:00:00Z".parse().unwrap();
    assert_eq!(store.next_journey_due().await.unwrap(), Some(nine_in_paris));
    pass_time(&mut conductor, &store, t0() + DAY * 5).await;
    assert_eq!(
        outbox(&store).await,
        [(
            "ada".to_owned(),
            "happy_birthday".to_owned(),
            OutboxStatus::Queued
        )]
    );
    store.close().await.unwrap();
}
