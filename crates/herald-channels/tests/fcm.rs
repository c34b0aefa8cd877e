//! The FCM client against a local stand-in for Google: one axum server plays both the OAuth
//! token endpoint (checking the JWT assertion's signature with the test public key, its claims
//! and the grant type) and FCM's `messages:send` (checking the bearer token and the message
//! field by field). Keys are the test-only ones under `tests/keys/`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald_channels::push::fcm::{Fcm, FcmConfig, JWT_BEARER_GRANT, SCOPE, ServiceAccount};
use herald_channels::push::{ConfigError, Push};
use herald_channels::{Receipt, SendError};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};

const PRIVATE_KEY: &str = include_str!("keys/fcm-test-only-rsa-private.pem");
const PUBLIC_KEY: &str = include_str!("keys/fcm-test-only-rsa-public.pem");
const OTHER_PRIVATE_KEY: &str = include_str!("keys/fcm-test-only-rsa-other-private.pem");
const PROJECT: &str = "herald-test";
const EMAIL: &str = "herald-push@herald-test.iam.gserviceaccount.com";
const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";
const SEND_PATH: &str = "/v1/projects/herald-test/messages:send";

/// A scripted answer from the send endpoint.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    retry_after: Option<&'static str>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body: body.to_string(),
        retry_after: None,
    }
}

#[derive(Default)]
struct Mock {
    token_uri: String,
    expires_in: u64,
    /// Tokens issued so far; the n-th is `access-n`.
    issued: u32,
    /// Access tokens the send endpoint answers 401 for.
    revoked: Vec<String>,
    revoke_all: bool,
    token_failure: Option<(u16, Value)>,
    replies: VecDeque<Reply>,
    token_claims: Vec<Value>,
    sends: Vec<(String, Value)>,
    problems: Vec<String>,
}

#[derive(Clone)]
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
        let mock = Arc::new(Mutex::new(Mock {
            token_uri: format!("{url}/token"),
            expires_in: 3599,
            ..Mock::default()
        }));
        let app = Router::new()
            .route("/token", post(token_endpoint))
            .route(SEND_PATH, post(send_endpoint))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { url, mock }
    }

    fn mock(&self) -> MutexGuard<'_, Mock> {
        self.mock.lock().expect("mock lock")
    }

    fn token_uri(&self) -> String {
        format!("{}/token", self.url)
    }

    fn account(&self, key: &str) -> ServiceAccount {
        ServiceAccount::from_json(&service_account_json(&self.token_uri(), key).to_string())
            .expect("a complete service account")
    }

    fn client(&self) -> Fcm {
        self.client_with_key(PRIVATE_KEY)
    }

    fn client_with_key(&self, key: &str) -> Fcm {
        let mut config = FcmConfig::new(self.account(key));
        config.base_url = self.url.clone();
        Fcm::new(config).expect("a valid configuration")
    }

    /// Fails the test with whatever the server found wrong in the requests.
    fn assert_no_problems(&self) {
        let problems = self.mock().problems.clone();
        assert!(problems.is_empty(), "the server found: {problems:#?}");
    }
}

/// The service account as Google would issue it, for tests that send nothing.
fn offline_account() -> ServiceAccount {
    let json = service_account_json("https://oauth2.googleapis.com/token", PRIVATE_KEY);
    ServiceAccount::from_json(&json.to_string()).expect("complete")
}

fn service_account_json(token_uri: &str, key: &str) -> Value {
    json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": KEY_ID,
        "private_key": key,
        "client_email": EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/herald-push",
        "universe_domain": "googleapis.com"
    })
}

async fn token_endpoint(
    State(mock): State<Arc<Mutex<Mock>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut mock = mock.lock().expect("mock lock");
    if let Some((status, body)) = mock.token_failure.clone() {
        return (status_code(status), Json(body)).into_response();
    }
    match check_assertion(&headers, &form, &mock.token_uri) {
        Ok(claims) => {
            mock.token_claims.push(claims);
            mock.issued += 1;
            let body = json!({
                "access_token": format!("access-{}", mock.issued),
                "expires_in": mock.expires_in,
                "token_type": "Bearer",
            });
            Json(body).into_response()
        }
        Err(problem) => {
            mock.problems.push(problem.clone());
            let body = json!({"error": "invalid_grant", "error_description": problem});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

/// Google's documented token request: a form with exactly `grant_type` and `assertion`, the
/// assertion an RS256 JWT from the service account for the messaging scope, valid an hour.
fn check_assertion(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    token_uri: &str,
) -> Result<Value, String> {
    let content_type = header_str(headers, header::CONTENT_TYPE);
    if content_type != Some("application/x-www-form-urlencoded") {
        return Err(format!("token request content-type {content_type:?}"));
    }
    let mut keys: Vec<_> = form.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["assertion", "grant_type"] {
        return Err(format!("token request fields {keys:?}"));
    }
    if form["grant_type"] != JWT_BEARER_GRANT {
        return Err(format!("grant_type {}", form["grant_type"]));
    }
    let assertion = &form["assertion"];
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::RS256
        || header.typ.as_deref() != Some("JWT")
        || header.kid.as_deref() != Some(KEY_ID)
    {
        return Err(format!("assertion header {header:?}"));
    }
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).expect("the test public key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[token_uri]);
    validation.set_issuer(&[EMAIL]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| format!("assertion does not verify: {e}"))?
        .claims;
    let mut fields: Vec<_> = claims
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    fields.sort_unstable();
    if fields != ["aud", "exp", "iat", "iss", "scope"] {
        return Err(format!("assertion claims {fields:?}"));
    }
    if claims["scope"] != SCOPE {
        return Err(format!("scope {}", claims["scope"]));
    }
    let iat = claims["iat"].as_i64().unwrap_or_default();
    let now = jiff::Timestamp::now().as_second();
    if (iat - now).abs() > 60 {
        return Err(format!("iat {iat} is not now ({now})"));
    }
    if claims["exp"].as_i64() != Some(iat + 3600) {
        return Err(format!("exp {} is not iat + 3600", claims["exp"]));
    }
    Ok(claims)
}

async fn send_endpoint(
    State(mock): State<Arc<Mutex<Mock>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut mock = mock.lock().expect("mock lock");
    let auth = header_str(&headers, header::AUTHORIZATION)
        .unwrap_or_default()
        .to_owned();
    let content_type = header_str(&headers, header::CONTENT_TYPE);
    if content_type != Some("application/json") {
        mock.problems
            .push(format!("send content-type {content_type:?}"));
    }
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| {
        mock.problems.push(format!("send body is not JSON: {e}"));
        Value::Null
    });
    mock.sends.push((auth.clone(), body));
    let Some(token) = auth.strip_prefix("Bearer ") else {
        mock.problems.push(format!("authorization {auth:?}"));
        return unauthenticated();
    };
    let known = (1..=mock.issued).any(|n| token == format!("access-{n}"));
    if !known {
        mock.problems
            .push(format!("bearer token {token:?} was never issued"));
        return unauthenticated();
    }
    if mock.revoke_all || mock.revoked.iter().any(|t| t == token) {
        return unauthenticated();
    }
    match mock.replies.pop_front() {
        Some(reply) => {
            let mut response = (status_code(reply.status), reply.body).into_response();
            if let Some(after) = reply.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, after.parse().expect("a header value"));
            }
            response
        }
        None => {
            let name = format!("projects/{PROJECT}/messages/0:{}", mock.sends.len());
            Json(json!({ "name": name })).into_response()
        }
    }
}

fn unauthenticated() -> Response {
    let body = json!({"error": {
        "code": 401,
        "message": "Request had invalid authentication credentials.",
        "status": "UNAUTHENTICATED"
    }});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).expect("a valid status")
}

/// FCM's error body as its docs show it: the canonical status and, in `details`, the
/// FCM-specific `errorCode`.
fn fcm_error(code: u16, status: &str, error_code: &str, message: &str) -> Reply {
    let details = json!([{
        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "errorCode": error_code
    }]);
    google_error(code, status, message, details)
}

fn google_error(code: u16, status: &str, message: &str, details: Value) -> Reply {
    let body =
        json!({"error": {"code": code, "message": message, "status": status, "details": details}});
    reply(code, body)
}

fn push() -> Push {
    let mut data = Map::new();
    data.insert("deep_link".into(), json!("herald://orders/42"));
    data.insert("count".into(), json!(3));
    data.insert("urgent".into(), json!(true));
    data.insert("nothing".into(), Value::Null);
    data.insert("meta".into(), json!({"campaign": "spring", "ids": [1, 2]}));
    Push {
        id: "msg-0001".into(),
        token: "fcm-registration-token:APA91bHun4MxP5egoKMwt2KZFBaFUH".into(),
        title: "Your order shipped".into(),
        body: "It arrives Thursday — track it in the app.".into(),
        data,
    }
}

#[tokio::test]
async fn sends_the_documented_message_with_a_bearer_from_the_token_endpoint() {
    let server = Server::start().await;
    let fcm = server.client();

    let receipt = fcm.send(&push()).await.expect("sent");

    server.assert_no_problems();
    assert_eq!(
        receipt,
        Receipt {
            provider_id: Some(format!("projects/{PROJECT}/messages/0:1"))
        }
    );
    let mock = server.mock();
    assert_eq!(mock.token_claims.len(), 1);
    let claims = &mock.token_claims[0];
    assert_eq!(claims["iss"], EMAIL);
    assert_eq!(claims["aud"], server.token_uri());
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );

    assert_eq!(mock.sends.len(), 1);
    let (auth, body) = &mock.sends[0];
    assert_eq!(auth, "Bearer access-1");
    assert_eq!(
        *body,
        json!({"message": {
            "token": "fcm-registration-token:APA91bHun4MxP5egoKMwt2KZFBaFUH",
            "notification": {
                "title": "Your order shipped",
                "body": "It arrives Thursday — track it in the app."
            },
            "data": {
                "deep_link": "herald://orders/42",
                "count": "3",
                "urgent": "true",
                "nothing": "null",
                "meta": "{\"campaign\":\"spring\",\"ids\":[1,2]}"
            }
        }})
    );
}

#[tokio::test]
async fn a_push_without_data_sends_no_data_map() {
    let server = Server::start().await;
    let fcm = server.client();
    let push = Push {
        data: Map::new(),
        ..push()
    };

    fcm.send(&push).await.expect("sent");

    server.assert_no_problems();
    let message = &server.mock().sends[0].1["message"];
    let mut fields: Vec<_> = message
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["notification", "token"]);
}

#[tokio::test]
async fn the_access_token_is_reused_until_shortly_before_it_expires() {
    let server = Server::start().await;
    let fcm = server.client();

    for _ in 0..3 {
        fcm.send(&push()).await.expect("sent");
    }

    server.assert_no_problems();
    let mock = server.mock();
    assert_eq!(mock.issued, 1, "one token for three sends");
    assert!(mock.sends.iter().all(|(auth, _)| auth == "Bearer access-1"));
}

#[tokio::test]
async fn a_token_about_to_expire_is_not_reused() {
    let server = Server::start().await;
    // Five minutes is within the client's refresh margin: each send needs a new token.
    server.mock().expires_in = 300;
    let fcm = server.client();

    fcm.send(&push()).await.expect("sent");
    fcm.send(&push()).await.expect("sent");

    server.assert_no_problems();
    let mock = server.mock();
    assert_eq!(mock.issued, 2);
    assert_eq!(mock.sends[0].0, "Bearer access-1");
    assert_eq!(mock.sends[1].0, "Bearer access-2");
}

#[tokio::test]
async fn concurrent_first_sends_share_one_token_request() {
    let server = Server::start().await;
    let fcm = Arc::new(server.client());

    let sends: Vec<_> = (0..5)
        .map(|_| {
            let fcm = fcm.clone();
            tokio::spawn(async move { fcm.send(&push()).await })
        })
        .collect();
    for send in sends {
        send.await.expect("joins").expect("sent");
    }

    server.assert_no_problems();
    assert_eq!(server.mock().issued, 1);
}

#[tokio::test]
async fn a_401_drops_the_cached_token_and_retries_once_with_a_new_one() {
    let server = Server::start().await;
    server.mock().revoked.push("access-1".into());
    let fcm = server.client();

    let receipt = fcm.send(&push()).await.expect("sent on the retry");
    fcm.send(&push()).await.expect("sent");

    server.assert_no_problems();
    assert!(receipt.provider_id.is_some());
    let mock = server.mock();
    assert_eq!(mock.issued, 2);
    let auths: Vec<_> = mock.sends.iter().map(|(auth, _)| auth.as_str()).collect();
    assert_eq!(
        auths,
        ["Bearer access-1", "Bearer access-2", "Bearer access-2"]
    );
    assert_eq!(
        mock.sends[0].1, mock.sends[1].1,
        "the retry sends the same message"
    );
}

#[tokio::test]
async fn a_second_401_is_permanent_and_not_retried_again() {
    let server = Server::start().await;
    server.mock().revoke_all = true;
    let fcm = server.client();

    let err = fcm.send(&push()).await.expect_err("refused");

    server.assert_no_problems();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("401"), "{err}");
    let mock = server.mock();
    assert_eq!(mock.issued, 2);
    assert_eq!(mock.sends.len(), 2);
}

#[derive(Debug, PartialEq)]
enum Class {
    Invalid,
    Transient,
    Permanent,
}

fn class(err: &SendError) -> Class {
    match err {
        SendError::InvalidRecipient(_) => Class::Invalid,
        SendError::Transient(_) => Class::Transient,
        SendError::Permanent(_) => Class::Permanent,
    }
}

#[tokio::test]
async fn documented_errors_map_to_their_classes() {
    use Class::{Invalid, Permanent, Transient};
    const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
    const BAD_REQUEST: &str = "type.googleapis.com/google.rpc.BadRequest";
    let token_violation = json!([
        {"@type": FCM_ERROR, "errorCode": "INVALID_ARGUMENT"},
        {"@type": BAD_REQUEST, "fieldViolations": [{"field": "message.token"}]}
    ]);
    let data_violation =
        json!([{"@type": BAD_REQUEST, "fieldViolations": [{"field": "message.data[0].value"}]}]);
    let not_a_token = "The registration token is not a valid FCM registration token";
    let quota = Reply {
        retry_after: Some("30"),
        ..fcm_error(
            429,
            "RESOURCE_EXHAUSTED",
            "QUOTA_EXCEEDED",
            "Quota exceeded.",
        )
    };
    let html = Reply {
        status: 502,
        body: "<html><title>Error 502 (Server Error)!!1</title></html>".into(),
        retry_after: None,
    };
    let invalid_argument = "Request contains an invalid argument.";
    #[rustfmt::skip]
    let cases = [
        (fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Not found."), Invalid, "UNREGISTERED"),
        (fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", not_a_token), Invalid, not_a_token),
        (google_error(400, "INVALID_ARGUMENT", invalid_argument, token_violation), Invalid, "400"),
        (google_error(400, "INVALID_ARGUMENT", "Bad data", data_violation), Permanent, "Bad data"),
        (quota, Transient, "Retry-After: 30"),
        (fcm_error(503, "UNAVAILABLE", "UNAVAILABLE", "Unavailable."), Transient, "UNAVAILABLE"),
        (fcm_error(500, "INTERNAL", "INTERNAL", "Internal error."), Transient, "INTERNAL"),
        (html, Transient, "502"),
        (fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "Mismatch"), Permanent, "403"),
        (google_error(403, "PERMISSION_DENIED", "Denied", json!([])), Permanent, "PERMISSION_DENIED"),
        // FCM could not reach APNs or web push with the app's credentials: no retry helps.
        (fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "APNs"), Permanent, "401"),
        // A 404 not saying UNREGISTERED (a wrong project) must not condemn the device.
        (google_error(404, "NOT_FOUND", "Not found.", json!([])), Permanent, "NOT_FOUND"),
    ];
    let server = Server::start().await;
    let fcm = server.client();
    server
        .mock()
        .replies
        .extend(cases.iter().map(|(reply, _, _)| reply.clone()));

    for (reply, expected, mentions) in &cases {
        let err = fcm.send(&push()).await.expect_err("an error answer");
        assert_eq!(class(&err), *expected, "{} answered {err:?}", reply.status);
        assert!(
            err.to_string().contains(mentions),
            "{err} should mention {mentions}"
        );
    }
    server.assert_no_problems();
    let mock = server.mock();
    assert_eq!(mock.sends.len(), cases.len(), "none of these is retried");
    assert_eq!(mock.issued, 1);
}

#[tokio::test]
async fn an_empty_registration_token_is_an_invalid_recipient_without_a_request() {
    let server = Server::start().await;
    let fcm = server.client();

    let err = fcm
        .send(&Push {
            token: String::new(),
            ..push()
        })
        .await
        .expect_err("refused");

    assert!(matches!(err, SendError::InvalidRecipient(_)), "{err:?}");
    assert_eq!(server.mock().issued, 0);
    assert!(server.mock().sends.is_empty());
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused_permanently() {
    let server = Server::start().await;
    let fcm = server.client_with_key(OTHER_PRIVATE_KEY);

    let err = fcm.send(&push()).await.expect_err("refused");

    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    let mock = server.mock();
    assert!(
        mock.problems.iter().any(|p| p.contains("does not verify")),
        "{:?}",
        mock.problems
    );
    assert!(mock.sends.is_empty());
}

#[tokio::test]
async fn a_token_endpoint_outage_is_transient() {
    let server = Server::start().await;
    server.mock().token_failure = Some((503, json!({"error": "temporarily_unavailable"})));
    let fcm = server.client();

    let err = fcm.send(&push()).await.expect_err("no token");

    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    assert!(server.mock().sends.is_empty());
}

/// An address nothing listens on: bound, then let go.
async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("has an address");
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn connection_failures_are_transient() {
    // FCM itself unreachable.
    let server = Server::start().await;
    let mut config = FcmConfig::new(server.account(PRIVATE_KEY));
    config.base_url = closed_url().await;
    let err = Fcm::new(config)
        .expect("valid")
        .send(&push())
        .await
        .expect_err("unreachable");
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");

    // The token endpoint unreachable.
    let account = ServiceAccount::from_json(
        &service_account_json(&format!("{}/token", closed_url().await), PRIVATE_KEY).to_string(),
    )
    .expect("valid");
    let mut config = FcmConfig::new(account);
    config.base_url = server.url.clone();
    let err = Fcm::new(config)
        .expect("valid")
        .send(&push())
        .await
        .expect_err("unreachable");
    assert!(matches!(err, SendError::Transient(_)), "{err:?}");
}

#[test]
fn the_service_account_file_is_read() {
    let account = offline_account();
    assert_eq!(account.project_id, PROJECT);
    assert_eq!(account.client_email, EMAIL);
    assert_eq!(account.private_key_id.as_deref(), Some(KEY_ID));
    assert_eq!(account.private_key, PRIVATE_KEY);
    assert_eq!(account.token_uri, "https://oauth2.googleapis.com/token");

    let config = FcmConfig::new(account);
    assert_eq!(config.base_url, "https://fcm.googleapis.com");
    assert_eq!(config.project_id, PROJECT);
}

#[test]
fn a_missing_field_is_named() {
    for field in ["client_email", "private_key", "token_uri", "project_id"] {
        let mut json = service_account_json("https://oauth2.googleapis.com/token", PRIVATE_KEY);
        json.as_object_mut().expect("an object").remove(field);
        let err = ServiceAccount::from_json(&json.to_string()).expect_err("incomplete");
        assert!(
            matches!(err, ConfigError::MissingField(f) if f == field),
            "{err:?}"
        );
        assert!(err.to_string().contains(field), "{err}");
    }
    let err = ServiceAccount::from_json("{\"private_key\": ").expect_err("not JSON");
    assert!(matches!(err, ConfigError::Json(_)), "{err:?}");
    let err = ServiceAccount::from_json("[]").expect_err("not an object");
    assert!(matches!(err, ConfigError::Json(_)), "{err:?}");
    let mut json = service_account_json("https://oauth2.googleapis.com/token", PRIVATE_KEY);
    json["client_email"] = json!(7);
    let err = ServiceAccount::from_json(&json.to_string()).expect_err("wrong type");
    assert!(err.to_string().contains("client_email"), "{err}");
}

#[test]
fn a_key_that_is_not_rsa_is_refused_at_construction() {
    let mut account = offline_account();
    account.private_key =
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n".into();
    let err = Fcm::new(FcmConfig::new(account)).expect_err("unusable key");
    assert!(matches!(err, ConfigError::InvalidKey(_)), "{err:?}");
    assert!(
        !err.to_string().contains("not a key"),
        "the key stays out of errors: {err}"
    );
}

#[test]
fn the_private_key_never_shows_in_debug_output() {
    let account = offline_account();
    let config = FcmConfig::new(account.clone());
    let fcm = Fcm::new(config.clone()).expect("valid");
    // A line from the middle of the key's base64, which no redaction marker could contain.
    let key_line = PRIVATE_KEY.lines().nth(5).expect("a long key");
    for debug in [
        format!("{account:?}"),
        format!("{config:?}"),
        format!("{fcm:?}"),
        format!("{fcm:#?}"),
    ] {
        assert!(!debug.contains(key_line), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    }
    assert!(format!("{account:?}").contains("<redacted>"));
    assert!(
        format!("{account:?}").contains(EMAIL),
        "the rest stays visible"
    );
}
