use crate::helpers::*;
use serde_json::{Value, json};

async fn seed(app: &TestApp) {
    let body = json!({"batch": [
        {"type": "page", "anonymousId": "anon-1", "name": "Home", "timestamp": "2024-03-01T10:00:00Z"},
        {"type": "track", "anonymousId": "anon-1", "event": "Product Viewed", "properties": {"product_id": "p1"}, "timestamp": "2024-03-01T10:01:00Z"},
        {"type": "identify", "anonymousId": "anon-1", "userId": "ada", "traits": {"email": "ada@example.com", "plan": "trial"}, "timestamp": "2024-03-01T10:02:00Z"},
        {"type": "track", "userId": "ada", "event": "Order Completed", "properties": {"revenue": 42.5}, "timestamp": "2024-03-02T09:00:00Z"},
        {"type": "track", "userId": "grace", "event": "Signed Up", "timestamp": "2024-03-03T09:00:00Z"},
    ]});
    assert_eq!(app.post("/v1/batch", body.to_string()).await.status(), 200);
}

#[tokio::test]
async fn profile_shows_ids_traits_counts_and_times() {
    let app = spawn_app().await;
    seed(&app).await;
    let p = app.json("/api/v1/profiles/ada").await;
    assert_eq!(p["user_id"], "ada");
    assert_eq!(p["anonymous_ids"], json!(["anon-1"]));
    assert_eq!(
        p["traits"],
        json!({"email": "ada@example.com", "plan": "trial"})
    );
    assert_eq!(p["event_count"], 4);
    assert_eq!(p["first_seen"], "2024-03-01T10:00:00Z");
    assert_eq!(p["last_seen"], "2024-03-02T09:00:00Z");
    // The anonymous id finds the same person.
    assert_eq!(app.json("/api/v1/profiles/anon-1").await["id"], p["id"]);
}

#[tokio::test]
async fn events_newest_first_with_a_limit() {
    let app = spawn_app().await;
    seed(&app).await;
    let v = app.json("/api/v1/profiles/ada/events?limit=2").await;
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event"], "Order Completed");
    assert_eq!(events[0]["type"], "track");
    assert_eq!(events[1]["type"], "identify");
    assert!(events[0]["messageId"].as_str().is_some());
    assert!(events[0]["receivedAt"].as_str().is_some());
    for bad in [
        "limit=abc",
        "limit=0",
        "limit=-1",
        "limit=1000000",
        "colour=red",
    ] {
        let r = app
            .admin_get(&format!("/api/v1/profiles/ada/events?{bad}"))
            .await;
        assert_error(r, 400, "invalid_query").await;
    }
}

#[tokio::test]
async fn unknown_people_and_missing_tokens() {
    let app = spawn_app().await;
    seed(&app).await;
    for path in [
        "/api/v1/profiles/nobody",
        "/api/v1/profiles/nobody/events",
        "/api/v1/profiles/nobody/export",
    ] {
        assert_error(app.admin_get(path).await, 404, "not_found").await;
    }
    let r = app
        .client
        .get(app.url("/api/v1/profiles/ada"))
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    let r = app
        .client
        .get(app.url("/api/v1/profiles/ada"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
}

#[tokio::test]
async fn export_then_erase_then_later_events_are_dropped() {
    let app = spawn_app().await;
    seed(&app).await;
    let export = app.json("/api/v1/profiles/ada/export").await;
    assert_eq!(export["profile"]["user_id"], "ada");
    assert_eq!(export["events"].as_array().unwrap().len(), 4);
    assert_eq!(export["events"][0]["type"], "page", "oldest first");

    let r = app
        .client
        .delete(app.url("/api/v1/profiles/anon-1"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let erased: Value = r.json().await.unwrap();
    assert_eq!(erased["events_deleted"], 4);
    assert_eq!(erased["ids_suppressed"], 2);
    assert_error(
        app.admin_get("/api/v1/profiles/ada").await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.json("/api/v1/stats").await,
        json!({"events": 1, "profiles": 1})
    );

    // Ada's SDK keeps sending: accepted (so it stops retrying) but dropped and counted.
    let r = app
        .post(
            "/v1/track",
            json!({"userId": "ada", "event": "Ghost"}).to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.json("/api/v1/stats").await,
        json!({"events": 1, "profiles": 1})
    );
    assert_error(
        app.admin_get("/api/v1/profiles/ada").await,
        404,
        "not_found",
    )
    .await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("herald_events_dropped_erased_total"));
    let r = app
        .client
        .delete(app.url("/api/v1/profiles/ada"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    for path in [
        "/v1/batch",
        "/v1/track",
        "/api/v1/profiles/{id}",
        "/api/v1/profiles/{id}/events",
        "/api/v1/stats",
    ] {
        assert!(doc["paths"].get(path).is_some(), "missing {path}");
    }
}

#[tokio::test]
async fn graceful_stop_keeps_everything_acknowledged() {
    let app = spawn_app().await;
    seed(&app).await;
    let dir = app.stop().await;
    let store =
        herald_store_sqlite::SqliteStore::open(dir.path(), herald_store_sqlite::Access::ReadWrite)
            .unwrap();
    let stats = herald_store::Store::stats(&store).await.unwrap();
    assert_eq!((stats.events, stats.profiles), (5, 2));
}
