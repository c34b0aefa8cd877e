//! The Twilio client against a local server that stands in for api.twilio.com and checks each
//! request as Twilio's Messages resource documents it; and the callback signature against the
//! worked example in Twilio's security documentation.

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
use herald_channels::sms::twilio::DEFAULT_BASE_URL;
use herald_channels::sms::{
    MessageStatus, Sms, StatusCallback, Twilio, TwilioConfig, compute_signature,
    is_invalid_recipient_code, verify_signature,
};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "s3cr3t-auth-token-7f1e";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// What the server answers every request with.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: String,
    headers: Vec<(&'static str, &'static str)>,
    delay: Duration,
}

impl Answer {
    fn json(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("a status code"),
            body: body.to_owned(),
            headers: vec![("content-type", "application/json")],
            delay: Duration::ZERO,
        }
    }
}

struct Shared {
    answer: Answer,
    seen: Mutex<Vec<Seen>>,
}

struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    async fn start(answer: Answer) -> Server {
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
        Server { addr, shared }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
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

/// `application/x-www-form-urlencoded` decoding, written out here so the check does not share
/// code with the client's encoder.
fn decode_form(body: &[u8]) -> Vec<(String, String)> {
    fn unescape(part: &str) -> String {
        let bytes = part.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex digits"));
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).expect("utf-8")
    }
    let text = std::str::from_utf8(body).expect("a form is ASCII");
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').expect("name=value");
            (unescape(name), unescape(value))
        })
        .collect()
}

fn config(base: String) -> TwilioConfig {
    TwilioConfig {
        base_url: base,
        account_sid: ACCOUNT.to_owned(),
        auth_token: TOKEN.to_owned(),
        from: Some("+15017122661".to_owned()),
        messaging_service_sid: None,
        status_callback: None,
    }
}

fn sms() -> Sms {
    Sms {
        id: "0b0e6f7a-52c1-4d4e-9a43-6c2b3c1f9d10".to_owned(),
        to: "+15558675310".to_owned(),
        body: "Hi Ada & co: 20% off = today only ✓ (reply STOP to opt out)".to_owned(),
    }
}

/// The answer Twilio documents for a created Message, trimmed.
const CREATED: &str = r#"{
  "account_sid": "AC0123456789abcdef0123456789abcdef",
  "api_version": "2010-04-01",
  "direction": "outbound-api",
  "error_code": null,
  "from": "+15017122661",
  "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
  "status": "queued",
  "to": "+15558675310"
}"#;

/// Sends [`sms`] through a client configured for `server`.
async fn send_to(server: &Server) -> Result<herald_channels::Receipt, SendError> {
    Twilio::new(config(server.base())).send(&sms()).await
}

fn error_body(status: u16, code: u32, message: &str) -> String {
    serde_json::json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
    .to_string()
}

#[tokio::test]
async fn sends_the_documented_request_and_returns_the_sid() {
    let server = Server::start(Answer::json(201, CREATED)).await;
    let mut config = config(server.base());
    config.status_callback = Some("https://herald.example/twilio/status?tenant=7".to_owned());
    let twilio = Twilio::new(config);

    let receipt = twilio.send(&sms()).await.expect("sent");
    assert_eq!(
        receipt.provider_id.as_deref(),
        Some("SM1f0e8ae6ade43cb3c0ce4525424e404f")
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.uri.path(),
        format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(request.uri.query(), None);
    assert_eq!(
        request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let expected_auth = format!("Basic {}", STANDARD.encode(format!("{ACCOUNT}:{TOKEN}")));
    assert_eq!(request.headers["authorization"], expected_auth.as_str());
    assert!(
        request.headers["user-agent"]
            .to_str()
            .expect("ascii")
            .starts_with("herald/")
    );

    let mut form = decode_form(&request.body);
    form.sort();
    let mut expected = vec![
        ("To".to_owned(), "+15558675310".to_owned()),
        ("From".to_owned(), "+15017122661".to_owned()),
        ("Body".to_owned(), sms().body),
        (
            "StatusCallback".to_owned(),
            "https://herald.example/twilio/status?tenant=7".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(form, expected);
    // A bare `+` in a form means a space; the numbers must arrive escaped.
    let raw = std::str::from_utf8(&request.body).expect("ascii");
    assert!(raw.contains("To=%2B15558675310"), "{raw}");
    assert!(raw.contains("From=%2B15017122661"), "{raw}");
}

#[tokio::test]
async fn a_messaging_service_replaces_or_joins_the_from_number() {
    let server = Server::start(Answer::json(201, CREATED)).await;
    let mut only_service = config(server.base());
    only_service.from = None;
    only_service.messaging_service_sid = Some("MG9752274e9e519418a7406176694466fa".to_owned());
    Twilio::new(only_service.clone())
        .send(&sms())
        .await
        .expect("sent");

    let mut both = only_service;
    both.from = Some("Herald".to_owned());
    Twilio::new(both).send(&sms()).await.expect("sent");

    let seen = server.seen();
    let names = |i: usize| {
        let mut names: Vec<String> = decode_form(&seen[i].body)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(0), ["Body", "MessagingServiceSid", "To"]);
    assert_eq!(names(1), ["Body", "From", "MessagingServiceSid", "To"]);
    let form = decode_form(&seen[0].body);
    assert!(form.contains(&(
        "MessagingServiceSid".to_owned(),
        "MG9752274e9e519418a7406176694466fa".to_owned()
    )));
}

#[tokio::test]
async fn without_a_sender_nothing_is_sent() {
    let server = Server::start(Answer::json(201, CREATED)).await;
    let mut config = config(server.base());
    config.from = None;
    let error = Twilio::new(config).send(&sms()).await.expect_err("refused");
    assert!(matches!(&error, SendError::Permanent(r) if r.contains("messaging_service_sid")));
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn codes_that_condemn_the_number_are_invalid_recipients() {
    let cases = [
        (
            21211,
            "The 'To' number 5551234567 is not a valid phone number.",
        ),
        (21614, "'To' number is not a valid mobile number"),
        (21610, "Attempt to send to unsubscribed recipient"),
        (21635, "'To' number cannot be a landline"),
    ];
    for (code, message) in cases {
        assert!(is_invalid_recipient_code(code));
        let server = Server::start(Answer::json(400, &error_body(400, code, message))).await;
        let error = send_to(&server).await.expect_err("refused");
        match error {
            SendError::InvalidRecipient(reason) => {
                assert!(reason.contains(message), "{reason}");
                assert!(reason.contains(&code.to_string()), "{reason}");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_credentials_are_permanent_and_say_so() {
    let server = Server::start(Answer::json(401, &error_body(401, 20003, "Authenticate"))).await;
    let error = send_to(&server).await.expect_err("refused");
    match error {
        SendError::Permanent(reason) => {
            assert!(reason.contains("401"), "{reason}");
            assert!(reason.contains("Authenticate"), "{reason}");
            assert!(reason.contains("20003"), "{reason}");
            assert!(!reason.contains(TOKEN), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn other_refusals_are_permanent() {
    let message = "The 'From' number +15017122661 is not a valid message-capable Twilio phone number for this destination.";
    let server = Server::start(Answer::json(400, &error_body(400, 21606, message))).await;
    let error = send_to(&server).await.expect_err("refused");
    assert_eq!(
        error,
        SendError::Permanent(format!(
            "Twilio answered 400 Bad Request: {message} (Twilio error 21606, https://www.twilio.com/docs/errors/21606)"
        ))
    );

    let server = Server::start(Answer::json(404, "not json at all")).await;
    let error = send_to(&server).await.expect_err("refused");
    assert_eq!(
        error,
        SendError::Permanent("Twilio answered 404 Not Found: not json at all".to_owned())
    );
}

#[tokio::test]
async fn rate_limits_are_transient() {
    let mut answer = Answer::json(429, &error_body(429, 20429, "Too Many Requests"));
    answer.headers.push(("retry-after", "3"));
    let server = Server::start(answer).await;
    let error = send_to(&server).await.expect_err("refused");
    match error {
        SendError::Transient(reason) => {
            assert!(reason.contains("20429"), "{reason}");
            assert!(reason.contains("retry after 3"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn server_errors_are_transient() {
    for status in [500, 502, 503] {
        let mut answer = Answer::json(status, "<html><body>Service Unavailable</body></html>");
        answer.headers = vec![("content-type", "text/html")];
        let server = Server::start(answer).await;
        let error = send_to(&server).await.expect_err("refused");
        assert!(error.is_transient(), "{status}: {error:?}");
        assert!(error.to_string().contains("Service Unavailable"), "{error}");
    }
}

#[tokio::test]
async fn an_unreachable_api_is_transient() {
    // A port that was just free and is now closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let error = Twilio::new(config(format!("http://{addr}")))
        .send(&sms())
        .await
        .expect_err("refused");
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn a_slow_api_is_transient() {
    let mut answer = Answer::json(201, CREATED);
    answer.delay = Duration::from_secs(5);
    let server = Server::start(answer).await;
    let client = herald_channels::http::client_builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let error = Twilio::with_client(config(server.base()), client)
        .send(&sms())
        .await
        .expect_err("timed out");
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn an_accepted_message_without_a_readable_sid_is_still_sent() {
    let server = Server::start(Answer::json(201, "{}")).await;
    let receipt = send_to(&server).await.expect("sent");
    assert_eq!(receipt.provider_id, None);
}

#[test]
fn debug_output_hides_the_auth_token() {
    let config = config(DEFAULT_BASE_URL.to_owned());
    let shown = format!("{config:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains(ACCOUNT), "{shown}");
    let shown = format!("{:?}", Twilio::new(config));
    assert!(!shown.contains(TOKEN), "{shown}");
    assert_eq!(
        TwilioConfig::new("AC1", "t").base_url,
        "https://api.twilio.com"
    );
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The worked example of Twilio's "Webhooks security" page: auth token `12345`, this URL,
/// these parameters.
const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const DOC_TOKEN: &str = "12345";

fn doc_params() -> Vec<(String, String)> {
    params(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ])
}

const DOC_SIGNATURE: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

#[test]
fn signature_matches_twilios_worked_example() {
    assert_eq!(
        compute_signature(DOC_TOKEN, DOC_URL, &doc_params()),
        DOC_SIGNATURE
    );
    let verifies = |fields: &[(String, String)], signature: &str| {
        verify_signature(DOC_TOKEN, DOC_URL, fields, signature)
    };
    assert!(verifies(&doc_params(), DOC_SIGNATURE));
    // Twilio sorts the fields itself: the order they arrive in does not matter.
    let mut shuffled = doc_params();
    shuffled.reverse();
    shuffled.swap(0, 2);
    assert!(verifies(&shuffled, DOC_SIGNATURE));
    // The same example in the helper libraries' older documentation, with other numbers.
    let older = params(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]);
    assert!(verifies(&older, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

#[test]
fn tampering_breaks_the_signature() {
    let edited = |edit: fn(&mut Vec<(String, String)>)| {
        let mut fields = doc_params();
        edit(&mut fields);
        fields
    };
    let forms = [
        ("a changed value", edited(|f| f[2].1 = "1235".to_owned())),
        (
            "an added field",
            edited(|f| f.push(("ErrorCode".to_owned(), "30003".to_owned()))),
        ),
        ("a dropped field", edited(|f| drop(f.pop()))),
        ("a renamed field", edited(|f| f[1].0 = "caller".to_owned())),
        (
            "a value moved to another name",
            edited(|f| f[2].0 = "Digitz".to_owned()),
        ),
    ];
    let verifies = |token: &str, url: &str, fields: &[(String, String)], signature: &str| {
        verify_signature(token, url, fields, signature)
    };
    for (what, fields) in &forms {
        assert!(
            !verifies(DOC_TOKEN, DOC_URL, fields, DOC_SIGNATURE),
            "{what}"
        );
    }

    for url in [
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/myapp.php",
        "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
        "https://evil.example/myapp.php?foo=1&bar=2",
    ] {
        assert!(
            !verifies(DOC_TOKEN, url, &doc_params(), DOC_SIGNATURE),
            "{url}"
        );
    }

    assert!(!verifies("54321", DOC_URL, &doc_params(), DOC_SIGNATURE));
    assert!(!verifies("", DOC_URL, &doc_params(), DOC_SIGNATURE));
    // An empty token is a key anybody can sign with.
    let empty_key = compute_signature("", DOC_URL, &doc_params());
    assert!(!verifies("", DOC_URL, &doc_params(), &empty_key));
    for bad in [
        "",
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ",
        "0/kctr6dlpkmkaf8muzzqo1ndgq=",
        "not base64!",
        "AAAA",
    ] {
        assert!(!verifies(DOC_TOKEN, DOC_URL, &doc_params(), bad), "{bad:?}");
    }
}

/// A status callback as Twilio posts it for a message that did not arrive.
fn undelivered_callback() -> Vec<(String, String)> {
    params(&[
        ("AccountSid", ACCOUNT),
        ("ApiVersion", "2010-04-01"),
        ("ErrorCode", "30003"),
        ("From", "+15017122661"),
        ("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("MessageStatus", "undelivered"),
        ("SmsSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"),
        ("SmsStatus", "undelivered"),
        ("To", "+15558675310"),
    ])
}

#[test]
fn a_signed_status_callback_verifies_and_parses() {
    let url = "https://herald.example/twilio/status?tenant=7";
    let fields = undelivered_callback();
    let signature = compute_signature(TOKEN, url, &fields);
    assert!(verify_signature(TOKEN, url, &fields, &signature));

    let callback = StatusCallback::from_params(&fields).expect("parsed");
    assert_eq!(
        callback,
        StatusCallback {
            message_sid: "SM1f0e8ae6ade43cb3c0ce4525424e404f".to_owned(),
            status: MessageStatus::Undelivered,
            error_code: Some(30003),
            to: Some("+15558675310".to_owned()),
            from: Some("+15017122661".to_owned()),
            account_sid: Some(ACCOUNT.to_owned()),
        }
    );
    assert!(callback.status.is_failure());
    assert!(!callback.status.is_delivered());
}

#[test]
fn status_callbacks_are_read_leniently_but_not_blindly() {
    let delivered = params(&[
        ("MessageSid", "SM1"),
        ("MessageStatus", "delivered"),
        ("ErrorCode", ""),
        ("To", "+15558675310"),
    ]);
    let callback = StatusCallback::from_params(&delivered).expect("parsed");
    assert_eq!(callback.status, MessageStatus::Delivered);
    assert!(callback.status.is_delivered());
    assert_eq!(callback.error_code, None);
    assert_eq!(callback.from, None);

    let legacy = params(&[("SmsSid", "SM2"), ("SmsStatus", "sent")]);
    let callback = StatusCallback::from_params(&legacy).expect("parsed");
    assert_eq!(callback.message_sid, "SM2");
    assert_eq!(callback.status, MessageStatus::Sent);

    let novel = params(&[("MessageSid", "SM3"), ("MessageStatus", "teleported")]);
    assert_eq!(
        StatusCallback::from_params(&novel).expect("parsed").status,
        MessageStatus::Other("teleported".to_owned())
    );

    let no_sid = params(&[("MessageStatus", "sent")]);
    let error = StatusCallback::from_params(&no_sid).expect_err("refused");
    assert!(error.contains("MessageSid"), "{error}");
    let no_status = params(&[("MessageSid", "SM4")]);
    let error = StatusCallback::from_params(&no_status).expect_err("refused");
    assert!(error.contains("MessageStatus"), "{error}");
    let bad_code = params(&[
        ("MessageSid", "SM5"),
        ("MessageStatus", "failed"),
        ("ErrorCode", "thirty"),
    ]);
    let error = StatusCallback::from_params(&bad_code).expect_err("refused");
    assert!(error.contains("thirty"), "{error}");
}
