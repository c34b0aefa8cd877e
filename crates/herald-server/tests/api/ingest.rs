use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn batch_keeps_valid_events_and_lists_the_rest() {
    let app = spawn_app().await;
    let body = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"revenue": 10}, "messageId": "m1"},
        {"type": "track", "event": "No Id"},
        {"type": "track", "userId": "u1", "event": "Bad Time", "timestamp": "2024-02-30T00:00:00Z"},
        {"type": "explode", "userId": "u1"},
        {"type": "identify", "userId": 5.5},
        {"type": "page", "anonymousId": "a1", "name": "Home"},
    ]});
    let r = app.post("/v1/batch", body.to_string()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(v["accepted"], 2);
    let rejected: Vec<(u64, String)> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (1, "missing_id".into()),
            (2, "bad_timestamp".into()),
            (3, "unknown_type".into()),
            (4, "wrong_type".into())
        ]
    );
    assert_eq!(
        app.json("/api/v1/stats").await,
        json!({"events": 2, "profiles": 2})
    );
}

#[tokio::test]
async fn single_endpoints_and_import_alias() {
    let app = spawn_app().await;
    for (path, body) in [
        (
            "/v1/identify",
            json!({"userId": "u1", "traits": {"email": "u1@example.com"}}),
        ),
        ("/v1/track", json!({"userId": "u1", "event": "Signed Up"})),
        ("/v1/page", json!({"userId": "u1", "name": "Pricing"})),
        ("/v1/screen", json!({"userId": "u1", "name": "Home"})),
        (
            "/v1/group",
            json!({"userId": "u1", "groupId": "acme", "traits": {"plan": "enterprise"}}),
        ),
        (
            "/v1/alias",
            json!({"userId": "u1", "previousId": "legacy-7"}),
        ),
    ] {
        let r = app.post(path, body.to_string()).await;
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = app
        .post(
            "/v1/import",
            json!({"batch": [{"type": "track", "userId": "u1", "event": "X"}]}).to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p = app.json("/api/v1/profiles/legacy-7").await;
    assert_eq!(p["user_id"], "u1");
    assert_eq!(p["event_count"], 7);
    assert_eq!(p["groups"], json!(["acme"]));
    assert_error(
        app.post("/v1/track", json!({"userId": "u1"}).to_string())
            .await,
        400,
        "missing_field",
    )
    .await;
    assert_error(
        app.post(
            "/v1/track",
            json!({"userId": "u1", "type": "page"}).to_string(),
        )
        .await,
        400,
        "wrong_type",
    )
    .await;
}

#[tokio::test]
async fn write_key_in_header_or_body_and_nothing_else() {
    let app = spawn_app().await;
    let event = json!({"type": "track", "userId": "u", "event": "E"});
    // In the body.
    let r = app
        .client
        .post(app.url("/v1/batch"))
        .body(json!({"writeKey": WRITE_KEY, "batch": [event]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Missing, wrong, malformed.
    let r = app
        .client
        .post(app.url("/v1/batch"))
        .body(json!({"batch": [event]}).to_string())
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    let r = app
        .client
        .post(app.url("/v1/batch"))
        .basic_auth("wrong", Some(""))
        .body(json!({"batch": [event]}).to_string())
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    let r = app
        .client
        .post(app.url("/v1/track"))
        .header("authorization", "Basic !!!notbase64")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    // The admin token is not a write key, and the write key is not an admin token.
    let r = app
        .client
        .post(app.url("/v1/track"))
        .basic_auth(ADMIN_TOKEN, Some(""))
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    let r = app
        .client
        .get(app.url("/api/v1/stats"))
        .bearer_auth(WRITE_KEY)
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    assert_eq!(app.json("/api/v1/stats").await["events"], 1);
}

#[tokio::test]
async fn whole_request_refusals_lose_nothing_already_stored() {
    let app = spawn_app().await;
    let ok = app
        .post(
            "/v1/track",
            json!({"userId": "u", "event": "Kept"}).to_string(),
        )
        .await;
    assert_eq!(ok.status(), 200);

    assert_error(
        app.post("/v1/batch", "{\"batch\": [").await,
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        app.post("/v1/batch", vec![b'{', 0xff, 0xfe, b'}']).await,
        400,
        "invalid_json",
    )
    .await;
    assert_error(app.post("/v1/batch", "[1,2]").await, 400, "invalid_json").await;
    assert_error(
        app.post("/v1/batch", json!({"batch": "nope"}).to_string())
            .await,
        400,
        "wrong_type",
    )
    .await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_error(app.post("/v1/batch", deep).await, 400, "invalid_json").await;
    let big = json!({"batch": [], "pad": "x".repeat(600 * 1024)}).to_string();
    assert_error(app.post("/v1/batch", big).await, 400, "body_too_large").await;
    let big_event =
        json!({"userId": "u", "event": "E", "properties": {"pad": "x".repeat(40 * 1024)}})
            .to_string();
    assert_error(
        app.post("/v1/track", big_event).await,
        400,
        "event_too_large",
    )
    .await;

    assert_eq!(app.json("/api/v1/stats").await["events"], 1);
    let events = app.json("/api/v1/profiles/u/events").await;
    assert_eq!(events["events"][0]["event"], "Kept");
}

#[tokio::test]
async fn gzip_bodies_and_gzip_bombs() {
    let app = spawn_app().await;
    let events: Vec<Value> =
        (0..500).map(|i| json!({"type": "track", "userId": format!("u{}", i % 10), "event": "Gz", "messageId": format!("gz-{i}")})).collect();
    let body = gzip(json!({"batch": events}).to_string().as_bytes());
    let r = app.post_encoded("/v1/batch", "gzip", body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 500);

    // 50 MB of zeros in ~50 KB: refused while inflating.
    let bomb = gzip(&vec![b' '; 50 * 1024 * 1024]);
    assert!(bomb.len() < 500 * 1024);
    let r = app.post_encoded("/v1/batch", "gzip", bomb).await;
    assert_error(r, 400, "body_too_large").await;

    let r = app
        .post_encoded("/v1/batch", "gzip", "not gzip at all")
        .await;
    assert_error(r, 400, "invalid_encoding").await;
    let r = app.post_encoded("/v1/batch", "br", "x").await;
    assert_error(r, 415, "unsupported_encoding").await;
    assert_eq!(app.json("/api/v1/stats").await["events"], 500);
}

#[tokio::test]
async fn retried_batches_are_stored_once_across_restarts() {
    let app = spawn_app().await;
    let body = json!({"batch": [
        {"type": "track", "userId": "u", "event": "A", "messageId": "same-1"},
        {"type": "track", "userId": "u", "event": "B", "messageId": "same-2"},
    ]})
    .to_string();
    let v: Value = app
        .post("/v1/batch", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let v: Value = app
        .post("/v1/batch", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(app.json("/api/v1/stats").await["events"], 2);
}

#[tokio::test]
async fn clock_skew_is_corrected_with_sent_at() {
    let app = spawn_app().await;
    // The device clock runs one day fast: sentAt and timestamp are both a day ahead.
    let now = jiff::Timestamp::now();
    let ahead = now
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap();
    let happened = ahead
        .checked_sub(jiff::SignedDuration::from_secs(60))
        .unwrap();
    let body = json!({"sentAt": ahead.to_string(), "batch": [
        {"type": "track", "userId": "skew", "event": "E", "timestamp": happened.to_string()}
    ]});
    assert_eq!(app.post("/v1/batch", body.to_string()).await.status(), 200);
    let events = app.json("/api/v1/profiles/skew/events").await;
    let ts: jiff::Timestamp = events["events"][0]["timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let off = (ts.as_second() - (now.as_second() - 60)).abs();
    assert!(
        off <= 5,
        "corrected timestamp {ts} should be about a minute before {now}"
    );
    assert_eq!(
        events["events"][0]["originalTimestamp"],
        happened.to_string()
    );
}

#[tokio::test]
async fn health_metrics_and_unknown_routes() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.post(
        "/v1/track",
        json!({"userId": "u", "event": "E"}).to_string(),
    )
    .await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "herald_events_ingested_total",
        "herald_commit_seconds",
        "herald_events_duplicate_total",
    ] {
        assert!(text.contains(name), "missing {name} in:\n{text}");
    }
    assert_error(
        app.client.get(app.url("/v2/nothing")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.client.get(app.url("/v1/batch")).send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
}
