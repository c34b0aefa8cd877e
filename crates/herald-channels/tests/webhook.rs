//! Standard Webhooks delivery against a local endpoint that checks the headers and recomputes
//! the signature on its own; and the signature against the specification's test vector.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_channels::SendError;
use herald_channels::webhook::{
    Webhook, WebhookSecret, WebhookSecretError, WebhookSender, sign, verify,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The Standard Webhooks test vector, as its libraries' tests carry it.
const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    delay: Duration,
}

impl Answer {
    fn status(status: u16) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("a status code"),
            body: "",
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }
}

struct Shared {
    answer: Answer,
    seen: Mutex<Vec<Seen>>,
}

struct Endpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Endpoint {
    async fn start(answer: Answer) -> Endpoint {
        let shared = Arc::new(Shared {
            answer,
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Endpoint { addr, shared }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.seen.lock().expect("lock").push(Seen {
        method,
        uri,
        headers,
        body: body.to_vec(),
    });
    let answer = shared.answer.clone();
    tokio::time::sleep(answer.delay).await;
    let mut response = (answer.status, answer.body).into_response();
    for (name, value) in answer.headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

fn secret() -> WebhookSecret {
    WebhookSecret::parse(VECTOR_SECRET).expect("the vector's secret")
}

fn hook(url: String) -> Webhook {
    Webhook {
        id: "5f1d2c1e-8a4b-4e7a-9b1c-2f3d4e5f6a7b".to_owned(),
        url,
        body: serde_json::json!({
            "type": "journey.step_reached",
            "timestamp": "2026-11-23T10:00:00Z",
            "data": {"person": "p_42", "name": "Ada Lovelace ✓", "score": 0.75, "tags": ["a", "b"]}
        }),
    }
}

fn at(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).expect("a timestamp")
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ascii")
}

/// HMAC-SHA256 of `{id}.{timestamp}.{body}`, computed here from the headers and bytes the
/// endpoint received rather than with the crate's own signer.
fn expected_signature(whsec: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(whsec.strip_prefix("whsec_").expect("prefixed"))
        .expect("base64");
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("any key length");
    mac.update(&content);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn posts_signed_json_the_endpoint_can_verify() {
    let endpoint = Endpoint::start(Answer::status(204)).await;
    let sender = WebhookSender::new(Some(secret()));
    let hook = hook(endpoint.url("/hooks/herald?token=abc"));

    let receipt = sender.send(&hook, at(1_700_000_000)).await.expect("taken");
    assert_eq!(receipt.provider_id, None);

    let seen = endpoint.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.uri.path(), "/hooks/herald");
    assert_eq!(request.uri.query(), Some("token=abc"));
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(header(request, "webhook-id"), hook.id);
    assert_eq!(header(request, "webhook-timestamp"), "1700000000");

    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON");
    assert_eq!(body, hook.body);

    let signature = header(request, "webhook-signature");
    assert_eq!(
        signature,
        expected_signature(VECTOR_SECRET, &hook.id, "1700000000", &request.body)
    );
    assert!(verify(
        &secret(),
        &hook.id,
        1_700_000_000,
        &request.body,
        signature
    ));
}

#[tokio::test]
async fn retries_keep_the_id_and_sign_the_new_time() {
    let endpoint = Endpoint::start(Answer::status(200)).await;
    let sender = WebhookSender::new(Some(secret()));
    let hook = hook(endpoint.url("/"));
    sender.send(&hook, at(1_700_000_000)).await.expect("taken");
    sender.send(&hook, at(1_700_000_090)).await.expect("taken");

    let seen = endpoint.seen();
    assert_eq!(
        header(&seen[0], "webhook-id"),
        header(&seen[1], "webhook-id")
    );
    assert_eq!(header(&seen[1], "webhook-timestamp"), "1700000090");
    assert_ne!(
        header(&seen[0], "webhook-signature"),
        header(&seen[1], "webhook-signature")
    );
    assert_eq!(seen[0].body, seen[1].body);
    assert!(verify(
        &secret(),
        &hook.id,
        1_700_000_090,
        &seen[1].body,
        header(&seen[1], "webhook-signature")
    ));
    // A replay of the first attempt's signature under the second's time does not pass.
    assert!(!verify(
        &secret(),
        &hook.id,
        1_700_000_090,
        &seen[1].body,
        header(&seen[0], "webhook-signature")
    ));
}

#[tokio::test]
async fn without_a_secret_the_hook_goes_unsigned() {
    let endpoint = Endpoint::start(Answer::status(202)).await;
    WebhookSender::new(None)
        .send(&hook(endpoint.url("/")), at(1_700_000_000))
        .await
        .expect("taken");
    let seen = endpoint.seen();
    assert!(seen[0].headers.get("webhook-signature").is_none());
    assert_eq!(header(&seen[0], "webhook-timestamp"), "1700000000");
    assert_eq!(header(&seen[0], "content-type"), "application/json");
}

#[tokio::test]
async fn answers_sort_into_the_error_classes() {
    let sender = WebhookSender::new(Some(secret()));
    for status in [200, 201, 202, 204] {
        let endpoint = Endpoint::start(Answer::status(status)).await;
        let result = sender.send(&hook(endpoint.url("/")), at(1)).await;
        assert!(result.is_ok(), "{status}: {result:?}");
    }
    for status in [408, 429, 500, 502, 503, 504] {
        let endpoint = Endpoint::start(Answer::status(status)).await;
        let error = sender
            .send(&hook(endpoint.url("/")), at(1))
            .await
            .expect_err("refused");
        assert!(error.is_transient(), "{status}: {error:?}");
    }
    let endpoint = Endpoint::start(Answer::status(410)).await;
    let error = sender
        .send(&hook(endpoint.url("/")), at(1))
        .await
        .expect_err("gone");
    assert!(matches!(error, SendError::InvalidRecipient(_)), "{error:?}");
    for status in [400, 401, 403, 404, 405, 413, 422] {
        let endpoint = Endpoint::start(Answer::status(status)).await;
        let error = sender
            .send(&hook(endpoint.url("/")), at(1))
            .await
            .expect_err("refused");
        assert!(
            matches!(error, SendError::Permanent(_)),
            "{status}: {error:?}"
        );
    }
}

#[tokio::test]
async fn the_endpoints_answer_and_retry_after_reach_the_reason() {
    let mut answer = Answer::status(503);
    answer.body = "{\"error\":\"maintenance\"}";
    answer.headers = vec![("retry-after", "120")];
    let endpoint = Endpoint::start(answer).await;
    let error = WebhookSender::new(None)
        .send(&hook(endpoint.url("/")), at(1))
        .await
        .expect_err("refused");
    assert_eq!(
        error,
        SendError::Transient(
            "the webhook endpoint answered 503 Service Unavailable: {\"error\":\"maintenance\"}; \
             retry after 120"
                .to_owned()
        )
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = Endpoint::start(Answer::status(200)).await;
    let mut answer = Answer::status(307);
    let location: &'static str = Box::leak(target.url("/elsewhere").into_boxed_str());
    answer.headers = vec![("location", location)];
    let endpoint = Endpoint::start(answer).await;

    let error = WebhookSender::new(Some(secret()))
        .send(&hook(endpoint.url("/")), at(1))
        .await
        .expect_err("refused");
    match error {
        SendError::Permanent(reason) => assert!(reason.contains(location), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(endpoint.seen().len(), 1);
    assert!(target.seen().is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_transient_and_its_url_stays_out_of_the_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let url = format!("http://{addr}/hook?token=very-secret-token");
    let error = WebhookSender::new(None)
        .send(&hook(url), at(1))
        .await
        .expect_err("refused");
    assert!(error.is_transient(), "{error:?}");
    assert!(!error.to_string().contains("very-secret-token"), "{error}");
}

#[tokio::test]
async fn a_slow_endpoint_is_transient() {
    let mut answer = Answer::status(200);
    answer.delay = Duration::from_secs(5);
    let endpoint = Endpoint::start(answer).await;
    let client = herald_channels::http::client_builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let error = WebhookSender::with_client(None, client)
        .send(&hook(endpoint.url("/")), at(1))
        .await
        .expect_err("timed out");
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn only_http_urls_and_dotless_ids_are_sent() {
    let sender = WebhookSender::new(Some(secret()));
    for url in [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "example.com/hook",
        "",
    ] {
        let error = sender
            .send(&hook(url.to_owned()), at(1))
            .await
            .expect_err("refused");
        assert!(matches!(error, SendError::Permanent(_)), "{url}: {error:?}");
    }

    let endpoint = Endpoint::start(Answer::status(200)).await;
    let mut dotted = hook(endpoint.url("/"));
    dotted.id = "msg.1".to_owned();
    let error = sender.send(&dotted, at(1)).await.expect_err("refused");
    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");
    assert!(endpoint.seen().is_empty());
}

#[test]
fn signature_matches_the_specifications_test_vector() {
    assert_eq!(
        sign(&secret(), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
        VECTOR_SIGNATURE
    );
    assert!(verify(
        &secret(),
        VECTOR_ID,
        VECTOR_TIMESTAMP,
        VECTOR_BODY,
        VECTOR_SIGNATURE
    ));
}

#[test]
fn verify_accepts_any_listed_signature_and_nothing_tampered() {
    let s = secret();
    let check = |id: &str, ts: i64, body: &[u8], header: &str| verify(&s, id, ts, body, header);

    let rotating =
        format!("v1,bm90IHRoZSByaWdodCBvbmU= v1a,c29tZXRoaW5nIGVsc2U= {VECTOR_SIGNATURE}");
    assert!(check(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &rotating));

    assert!(!check(
        VECTOR_ID,
        VECTOR_TIMESTAMP,
        br#"{"test": 2432232315}"#,
        VECTOR_SIGNATURE
    ));
    assert!(!check(
        VECTOR_ID,
        VECTOR_TIMESTAMP,
        br#"{"test":2432232314}"#,
        VECTOR_SIGNATURE
    ));
    assert!(!check(
        "msg_p5jXN8AQM9LWM0D4loKWxJel",
        VECTOR_TIMESTAMP,
        VECTOR_BODY,
        VECTOR_SIGNATURE
    ));
    assert!(!check(
        VECTOR_ID,
        VECTOR_TIMESTAMP + 1,
        VECTOR_BODY,
        VECTOR_SIGNATURE
    ));

    let other = WebhookSecret::from_bytes([7u8; 32]).expect("32 bytes");
    assert!(!verify(
        &other,
        VECTOR_ID,
        VECTOR_TIMESTAMP,
        VECTOR_BODY,
        VECTOR_SIGNATURE
    ));

    let bare = VECTOR_SIGNATURE.strip_prefix("v1,").expect("prefixed");
    for header in [
        "",
        " ",
        bare,
        &format!("v1a,{bare}"),
        &format!("v2,{bare}"),
        &format!("v1={bare}"),
        "v1,",
        "v1,not base64!",
        &format!("v1,{}", &bare[..bare.len() - 1]),
    ] {
        assert!(
            !check(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, header),
            "{header:?}"
        );
    }
}

#[test]
fn secrets_parse_in_either_form() {
    let prefixed = WebhookSecret::parse(VECTOR_SECRET).expect("prefixed");
    let bare = WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("bare");
    let padded_less: WebhookSecret = "whsec_YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY"
        .parse()
        .expect("unpadded");
    let trimmed = WebhookSecret::parse(&format!("  {VECTOR_SECRET}\n")).expect("trimmed");
    assert_eq!(prefixed, bare);
    assert_eq!(prefixed, trimmed);
    assert_eq!(prefixed.to_whsec(), VECTOR_SECRET);
    assert_eq!(
        padded_less,
        WebhookSecret::from_bytes(b"abcdefghijklmnopqrstuvwxyz123456".to_vec()).expect("bytes")
    );
}

#[test]
fn bad_secrets_say_what_is_expected() {
    for (input, expected) in [
        ("", WebhookSecretError::Empty),
        ("whsec_", WebhookSecretError::Empty),
        ("   ", WebhookSecretError::Empty),
        ("whsec_c2hvcnQ=", WebhookSecretError::TooShort(5)),
    ] {
        let error = WebhookSecret::parse(input).expect_err("refused");
        assert_eq!(error, expected, "{input:?}");
        assert!(error.to_string().contains("24"), "{error}");
    }
    for input in [
        "whsec_not base64!",
        "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "sk-live-123",
    ] {
        let error = WebhookSecret::parse(input).expect_err("refused");
        assert!(
            matches!(error, WebhookSecretError::NotBase64(_)),
            "{input}: {error:?}"
        );
        assert!(error.to_string().contains("whsec_"), "{error}");
    }
    assert_eq!(
        WebhookSecret::from_bytes(vec![1u8; 23]),
        Err(WebhookSecretError::TooShort(23))
    );
}

#[test]
fn debug_output_hides_the_secret() {
    let s = secret();
    let shown = format!("{s:?}");
    assert!(
        !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "{shown}"
    );
    assert_eq!(shown, "WebhookSecret(<redacted>)");
    let shown = format!("{:?}", WebhookSender::new(Some(s)));
    assert!(
        !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>"), "{shown}");
}
