//! The APNs client against a local stand-in for Apple that speaks HTTP/2 only (h2c with prior
//! knowledge, as the client is built for `h2`), verifies the ES256 provider token with the
//! test public key, and checks the path, each `apns-*` header and the payload. Keys are the
//! test-only ones under `tests/keys/`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_channels::push::apns::{Apns, ApnsConfig, apns_id};
use herald_channels::push::{ConfigError, Push};
use herald_channels::{Receipt, SendError};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use uuid::Uuid;

const PRIVATE_KEY: &str = include_str!("keys/apns-test-only-ec-private.p8");
const PUBLIC_KEY: &str = include_str!("keys/apns-test-only-ec-public.pem");
const OTHER_PRIVATE_KEY: &str = include_str!("keys/apns-test-only-ec-other-private.p8");
const FCM_RSA_KEY: &str = include_str!("keys/fcm-test-only-rsa-private.pem");
const KEY_ID: &str = "ABC123DEFG";
const TEAM_ID: &str = "DEF123GHIJ";
const TOPIC: &str = "com.example.herald";
const DEVICE: &str = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad";

/// What the server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    version: Version,
    device: String,
    jwt: String,
    apns_id: String,
    body: Value,
}

#[derive(Default)]
struct Mock {
    /// Status and `reason` for the next requests; then 200.
    replies: VecDeque<(u16, &'static str)>,
    seen: Vec<Seen>,
    problems: Vec<String>,
}

struct Server {
    url: String,
    mock: Arc<Mutex<Mock>>,
}

impl Server {
    async fn start() -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("has an address"));
        let mock = Arc::new(Mutex::new(Mock::default()));
        let app = Router::new()
            .fallback(apns_endpoint)
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { url, mock }
    }

    fn mock(&self) -> MutexGuard<'_, Mock> {
        self.mock.lock().expect("mock lock")
    }

    fn config(&self, key: &str) -> ApnsConfig {
        let mut config = ApnsConfig::new(key, KEY_ID, TEAM_ID, TOPIC);
        config.base_url = self.url.clone();
        config
    }

    fn client(&self) -> Apns {
        Apns::new(self.config(PRIVATE_KEY)).expect("a valid configuration")
    }

    fn assert_no_problems(&self) {
        let problems = self.mock().problems.clone();
        assert!(problems.is_empty(), "the server found: {problems:#?}");
    }

    fn seen(&self) -> Vec<Seen> {
        self.mock().seen.clone()
    }
}

async fn apns_endpoint(State(mock): State<Arc<Mutex<Mock>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut problems = Vec::new();
    let seen = check_request(
        &parts.method,
        parts.version,
        parts.uri.path(),
        &parts.headers,
        &body,
        &mut problems,
    );
    let mut mock = mock.lock().expect("mock lock");
    let signature_ok = !problems.iter().any(|p| p.starts_with("provider token"));
    mock.problems.extend(problems);
    let apns_id = seen.apns_id.clone();
    mock.seen.push(seen);
    if !signature_ok {
        return error(403, "InvalidProviderToken");
    }
    match mock.replies.pop_front() {
        Some((status, reason)) => error(status, reason),
        None => {
            let mut response = StatusCode::OK.into_response();
            response
                .headers_mut()
                .insert("apns-id", apns_id.parse().expect("a header value"));
            response
        }
    }
}

fn error(status: u16, reason: &str) -> Response {
    let body = if status == 410 {
        json!({"reason": reason, "timestamp": 1_700_000_000_000_i64})
    } else {
        json!({"reason": reason})
    };
    let status = StatusCode::from_u16(status).expect("a valid status");
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Apple's documented request: `POST /3/device/<token>` over HTTP/2, the provider token as a
/// lowercase `bearer`, the topic, push type, priority and a canonical UUID `apns-id`, each once.
fn check_request(
    method: &Method,
    version: Version,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    problems: &mut Vec<String>,
) -> Seen {
    if version != Version::HTTP_2 {
        problems.push(format!("spoke {version:?}, not HTTP/2"));
    }
    if method != Method::POST {
        problems.push(format!("method {method}"));
    }
    let device = match path.strip_prefix("/3/device/") {
        Some(device) => device.to_owned(),
        None => {
            problems.push(format!("path {path}"));
            String::new()
        }
    };
    let mut one = |name: &str| -> String {
        let values: Vec<_> = headers.get_all(name).iter().collect();
        if values.len() != 1 {
            problems.push(format!("{} `{name}` headers", values.len()));
        }
        values
            .first()
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let auth = one("authorization");
    let topic = one("apns-topic");
    let push_type = one("apns-push-type");
    let priority = one("apns-priority");
    let apns_id = one("apns-id");
    let content_type = one("content-type");
    if topic != TOPIC {
        problems.push(format!("apns-topic {topic}"));
    }
    if push_type != "alert" {
        problems.push(format!("apns-push-type {push_type}"));
    }
    if priority != "10" {
        problems.push(format!("apns-priority {priority}"));
    }
    match Uuid::try_parse(&apns_id) {
        Ok(uuid) if uuid.hyphenated().to_string() == apns_id => {}
        _ => problems.push(format!(
            "apns-id {apns_id:?} is not a canonical lowercase UUID"
        )),
    }
    if content_type != "application/json" {
        problems.push(format!("content-type {content_type}"));
    }
    let jwt = match auth.strip_prefix("bearer ") {
        Some(jwt) => jwt.to_owned(),
        None => {
            problems.push(format!("authorization {auth:?}"));
            String::new()
        }
    };
    if let Err(problem) = check_provider_token(&jwt) {
        problems.push(format!("provider token {problem}"));
    }
    let body = serde_json::from_slice(body).unwrap_or_else(|e| {
        problems.push(format!("body is not JSON: {e}"));
        Value::Null
    });
    Seen {
        version,
        device,
        jwt,
        apns_id,
        body,
    }
}

/// Header exactly `{"alg": "ES256", "kid": <key id>}`, claims exactly `{"iss": <team>, "iat":
/// now}`, signed by the key whose public half is the test's.
fn check_provider_token(jwt: &str) -> Result<(), String> {
    let header_part = jwt.split('.').next().unwrap_or_default();
    let header: Value = URL_SAFE_NO_PAD
        .decode(header_part)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("has no readable header")?;
    if header != json!({"alg": "ES256", "kid": KEY_ID}) {
        return Err(format!("header {header}"));
    }
    let key = DecodingKey::from_ec_pem(PUBLIC_KEY.as_bytes()).expect("the test public key");
    let mut validation = Validation::new(Algorithm::ES256);
    // Apple's tokens carry no `exp`: their age is judged by `iat`.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map_err(|e| format!("does not verify: {e}"))?
        .claims;
    let iat = claims["iat"].as_i64().unwrap_or_default();
    if claims != json!({"iss": TEAM_ID, "iat": iat}) {
        return Err(format!("claims {claims}"));
    }
    let now = jiff::Timestamp::now().as_second();
    if (iat - now).abs() > 60 {
        return Err(format!("iat {iat} is not now ({now})"));
    }
    Ok(())
}

fn push() -> Push {
    let mut data = Map::new();
    data.insert("deep_link".into(), json!("herald://orders/42"));
    data.insert("count".into(), json!(3));
    data.insert("meta".into(), json!({"campaign": "spring", "ids": [1, 2]}));
    Push {
        id: "msg-0001".into(),
        token: DEVICE.into(),
        title: "Your order shipped".into(),
        body: "It arrives Thursday — track it in the app.".into(),
        data,
    }
}

#[tokio::test]
async fn sends_the_documented_request_over_http2() {
    let server = Server::start().await;
    let apns = server.client();

    let receipt = apns.send(&push()).await.expect("sent");

    server.assert_no_problems();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.version, Version::HTTP_2);
    assert_eq!(seen.device, DEVICE);
    assert_eq!(seen.apns_id, apns_id("msg-0001").hyphenated().to_string());
    assert_eq!(
        receipt,
        Receipt {
            provider_id: Some(seen.apns_id.clone())
        }
    );
    assert_eq!(
        seen.body,
        json!({
            "aps": {"alert": {
                "title": "Your order shipped",
                "body": "It arrives Thursday — track it in the app."
            }},
            "deep_link": "herald://orders/42",
            "count": 3,
            "meta": {"campaign": "spring", "ids": [1, 2]}
        })
    );
}

#[tokio::test]
async fn a_data_key_named_aps_cannot_replace_the_alert() {
    let server = Server::start().await;
    let apns = server.client();
    let mut push = push();
    push.data
        .insert("aps".into(), json!({"content-available": 1}));

    apns.send(&push).await.expect("sent");

    server.assert_no_problems();
    let body = &server.seen()[0].body;
    assert_eq!(
        body["aps"],
        json!({"alert": {"title": push.title, "body": push.body}})
    );
}

#[tokio::test]
async fn the_apns_id_follows_herald_s_message_id() {
    let server = Server::start().await;
    let apns = server.client();
    let uuid_id = "0b7c5f1e-3d2a-4c8b-9f10-1234567890ab";

    apns.send(&push()).await.expect("sent");
    apns.send(&push()).await.expect("sent");
    let receipt = apns
        .send(&Push {
            id: uuid_id.into(),
            ..push()
        })
        .await
        .expect("sent");

    server.assert_no_problems();
    let seen = server.seen();
    assert_eq!(
        seen[0].apns_id, seen[1].apns_id,
        "a retry keeps its apns-id"
    );
    assert_eq!(seen[2].apns_id, uuid_id);
    assert_eq!(receipt.provider_id.as_deref(), Some(uuid_id));
}

#[tokio::test]
async fn the_provider_token_is_reused_across_sends() {
    let server = Server::start().await;
    let apns = server.client();

    for _ in 0..3 {
        apns.send(&push()).await.expect("sent");
    }

    server.assert_no_problems();
    let seen = server.seen();
    assert!(!seen[0].jwt.is_empty());
    assert!(seen.iter().all(|s| s.jwt == seen[0].jwt));
}

#[tokio::test]
async fn an_expired_provider_token_is_replaced_and_the_send_retried_once() {
    let server = Server::start().await;
    let apns = server.client();
    apns.send(&push()).await.expect("sent");
    // A second later, so the new token's `iat` (and with it the token) differs.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    server
        .mock()
        .replies
        .push_back((403, "ExpiredProviderToken"));

    let receipt = apns.send(&push()).await.expect("sent on the retry");
    apns.send(&push()).await.expect("sent");

    server.assert_no_problems();
    assert!(receipt.provider_id.is_some());
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[1].jwt, seen[0].jwt, "the stale token was tried first");
    assert_ne!(seen[2].jwt, seen[1].jwt, "the retry carries a new token");
    assert_eq!(seen[3].jwt, seen[2].jwt, "the new token is kept");
    assert_eq!(seen[2].body, seen[1].body);
    assert_eq!(seen[2].apns_id, seen[1].apns_id);
}

#[tokio::test]
async fn a_second_expired_token_answer_is_permanent() {
    let server = Server::start().await;
    let apns = server.client();
    server
        .mock()
        .replies
        .extend([(403, "ExpiredProviderToken"), (403, "ExpiredProviderToken")]);

    let err = apns.send(&push()).await.expect_err("refused");

    server.assert_no_problems();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("ExpiredProviderToken"), "{err}");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn documented_errors_map_to_their_classes() {
    type Check = fn(&SendError) -> bool;
    let invalid: Check = |e| matches!(e, SendError::InvalidRecipient(_));
    let transient: Check = |e| matches!(e, SendError::Transient(_));
    let permanent: Check = |e| matches!(e, SendError::Permanent(_));
    let cases = [
        (410, "Unregistered", invalid),
        (400, "BadDeviceToken", invalid),
        (400, "DeviceTokenNotForTopic", invalid),
        (429, "TooManyRequests", transient),
        (500, "InternalServerError", transient),
        (503, "ServiceUnavailable", transient),
        (400, "BadTopic", permanent),
        (400, "PayloadEmpty", permanent),
        (403, "InvalidProviderToken", permanent),
        (403, "TopicDisallowed", permanent),
        (405, "MethodNotAllowed", permanent),
        (413, "PayloadTooLarge", permanent),
    ];
    let server = Server::start().await;
    let apns = server.client();
    server
        .mock()
        .replies
        .extend(cases.iter().map(|&(status, reason, _)| (status, reason)));

    for (status, reason, expected) in cases {
        let err = apns.send(&push()).await.expect_err("an error answer");
        assert!(expected(&err), "{status} {reason} answered {err:?}");
        assert!(
            err.to_string().contains(reason),
            "{err} should carry Apple's reason"
        );
        assert!(err.to_string().contains(&status.to_string()), "{err}");
    }
    server.assert_no_problems();
    assert_eq!(server.seen().len(), cases.len(), "none of these is retried");
}

#[tokio::test]
async fn a_token_signed_with_another_key_fails_verification() {
    let server = Server::start().await;
    let apns = Apns::new(server.config(OTHER_PRIVATE_KEY)).expect("a P-256 key");

    let err = apns.send(&push()).await.expect_err("refused");

    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("InvalidProviderToken"), "{err}");
    let problems = server.mock().problems.clone();
    assert!(
        problems.iter().any(|p| p.contains("does not verify")),
        "{problems:?}"
    );
}

#[tokio::test]
async fn a_malformed_device_token_is_refused_without_a_request() {
    let server = Server::start().await;
    let apns = server.client();

    for token in ["", "../../3/device/abc", "not-hex", "abc def"] {
        let err = apns
            .send(&Push {
                token: token.into(),
                ..push()
            })
            .await
            .expect_err("refused");
        assert!(
            matches!(err, SendError::InvalidRecipient(_)),
            "{token:?}: {err:?}"
        );
    }
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn an_unreachable_apns_is_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("has an address");
    drop(listener);
    let mut config = ApnsConfig::new(PRIVATE_KEY, KEY_ID, TEAM_ID, TOPIC);
    config.base_url = format!("http://{addr}");

    let err = Apns::new(config)
        .expect("valid")
        .send(&push())
        .await
        .expect_err("unreachable");

    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(
        !err.to_string().contains(DEVICE),
        "the device token stays out of errors: {err}"
    );
}

#[test]
fn the_configuration_is_checked_at_construction() {
    let config = ApnsConfig::new(PRIVATE_KEY, KEY_ID, TEAM_ID, TOPIC);
    assert_eq!(config.base_url, "https://api.push.apple.com");
    assert!(Apns::new(config.clone()).is_ok());

    let err = Apns::new(ApnsConfig {
        key_pem: FCM_RSA_KEY.into(),
        ..config.clone()
    })
    .expect_err("an RSA key cannot sign ES256");
    assert!(matches!(err, ConfigError::InvalidKey(_)), "{err:?}");
    let err = Apns::new(ApnsConfig {
        key_pem: "garbage".into(),
        ..config.clone()
    })
    .expect_err("not PEM");
    assert!(matches!(err, ConfigError::InvalidKey(_)), "{err:?}");
    let err = Apns::new(ApnsConfig {
        team_id: String::new(),
        ..config
    })
    .expect_err("no team");
    assert!(
        matches!(err, ConfigError::MissingField("team_id")),
        "{err:?}"
    );
}

#[test]
fn the_signing_key_never_shows_in_debug_output() {
    let config = ApnsConfig::new(PRIVATE_KEY, KEY_ID, TEAM_ID, TOPIC);
    let apns = Apns::new(config.clone()).expect("valid");
    let key_line = PRIVATE_KEY.lines().nth(1).expect("a key body");
    for debug in [
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{apns:?}"),
    ] {
        assert!(!debug.contains(key_line), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains(KEY_ID), "the rest stays visible: {debug}");
    }
    assert!(format!("{config:?}").contains("<redacted>"));
}
