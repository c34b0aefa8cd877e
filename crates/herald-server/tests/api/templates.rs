use crate::helpers::*;
use serde_json::{Value, json};

const WELCOME: &str = "template welcome_1 email\nsubject: Hello {{ profile.traits.first_name | default: \"there\" }}\n--- html\n<p>Hi {{ profile.traits.first_name }}! <a href=\"{{ links.unsubscribe_url }}\">Unsubscribe</a></p>\nend\n";

impl TestApp {
    async fn put_template(&self, name: &str, content_type: &str, body: &str) -> reqwest::Response {
        self.client
            .put(self.url(&format!("/api/v1/templates/{name}")))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn preview(&self, name: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/templates/{name}/preview")))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn store_list_and_preview_templates() {
    let app = spawn_app().await;
    let r = app.put_template("welcome_1", "text/plain", WELCOME).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["changes"][0]["status"], "new");
    let again: Value = app
        .put_template("welcome_1", "text/plain", WELCOME)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["changes"][0]["status"], "unchanged");
    let list = app.json("/api/v1/templates").await;
    assert_eq!(list["templates"][0]["name"], "welcome_1");
    assert_eq!(list["templates"][0]["channel"], "email");

    let ada = json!({"type": "identify", "userId": "ada", "messageId": "i1", "traits": {"first_name": "Ada"}});
    assert_eq!(
        app.post("/v1/identify", ada.to_string()).await.status(),
        200
    );
    let r = app.preview("welcome_1", json!({"id": "ada"})).await;
    assert_eq!(r.status(), 200);
    let rendered: Value = r.json().await.unwrap();
    assert_eq!(rendered["subject"], "Hello Ada");
    let html = rendered["html"].as_str().unwrap();
    assert!(html.contains("Hi Ada!"), "{html}");
    assert!(html.contains("/u/"), "a signed unsubscribe link: {html}");
    assert!(rendered["text"].as_str().unwrap().contains("Hi Ada!"));
    app.stop().await;
}

#[tokio::test]
async fn bad_templates_and_previews_are_refused_with_reasons() {
    let app = spawn_app().await;
    let broken = "template welcome_1 email\nsubject: Hi {{ profile.name | no_such_filter }}\n--- html\n<p>x</p>\nend\n";
    let r = app.put_template("welcome_1", "text/plain", broken).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_template");
    assert!(
        body["message"].as_str().unwrap().contains("line 2"),
        "{body}"
    );
    let r = app.put_template("other", "text/plain", WELCOME).await;
    assert_error(r, 400, "invalid_template").await;
    let r = app
        .put_template("welcome_1", "application/json", "{\"channel\":")
        .await;
    assert_error(r, 400, "invalid_template").await;
    assert_eq!(
        app.put_template("welcome_1", "text/plain", WELCOME)
            .await
            .status(),
        200
    );
    let r = app.preview("welcome_1", json!({"id": "nobody"})).await;
    assert_error(r, 404, "not_found").await;
    let r = app
        .preview("welcome_1", json!({"id": "ada", "channel": "fax"}))
        .await;
    assert_error(r, 400, "invalid_request").await;
    let r = app.preview("welcome_1", json!({"who": "ada"})).await;
    assert_error(r, 400, "invalid_request").await;
    let r = app.preview("missing", json!({"id": "ada"})).await;
    assert_error(r, 404, "not_found").await;
    app.stop().await;
}
