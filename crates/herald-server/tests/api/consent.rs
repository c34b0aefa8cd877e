//! Consent, suppression and feedback over the management API, and the public pages' answers to
//! tokens they did not sign: every bad input gets its status and `{code, message}`, and nothing
//! already recorded is lost.

use crate::helpers::*;
use serde_json::{Value, json};

impl TestApp {
    async fn admin(&self, method: &str, path: &str, body: &str) -> reqwest::Response {
        self.client
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn consent_is_recorded_read_back_and_bad_input_refused() {
    let app = spawn_app().await;
    let ann = json!({"type": "identify", "userId": "ann", "messageId": "i1",
                     "traits": {"email": "ann@example.com", "subscriptions": {"sms": true}}});
    assert_eq!(
        app.post("/v1/identify", ann.to_string()).await.status(),
        200
    );

    let got = app.json("/api/v1/profiles/ann/consent").await;
    assert_eq!(got["recorded"][0]["channel"], "sms");
    assert_eq!(got["recorded"][0]["source"], "identify");
    let channels = &got["effective"]["channels"];
    assert_eq!(
        channels[0],
        json!({"key": "email", "label": "Email", "subscribed": true})
    );
    assert_eq!(channels[1]["subscribed"], true, "sms opted in: {got}");

    let r = app
        .admin(
            "PUT",
            "/api/v1/profiles/ann/consent",
            r#"{"email": false, "email:news": true}"#,
        )
        .await;
    assert_eq!(r.status(), 200);
    let put: Value = r.json().await.unwrap();
    let recorded: Vec<(String, String, bool)> = put["recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().unwrap().to_owned(),
                c["topic"].as_str().unwrap().to_owned(),
                c["subscribed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        recorded.contains(&("email".into(), String::new(), false)),
        "{put}"
    );
    assert!(
        recorded.contains(&("email".into(), "news".into(), true)),
        "{put}"
    );

    for (body, code) in [
        ("{", "invalid_json"),
        ("[1]", "invalid_json"),
        (r#"{"fax": true}"#, "invalid_consent"),
        (r#"{"email": "no"}"#, "invalid_consent"),
        ("{}", "invalid_consent"),
    ] {
        let r = app.admin("PUT", "/api/v1/profiles/ann/consent", body).await;
        assert_error(r, 400, code).await;
    }
    let r = app
        .admin(
            "PUT",
            "/api/v1/profiles/nobody/consent",
            r#"{"email": false}"#,
        )
        .await;
    assert_error(r, 404, "not_found").await;
    let r = app
        .client
        .put(app.url("/api/v1/profiles/ann/consent"))
        .body(r#"{"email": true}"#)
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    // The refused requests changed nothing.
    let after = app.json("/api/v1/profiles/ann/consent").await;
    assert_eq!(after["recorded"], put["recorded"]);
    app.stop().await;
}

#[tokio::test]
async fn suppressions_are_added_listed_lifted_and_checked() {
    let app = spawn_app().await;
    let r = app
        .admin(
            "POST",
            "/api/v1/suppressions",
            r#"{"channel": "email", "address": "Bob@Example.com"}"#,
        )
        .await;
    assert_eq!(r.status(), 201);
    let list = app.json("/api/v1/suppressions").await;
    assert_eq!(list["suppressions"][0]["address"], "bob@example.com");
    assert_eq!(list["suppressions"][0]["reason"], "manual");
    for (body, code) in [
        (r#"{"channel": "fax", "address": "x"}"#, "invalid_request"),
        (r#"{"channel": "email"}"#, "invalid_json"),
        (
            r#"{"channel": "email", "address": "x", "extra": 1}"#,
            "invalid_json",
        ),
        (r#"{"channel": "email", "address": ""}"#, "invalid_request"),
    ] {
        let r = app.admin("POST", "/api/v1/suppressions", body).await;
        assert_error(r, 400, code).await;
    }
    let r = app
        .admin("GET", "/api/v1/suppressions?after=nocolon", "")
        .await;
    assert_error(r, 400, "invalid_query").await;
    let r = app.admin("GET", "/api/v1/suppressions?limit=0", "").await;
    assert_error(r, 400, "invalid_query").await;
    let r = app
        .admin("DELETE", "/api/v1/suppressions/email/bob@example.com", "")
        .await;
    assert_eq!(r.status(), 204);
    let r = app
        .admin("DELETE", "/api/v1/suppressions/email/bob@example.com", "")
        .await;
    assert_error(r, 404, "not_found").await;
    let r = app.admin("GET", "/api/v1/messages?state=lost", "").await;
    assert_error(r, 400, "invalid_query").await;
    let r = app
        .admin("GET", "/api/v1/messages?state=failed&profile=x", "")
        .await;
    assert_error(r, 400, "invalid_query").await;
    let dead = app.json("/api/v1/messages?state=failed").await;
    assert_eq!(dead["messages"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn feedback_reports_and_public_pages_refuse_what_they_cannot_use() {
    let app = spawn_app().await;
    let post = |body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/feedback/email"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "message/rfc822")
            .body(body)
            .send()
    };
    let r = post(b"".to_vec()).await.unwrap();
    assert_error(r, 400, "invalid_report").await;
    let r = post(b"From: a@b.c\r\nSubject: hi\r\n\r\nnot a report".to_vec())
        .await
        .unwrap();
    assert_error(r, 400, "invalid_report").await;
    // A gzip bomb is refused after inflating just past the limit.
    let r = app
        .client
        .post(app.url("/api/v1/feedback/email"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-encoding", "gzip")
        .body(gzip(&vec![b'a'; 64 * 1024 * 1024]))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "body_too_large").await;
    // A complaint about a message Herald never sent: the address is suppressed all the same.
    let arf = "From: fbl@isp.example\r\nTo: abuse@shop.example\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=feedback-report; boundary=\"X\"\r\n\r\n\
        --X\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n\
        --X\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\
        User-Agent: isp/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: carl@example.com\r\n\r\n\
        --X\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <unknown@shop.example>\r\n\r\n--X--\r\n";
    let r = post(arf.as_bytes().to_vec()).await.unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        report,
        json!({"bounces": 0, "hard": 0, "complaints": 1, "unmatched": 1})
    );
    let list = app.json("/api/v1/suppressions").await;
    assert_eq!(list["suppressions"][0]["address"], "carl@example.com");
    assert_eq!(list["suppressions"][0]["reason"], "complaint");

    // Tokens Herald did not sign open nothing.
    for path in ["/u/forged.token", "/p/forged.token", "/u/", "/t/o/x.y"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = app
        .client
        .post(app.url("/u/forged.token"))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    // Twilio's callbacks need Twilio configured, and then a valid signature.
    let r = app
        .client
        .post(app.url("/hooks/twilio/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("MessageSid=SM1&MessageStatus=delivered")
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    app.stop().await;
}
