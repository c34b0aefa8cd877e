use crate::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const WELCOME: &str = "journey welcome\n  on \"Signed Up\"\n  entry once\ndo\n  send email welcome_1\n  wait 2 days\n  send email welcome_2\nend\n";

impl TestApp {
    async fn put_journey(&self, name: &str, content_type: &str, body: &str) -> reqwest::Response {
        self.client
            .put(self.url(&format!("/api/v1/journeys/{name}")))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// The outbox, waiting up to 5 s for at least `n` messages.
    async fn messages(&self, n: usize) -> Vec<Value> {
        let mut messages = Vec::new();
        for _ in 0..100 {
            let page = self.json("/api/v1/messages").await;
            messages = page["messages"].as_array().unwrap().clone();
            if messages.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        messages
    }
}

#[tokio::test]
async fn define_a_journey_and_see_live_events_reach_the_outbox() {
    let app = spawn_app().await;
    let r = app.put_journey("welcome", "text/plain", WELCOME).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["applied"], true);
    assert_eq!(answer["report"]["journeys"][0]["status"], "new");

    let signup = json!({"type": "track", "userId": "ada", "event": "Signed Up", "messageId": "s1"});
    assert_eq!(
        app.post("/v1/track", signup.to_string()).await.status(),
        200
    );
    let messages = app.messages(1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["template"], "welcome_1");
    assert_eq!(messages[0]["channel"], "email");
    assert_eq!(messages[0]["status"], "queued");
    assert_eq!(messages[0]["id"], "welcome.1.1.1.0");

    let one = app.json("/api/v1/journeys/welcome").await;
    assert_eq!(one["version"], 1);
    assert_eq!(one["active_instances"], 1);
    assert!(
        one["text"]
            .as_str()
            .unwrap()
            .contains("send email welcome_1")
    );
    let list = app.json("/api/v1/journeys").await;
    assert_eq!(list["journeys"].as_array().unwrap().len(), 1);

    // A changed definition is a new version; the JSON form works too.
    let mut definition = one["definition"].clone();
    definition["steps"][0]["send"]["template"] = json!("welcome_hello");
    definition.as_object_mut().unwrap().remove("name");
    let r = app
        .put_journey("welcome", "application/json", &definition.to_string())
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["report"]["journeys"][0]["version"], 2);
    let one = app.json("/api/v1/journeys/welcome").await;
    assert_eq!(one["versions"], json!([1, 2]));

    let page = app.json("/api/v1/messages?limit=1&profile=ada").await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert!(page["next"].is_u64());
    app.stop().await;
}

#[tokio::test]
async fn bad_journeys_and_queries_are_refused_with_reasons() {
    let app = spawn_app().await;
    let bad_step = "journey welcome\n  on \"Signed Up\"\ndo\n  sned email x\nend\n";
    let r = app.put_journey("welcome", "text/plain", bad_step).await;
    assert_error(r, 400, "invalid_definition").await;
    let r = app.put_journey("other", "text/plain", WELCOME).await;
    assert_error(r, 400, "invalid_definition").await;
    let r = app
        .put_journey("welcome", "application/json", "{\"trigger\":")
        .await;
    assert_error(r, 400, "invalid_definition").await;
    let r = app
        .put_journey(
            "welcome",
            "application/json",
            "{\"trigger\":\"api\",\"steps\":[],\"colour\":1}",
        )
        .await;
    assert_error(r, 400, "invalid_definition").await;
    let r = app.put_journey("Bad Name", "text/plain", WELCOME).await;
    assert_error(r, 400, "invalid_definition").await;
    let huge = "#".repeat(200 * 1024);
    let r = app.put_journey("welcome", "text/plain", &huge).await;
    assert_error(r, 400, "body_too_large").await;
    let r = app
        .client
        .put(app.url("/api/v1/journeys/welcome"))
        .body(WELCOME)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_error(
        app.admin_get("/api/v1/journeys/nope").await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.admin_get("/api/v1/messages?limit=0").await,
        400,
        "invalid_query",
    )
    .await;
    assert_error(
        app.admin_get("/api/v1/messages?colour=1").await,
        400,
        "invalid_query",
    )
    .await;
    assert_error(
        app.admin_get("/api/v1/messages?profile=nobody").await,
        404,
        "not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn enrolment_through_the_api() {
    let app = spawn_app().await;
    let onboarding = "journey onboarding\n  on api\n  entry once\ndo\n  if trigger plan = \"pro\" then\n    send email pro_welcome\n  else\n    send email welcome_1\n  end\nend\n";
    assert_eq!(
        app.put_journey("onboarding", "text/plain", onboarding)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.put_journey("welcome", "text/plain", WELCOME)
            .await
            .status(),
        200
    );
    let seen =
        json!({"type": "identify", "userId": "ada", "messageId": "i1", "traits": {"name": "Ada"}});
    assert_eq!(
        app.post("/v1/identify", seen.to_string()).await.status(),
        200
    );

    let enrol = |body: Value, journey: &'static str| {
        let request = app
            .client
            .post(app.url(&format!("/api/v1/journeys/{journey}/enrol")))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string());
        async move { request.send().await.unwrap() }
    };
    let r = enrol(
        json!({"userId": "ada", "properties": {"plan": "pro"}}),
        "onboarding",
    )
    .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    let actions: Vec<&str> = answer["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["enter", "branch", "send", "exit"]);
    assert_eq!(app.messages(1).await[0]["template"], "pro_welcome");

    // Entry once: a second enrolment is refused, and so are mistakes.
    let again = enrol(json!({"userId": "ada"}), "onboarding").await;
    assert_error(again, 409, "not_enrolled").await;
    assert_error(
        enrol(json!({"userId": "ada"}), "welcome").await,
        409,
        "not_enrolled",
    )
    .await;
    assert_error(
        enrol(json!({"userId": "nobody"}), "onboarding").await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        enrol(json!({"userId": "ada"}), "missing").await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        enrol(json!({"properties": {}}), "onboarding").await,
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        enrol(json!({"userId": 5}), "onboarding").await,
        400,
        "invalid_request",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn opens_and_clicks_become_events_and_only_signed_links_work() {
    use herald_core::links::{LinkKey, LinkPurpose, LinkToken};
    use herald_store::Store;
    let app = spawn_app().await;
    assert_eq!(
        app.put_journey("welcome", "text/plain", WELCOME)
            .await
            .status(),
        200
    );
    let signup = json!({"type": "track", "userId": "ada", "event": "Signed Up", "messageId": "s1"});
    assert_eq!(
        app.post("/v1/track", signup.to_string()).await.status(),
        200
    );
    let id = app.messages(1).await[0]["id"].as_str().unwrap().to_owned();
    let key = {
        let store = herald_store_sqlite::SqliteStore::open(
            app.dir.path(),
            herald_store_sqlite::Access::ReadOnly,
        )
        .unwrap();
        LinkKey::new(store.link_key().await.unwrap())
    };
    let token = |purpose, message: &str, url: Option<&str>| {
        key.sign(&LinkToken {
            purpose,
            message_id: message.to_owned(),
            link: url.map(|_| 0),
            url: url.map(str::to_owned),
        })
        .unwrap()
    };
    let no_redirects = crate::helpers::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let open = token(LinkPurpose::Open, &id, None);
    let r = no_redirects
        .get(app.url(&format!("/t/o/{open}")))
        .header("user-agent", "Mozilla/5.0 via ggpht.com GoogleImageProxy")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    let click = token(
        LinkPurpose::Click,
        &id,
        Some("https://shop.example/new?x=1"),
    );
    let r = no_redirects
        .get(app.url(&format!("/t/c/{click}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://shop.example/new?x=1");

    let events = app.json("/api/v1/profiles/ada/events").await;
    let events = events["events"].as_array().unwrap();
    let opened = events
        .iter()
        .find(|e| e["event"] == "Email Opened")
        .unwrap();
    assert_eq!(opened["properties"]["email_id"], json!(id));
    assert_eq!(opened["properties"]["campaign_id"], "welcome");
    assert_eq!(opened["properties"]["campaign_name"], "welcome_1");
    assert_eq!(opened["properties"]["machine"], true, "an image proxy");
    let clicked = events
        .iter()
        .find(|e| e["event"] == "Email Link Clicked")
        .unwrap();
    assert_eq!(
        clicked["properties"]["link_url"],
        "https://shop.example/new?x=1"
    );
    assert_eq!(clicked["properties"]["link_id"], 0);

    // Tampered, invented, misplaced or foreign tokens: 404 and never a redirect.
    let mut tampered = click.clone();
    tampered.replace_range(3..4, if &click[3..4] == "A" { "B" } else { "A" });
    let other_key = LinkKey::new([9; 32]).sign(&LinkToken {
        purpose: LinkPurpose::Click,
        message_id: id.clone(),
        link: Some(0),
        url: Some("https://evil.example/".into()),
    });
    for path in [
        format!("/t/c/{tampered}"),
        format!("/t/c/{open}"),
        format!("/t/o/{click}"),
        format!("/t/c/{}", other_key.unwrap()),
        format!(
            "/t/c/{}",
            token(
                LinkPurpose::Click,
                "no-such-message",
                Some("https://x.example/")
            )
        ),
        "/t/c/garbage".to_owned(),
    ] {
        let r = no_redirects.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.headers().get("location").is_none());
    }
    app.stop().await;
}
