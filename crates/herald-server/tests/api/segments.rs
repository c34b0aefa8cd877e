use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

fn ago(days: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days)).to_string()
}

fn order(user: &str, days_ago: i64, n: usize) -> Value {
    json!({"type": "track", "userId": user, "event": "Order Completed",
           "messageId": format!("{user}-order-{n}"),
           "properties": {"revenue": 100}, "timestamp": ago(days_ago)})
}

impl TestApp {
    pub async fn put_text(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "text/plain")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn members(&self, name: &str) -> Vec<String> {
        let v = self.json(&format!("/api/v1/segments/{name}/members")).await;
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn define_list_members_and_follow_live_events() {
    let app = spawn_app().await;
    let batch = json!({"batch": [order("ada", 3, 1), order("ada", 10, 2), order("ada", 40, 3), order("bob", 5, 1)]});
    assert_eq!(app.post("/v1/batch", batch.to_string()).await.status(), 200);

    let r = app
        .put_text(
            "/api/v1/segments/frequent_buyers",
            r#"count("Order Completed") in last 90 days >= 3"#,
        )
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["applied"], true);
    assert_eq!(answer["preview"]["segments"][0]["name"], "frequent_buyers");
    assert_eq!(answer["preview"]["segments"][0]["entering"], 1);
    assert_eq!(app.members("frequent_buyers").await, ["ada"]);

    let list = app.json("/api/v1/segments").await;
    assert_eq!(list["segments"][0]["name"], "frequent_buyers");
    assert_eq!(list["segments"][0]["size"], 1);
    assert!(
        list["segments"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Order Completed")
    );

    // Two more orders make bob a member, without anyone asking for a recomputation.
    let more = json!({"batch": [order("bob", 1, 2), order("bob", 0, 3)]});
    assert_eq!(app.post("/v1/batch", more.to_string()).await.status(), 200);
    let mut members = Vec::new();
    for _ in 0..100 {
        members = app.members("frequent_buyers").await;
        if members.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(members, ["ada", "bob"]);
    let segs = app.json("/api/v1/profiles/bob/segments").await;
    assert_eq!(segs[0]["segment"], "frequent_buyers");
    let events = app.json("/api/v1/profiles/bob/events").await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "Segment Entered"
                && e["properties"]["segment"] == "frequent_buyers"),
        "{events}"
    );

    let why = app
        .json("/api/v1/segments/frequent_buyers/explain/bob")
        .await;
    assert!(why.is_object(), "{why}");

    // The JSON form works too, and a dry run changes nothing.
    let def = json!({"condition": {"type": "trait", "path": "plan", "test": {"value": {"op": "eq", "value": "trial"}}}});
    let r = app
        .client
        .put(app.url("/api/v1/segments/trial_users?dry_run=true"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&def)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["applied"], false);
    assert_eq!(
        app.json("/api/v1/segments").await["segments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let r = app
        .client
        .delete(app.url("/api/v1/segments/frequent_buyers"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_error(
        app.admin_get("/api/v1/segments/frequent_buyers").await,
        404,
        "not_found",
    )
    .await;
    assert!(
        app.json("/api/v1/profiles/bob/segments")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn bad_definitions_are_refused_with_their_position() {
    let app = spawn_app().await;
    let r = app
        .put_text(
            "/api/v1/segments/broken",
            "count(\"Order Completed\") in last 90 daze >= 3",
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_definition");
    assert!(
        body["message"].as_str().unwrap().contains("column"),
        "{body}"
    );

    let r = app
        .put_text("/api/v1/segments/Bad-Name", "trait plan = \"x\"")
        .await;
    assert_error(r, 400, "invalid_definition").await;
    let r = app
        .put_text("/api/v1/segments/a", "segment b\n  trait plan = \"x\"")
        .await;
    assert_error(r, 400, "invalid_definition").await;
    let r = app
        .put_text("/api/v1/segments/a", "in segment nowhere")
        .await;
    assert_error(r, 400, "invalid_definition").await;
    let r = app
        .client
        .put(app.url("/api/v1/segments/a"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{\"condition\": 3}")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_definition").await;
    // Nothing was stored by any of these.
    assert!(
        app.json("/api/v1/segments").await["segments"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_error(
        app.admin_get("/api/v1/segments/nope/members").await,
        404,
        "not_found",
    )
    .await;
    let r = app
        .client
        .put(app.url("/api/v1/segments/a"))
        .body("trait plan = \"x\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
