//! Webhooks signed as Standard Webhooks (<https://www.standardwebhooks.com>).
//!
//! Each webhook is a JSON `POST` carrying three headers besides `Content-Type`:
//!
//! * `webhook-id`: Herald's message id, the same on every retry, so receivers can drop repeats;
//! * `webhook-timestamp`: the attempt's time in Unix seconds, so receivers can refuse replays;
//! * `webhook-signature`: `v1,` and the base64 HMAC-SHA256, keyed with the endpoint's secret, of
//!   `{webhook-id}.{webhook-timestamp}.{body}`, where the body is exactly the bytes sent.
//!
//! Any Standard Webhooks library verifies these; so does [`verify`]. The answer decides the
//! [`SendError`]: 2xx is taken; 408, 429, 5xx and failures to connect are worth retrying; 410
//! Gone means the endpoint is retired ([`SendError::InvalidRecipient`]); redirects and other 4xx
//! are permanent. Redirects are not followed: a signed POST should reach the configured URL or
//! fail visibly, not be turned into a GET by a 302 or carried to another host.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{StatusCode, Url};
use sha2::Sha256;

use crate::{Receipt, SendError};

/// The prefix the specification gives symmetric secrets.
const SECRET_PREFIX: &str = "whsec_";
/// The specification's floor for a symmetric secret: 24 random bytes (192 bits).
const MIN_SECRET_BYTES: usize = 24;

/// Standard base64 that does not insist on `=` padding, which copy-and-paste tends to lose.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An endpoint's signing secret: the HMAC key, at least 24 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    /// Reads `whsec_<base64>`, the form the specification gives secrets, or the bare base64.
    pub fn parse(text: &str) -> Result<WebhookSecret, WebhookSecretError> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        if encoded.is_empty() {
            return Err(WebhookSecretError::Empty);
        }
        let key = LENIENT_BASE64
            .decode(encoded)
            .map_err(|e| WebhookSecretError::NotBase64(e.to_string()))?;
        WebhookSecret::from_bytes(key)
    }

    /// A secret from its raw key bytes.
    pub fn from_bytes(key: impl Into<Vec<u8>>) -> Result<WebhookSecret, WebhookSecretError> {
        let key = key.into();
        if key.len() < MIN_SECRET_BYTES {
            return Err(WebhookSecretError::TooShort(key.len()));
        }
        Ok(WebhookSecret { key })
    }

    /// The `whsec_<base64>` form, to hand to the endpoint's owner.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }
}

impl FromStr for WebhookSecret {
    type Err = WebhookSecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        WebhookSecret::parse(text)
    }
}

// The key is the whole of the secret; `{:?}` must not print it.
impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Why a webhook secret was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSecretError {
    #[error(
        "the webhook secret is empty; expected `whsec_` followed by base64 of at least \
         {MIN_SECRET_BYTES} random bytes, e.g. `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`"
    )]
    Empty,
    #[error(
        "the webhook secret is not base64 ({0}); expected `whsec_` followed by standard base64 \
         (A-Z, a-z, 0-9, `+`, `/`), e.g. `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`"
    )]
    NotBase64(String),
    #[error(
        "the webhook secret decodes to {0} bytes; Standard Webhooks asks for at least \
         {MIN_SECRET_BYTES} random bytes (32 base64 characters after `whsec_`)"
    )]
    TooShort(usize),
}

/// One webhook to deliver.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    /// Herald's message id, sent as `webhook-id`; it must stay the same across retries.
    pub id: String,
    /// The endpoint, http or https.
    pub url: String,
    pub body: serde_json::Value,
}

/// Delivers webhooks, signing them when it has a secret.
#[derive(Clone, Debug)]
pub struct WebhookSender {
    secret: Option<WebhookSecret>,
    client: reqwest::Client,
}

impl WebhookSender {
    /// A sender on the shared HTTP settings of [`crate::http`], redirects off.
    pub fn new(secret: Option<WebhookSecret>) -> WebhookSender {
        let client = crate::http::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with rustls builds");
        WebhookSender::with_client(secret, client)
    }

    /// A sender on an HTTP client of the caller's; whether it follows redirects is then the
    /// caller's choice.
    pub fn with_client(secret: Option<WebhookSecret>, client: reqwest::Client) -> WebhookSender {
        WebhookSender { secret, client }
    }

    /// Posts `hook` as it stands at `now` (the attempt's time, which is signed).
    pub async fn send(&self, hook: &Webhook, now: jiff::Timestamp) -> Result<Receipt, SendError> {
        let url = endpoint(&hook.url)?;
        check_id(&hook.id)?;
        let body = serde_json::to_vec(&hook.body).map_err(|e| {
            SendError::Permanent(format!("the webhook body could not be serialized: {e}"))
        })?;
        let timestamp = now.as_second();

        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &hook.id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(secret) = &self.secret {
            request = request.header(
                "webhook-signature",
                sign(secret, &hook.id, timestamp, &body),
            );
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| request_error(e, &hook.id))?;

        let status = response.status();
        if status.is_success() {
            tracing::debug!(message_id = %hook.id, %status, "webhook taken");
            return Ok(Receipt { provider_id: None });
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // The answer's text helps whoever runs the endpoint; a failure to read it changes
        // nothing about the status.
        let text = response
            .bytes()
            .await
            .map(|b| crate::http::excerpt(&b))
            .unwrap_or_default();
        let error = classify(status, &text, retry_after.as_deref(), location.as_deref());
        tracing::debug!(message_id = %hook.id, %error, "webhook refused");
        Err(error)
    }
}

fn endpoint(url: &str) -> Result<Url, SendError> {
    let parsed = Url::parse(url).map_err(|e| {
        SendError::Permanent(format!(
            "the webhook URL is not a URL ({e}); expected an absolute http:// or https:// URL"
        ))
    })?;
    match parsed.scheme() {
        "http" | "https" if parsed.host().is_some() => Ok(parsed),
        scheme => Err(SendError::Permanent(format!(
            "webhooks go to http:// or https:// URLs with a host, not `{scheme}:`"
        ))),
    }
}

/// The specification warns that a `.` in the id would let one signed content pass for another,
/// the id and timestamp being joined by dots.
fn check_id(id: &str) -> Result<(), SendError> {
    if id.is_empty() || id.contains('.') || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SendError::Permanent(format!(
            "the webhook id `{id}` must be non-empty printable ASCII without `.` or spaces"
        )));
    }
    Ok(())
}

fn classify(
    status: StatusCode,
    text: &str,
    retry_after: Option<&str>,
    location: Option<&str>,
) -> SendError {
    let mut reason = format!("the webhook endpoint answered {status}");
    if !text.is_empty() {
        reason.push_str(&format!(": {text}"));
    }
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        if let Some(after) = retry_after {
            reason.push_str(&format!("; retry after {after}"));
        }
        return SendError::Transient(reason);
    }
    if status == StatusCode::GONE {
        return SendError::InvalidRecipient(reason);
    }
    if status.is_redirection() {
        reason.push_str(&format!(
            "; redirects are not followed, configure the final URL{}",
            location.map(|l| format!(" ({l})")).unwrap_or_default()
        ));
    }
    SendError::Permanent(reason)
}

fn request_error(error: reqwest::Error, id: &str) -> SendError {
    let e = crate::http::unreached("the webhook endpoint", error);
    tracing::debug!(message_id = %id, error = %e, "webhook endpoint not reached");
    e
}

type HmacSha256 = Hmac<Sha256>;

fn signed_mac(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.mac();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for `body` sent as `id` at `timestamp` (Unix seconds):
/// `v1,<base64 HMAC-SHA256>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = signed_mac(secret, id, timestamp, body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Whether `header` (a `webhook-signature` value: one or more space-separated signatures, as
/// during a secret rotation) holds a `v1` signature of `body` sent as `id` at `timestamp` under
/// `secret`. Compares in constant time; signatures of other schemes are skipped.
///
/// This checks the signature only. Receivers should also refuse a `webhook-timestamp` far from
/// their clock (the specification suggests five minutes) and an id they have already handled.
pub fn verify(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    header.split(' ').any(|entry| {
        let Some(encoded) = entry.strip_prefix("v1,") else {
            return false;
        };
        let Ok(claimed) = STANDARD.decode(encoded) else {
            return false;
        };
        signed_mac(secret, id, timestamp, body)
            .verify_slice(&claimed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_blur_the_signed_content_are_refused() {
        assert!(check_id("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W").is_ok());
        assert!(check_id("4f9c1a1e-2b55-4c8e-9d0a-0c4bb1f2e9aa").is_ok());
        for bad in ["", "a.b", "with space", "tab\there", "é"] {
            assert!(
                matches!(check_id(bad), Err(SendError::Permanent(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn classification_follows_the_status() {
        let t = |code: u16| classify(StatusCode::from_u16(code).unwrap(), "", None, None);
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(t(code).is_transient(), "{code}");
        }
        assert!(matches!(t(410), SendError::InvalidRecipient(_)));
        for code in [301, 302, 307, 400, 401, 403, 404, 405, 413, 422] {
            assert!(matches!(t(code), SendError::Permanent(_)), "{code}");
        }
        let redirected = classify(StatusCode::FOUND, "", None, Some("https://new.example/h"));
        assert!(redirected.to_string().contains("https://new.example/h"));
        let limited = classify(StatusCode::TOO_MANY_REQUESTS, "slow down", Some("30"), None);
        assert_eq!(
            limited,
            SendError::Transient(
                "the webhook endpoint answered 429 Too Many Requests: slow down; retry after 30"
                    .to_owned()
            )
        );
    }

    #[test]
    fn endpoints_must_be_http_with_a_host() {
        assert!(endpoint("https://example.com/hooks?t=1").is_ok());
        assert!(endpoint("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "example.com/hook",
            "",
            "data:,x",
        ] {
            assert!(
                matches!(endpoint(bad), Err(SendError::Permanent(_))),
                "{bad}"
            );
        }
    }
}
