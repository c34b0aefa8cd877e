//! Firebase Cloud Messaging through its HTTP v1 API.
//!
//! A Google service account authorises the sends: its key signs a short-lived JWT assertion
//! (RS256), the account's `token_uri` trades it for an OAuth access token with the
//! `firebase.messaging` scope, and every send carries that token as a bearer. The access token
//! is kept until shortly before Google says it expires; a 401 from FCM drops it and the send
//! is tried once more with a new one.
//!
//! FCM's answers are sorted by the `errorCode` of the `FcmError` in the error's `details`
//! (see Firebase's `ErrorCode` reference), falling back on the HTTP status where there is none.

use std::fmt;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::{ConfigError, Push, excerpt, transport_error, unix_now};
use crate::{Receipt, SendError};

/// FCM's production endpoint.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";
/// The one OAuth scope sending needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// RFC 7523's grant type: a signed JWT in exchange for an access token.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Google accepts assertions valid for at most an hour.
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// How long before its stated expiry an access token is replaced, so a token never runs out
/// between being read from the cache and reaching FCM.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A Google service account, as in the JSON key file the Cloud console hands out.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    /// Names the key to Google (the JWT's `kid`); optional because Google can try each of the
    /// account's keys.
    pub private_key_id: Option<String>,
    /// PKCS#8 RSA key, PEM.
    pub private_key: String,
    pub token_uri: String,
}

impl ServiceAccount {
    /// Reads the service account's JSON key file. Fields other than the ones sending needs are
    /// ignored; a missing one is named in the error.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        // serde_json's errors give positions, never content, so the key cannot leak through them.
        let value: Value =
            serde_json::from_str(json).map_err(|e| ConfigError::Json(e.to_string()))?;
        let Value::Object(fields) = value else {
            return Err(ConfigError::Json(
                "the service account is not a JSON object".into(),
            ));
        };
        let required = |name: &'static str| -> Result<String, ConfigError> {
            match fields.get(name) {
                None | Some(Value::Null) => Err(ConfigError::MissingField(name)),
                Some(Value::String(s)) if s.trim().is_empty() => {
                    Err(ConfigError::MissingField(name))
                }
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(ConfigError::Json(format!("`{name}` is not a string"))),
            }
        };
        Ok(ServiceAccount {
            project_id: required("project_id")?,
            client_email: required("client_email")?,
            private_key_id: fields
                .get("private_key_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            private_key: required("private_key")?,
            token_uri: required("token_uri")?,
        })
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("private_key", &"<redacted>")
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

/// Where and as whom to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FcmConfig {
    /// Scheme and host of the FCM API, without a trailing path.
    pub base_url: String,
    /// The Firebase project the messages go out under.
    pub project_id: String,
    pub service_account: ServiceAccount,
}

impl FcmConfig {
    /// Production FCM, for the service account's own project.
    pub fn new(service_account: ServiceAccount) -> Self {
        FcmConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            project_id: service_account.project_id.clone(),
            service_account,
        }
    }
}

/// An FCM HTTP v1 client. One per project; it is cheap to share behind an `Arc`, and sharing
/// it shares its access token.
pub struct Fcm {
    client: reqwest::Client,
    send_url: String,
    client_email: String,
    key_id: Option<String>,
    token_uri: String,
    key: EncodingKey,
    // An async lock, held while a token is fetched, so that concurrent sends wait for one
    // fetch rather than each asking Google.
    token: Mutex<Option<AccessToken>>,
}

impl fmt::Debug for Fcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fcm")
            .field("send_url", &self.send_url)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

struct AccessToken {
    value: String,
    refresh_at: Instant,
}

/// What a send attempt came to, short of an error.
enum Attempt {
    Sent(Receipt),
    /// FCM did not accept the access token: worth one retry with a fresh one.
    Unauthenticated(String),
}

impl Fcm {
    /// Checks the key and builds the HTTP client; nothing is sent until the first push.
    pub fn new(config: FcmConfig) -> Result<Self, ConfigError> {
        let account = config.service_account;
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| ConfigError::InvalidKey(format!("not a PEM RSA private key: {e}")))?;
        if config.project_id.trim().is_empty() {
            return Err(ConfigError::MissingField("project_id"));
        }
        let client = crate::http::client_builder()
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            config.base_url.trim_end_matches('/'),
            config.project_id
        );
        Ok(Fcm {
            client,
            send_url,
            client_email: account.client_email,
            key_id: account.private_key_id,
            token_uri: account.token_uri,
            key,
            token: Mutex::new(None),
        })
    }

    /// Sends one notification. The receipt's `provider_id` is FCM's message name
    /// (`projects/{project}/messages/{id}`).
    pub async fn send(&self, push: &Push) -> Result<Receipt, SendError> {
        if push.token.trim().is_empty() {
            return Err(SendError::InvalidRecipient(
                "FCM: empty registration token".into(),
            ));
        }
        let body = message_body(push);
        let token = self.access_token().await?;
        match self.attempt(&token, &body).await? {
            Attempt::Sent(receipt) => Ok(receipt),
            Attempt::Unauthenticated(detail) => {
                tracing::info!(%detail, "FCM refused the cached access token; fetching a new one");
                self.forget_token(&token).await;
                let token = self.access_token().await?;
                match self.attempt(&token, &body).await? {
                    Attempt::Sent(receipt) => Ok(receipt),
                    Attempt::Unauthenticated(detail) => Err(SendError::Permanent(format!(
                        "FCM refused a freshly issued access token: {detail}"
                    ))),
                }
            }
        }
    }

    async fn attempt(&self, token: &str, body: &Value) -> Result<Attempt, SendError> {
        let response = self
            .client
            .post(&self.send_url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| transport_error("FCM", e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await;
        if (200..300).contains(&status) {
            // The message was taken whatever the body says; failing here would send it twice.
            let name = text
                .ok()
                .and_then(|t| serde_json::from_str::<SendResponse>(&t).ok())
                .and_then(|r| r.name);
            if name.is_none() {
                tracing::warn!(status, "FCM accepted a message but named no message id");
            }
            return Ok(Attempt::Sent(Receipt { provider_id: name }));
        }
        let text = text.unwrap_or_default();
        let error = serde_json::from_str::<ErrorResponse>(&text)
            .map(|r| r.error)
            .unwrap_or_default();
        let mut detail = describe(status, &error, &text);
        if let Some(after) = retry_after {
            detail.push_str(&format!(" (Retry-After: {after})"));
        }
        match classify(status, &error) {
            Class::Unauthenticated => Ok(Attempt::Unauthenticated(detail)),
            Class::InvalidRecipient => Err(SendError::InvalidRecipient(detail)),
            Class::Transient => Err(SendError::Transient(detail)),
            Class::Permanent => Err(SendError::Permanent(detail)),
        }
    }

    async fn access_token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Drops the cached token if it is still the one FCM refused; another send may already
    /// have replaced it.
    async fn forget_token(&self, refused: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == refused) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<AccessToken, SendError> {
        let iat = unix_now();
        let claims = AssertionClaims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            SendError::Permanent(format!("FCM: cannot sign the OAuth assertion: {e}"))
        })?;
        let asked_at = Instant::now();
        let response = self
            .client
            .post(&self.token_uri)
            .form(&[
                ("grant_type", JWT_BEARER_GRANT),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| transport_error("Google OAuth", e))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error("Google OAuth", e))?;
        if !(200..300).contains(&status) {
            let detail = match serde_json::from_str::<OAuthError>(&text) {
                Ok(e) => format!("{} {}", e.error, e.error_description.unwrap_or_default()),
                Err(_) => excerpt(&text),
            };
            let detail = format!(
                "Google OAuth token endpoint answered {status}: {}",
                detail.trim()
            );
            return Err(if retryable_status(status) {
                SendError::Transient(detail)
            } else {
                // invalid_grant and friends: the account, key or clock is wrong, and asking
                // again will not change Google's mind.
                SendError::Permanent(detail)
            });
        }
        let token: TokenResponse = serde_json::from_str(&text).map_err(|e| {
            SendError::Transient(format!(
                "Google OAuth token endpoint answered 200 without a token: {e}"
            ))
        })?;
        if token.access_token.is_empty() {
            return Err(SendError::Transient(
                "Google OAuth token endpoint answered an empty access token".into(),
            ));
        }
        Ok(AccessToken {
            value: token.access_token,
            refresh_at: asked_at + cache_lifetime(token.expires_in),
        })
    }
}

/// How long an access token is used for, given Google's `expires_in`: until [`REFRESH_MARGIN`]
/// before it runs out, or not at all when it is that short-lived.
fn cache_lifetime(expires_in: u64) -> Duration {
    Duration::from_secs(expires_in).saturating_sub(REFRESH_MARGIN)
}

/// FCM's `Message` for one device, with a notification and string-only data.
fn message_body(push: &Push) -> Value {
    let mut message = json!({
        "token": push.token,
        "notification": { "title": push.title, "body": push.body },
    });
    if !push.data.is_empty() {
        message["data"] = Value::Object(string_data(&push.data));
    }
    json!({ "message": message })
}

/// FCM's `data` is a map of strings to strings; anything else is sent as its JSON text for the
/// app to parse.
fn string_data(data: &Map<String, Value>) -> Map<String, Value> {
    data.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), Value::String(text))
        })
        .collect()
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    // Google always sends it; an hour is what it always says.
    #[serde(default = "default_expires_in")]
    expires_in: u64,
}

fn default_expires_in() -> u64 {
    3600
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct SendResponse {
    name: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: ApiError,
}

/// Google's `google.rpc.Status` as FCM fills it in.
#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(rename = "@type", default)]
    kind: String,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "fieldViolations", default)]
    field_violations: Vec<FieldViolation>,
}

#[derive(Debug, Deserialize)]
struct FieldViolation {
    #[serde(default)]
    field: String,
}

impl ApiError {
    /// The FCM-specific code, which says more than the HTTP status or the canonical `status`.
    fn fcm_code(&self) -> Option<&str> {
        self.details
            .iter()
            .find(|d| d.kind.ends_with("google.firebase.fcm.v1.FcmError"))
            .and_then(|d| d.error_code.as_deref())
    }

    /// Whether an INVALID_ARGUMENT is about the registration token rather than the message.
    fn blames_token(&self) -> bool {
        let field = self
            .details
            .iter()
            .flat_map(|d| &d.field_violations)
            .any(|v| v.field == "message.token");
        field
            || self
                .message
                .to_ascii_lowercase()
                .contains("registration token")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Unauthenticated,
    InvalidRecipient,
    Transient,
    Permanent,
}

fn classify(status: u16, error: &ApiError) -> Class {
    match error.fcm_code() {
        Some("UNREGISTERED") => Class::InvalidRecipient,
        Some("INVALID_ARGUMENT") if error.blames_token() => Class::InvalidRecipient,
        Some("INVALID_ARGUMENT" | "SENDER_ID_MISMATCH" | "THIRD_PARTY_AUTH_ERROR") => {
            Class::Permanent
        }
        Some("QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL") => Class::Transient,
        _ if status == 400 && error.blames_token() => Class::InvalidRecipient,
        _ if status == 401 => Class::Unauthenticated,
        _ if retryable_status(status) => Class::Transient,
        // Including a 404 without UNREGISTERED: that may be a wrong project id, which must not
        // condemn the device.
        _ => Class::Permanent,
    }
}

fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

fn describe(status: u16, error: &ApiError, body: &str) -> String {
    let code = error
        .fcm_code()
        .or(Some(error.status.as_str()).filter(|s| !s.is_empty()));
    let message = if error.message.is_empty() {
        excerpt(body)
    } else {
        error.message.clone()
    };
    match code {
        Some(code) => format!("FCM {status} {code}: {message}"),
        None => format!("FCM {status}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: Value) -> ApiError {
        serde_json::from_value::<ErrorResponse>(json)
            .map(|r| r.error)
            .unwrap_or_default()
    }

    #[test]
    fn documented_error_codes_sort_into_classes() {
        let unregistered = error(json!({"error": {"code": 404, "status": "NOT_FOUND",
            "message": "Requested entity was not found.",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}));
        assert_eq!(classify(404, &unregistered), Class::InvalidRecipient);
        let bad_token = error(json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "The registration token is not a valid FCM registration token",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}]}}));
        assert_eq!(classify(400, &bad_token), Class::InvalidRecipient);
        let bad_data = error(json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "Invalid value at 'message.data[0].value' (TYPE_STRING), 12",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "message.data[0].value", "description": "Invalid value"}]}]}}));
        assert_eq!(classify(400, &bad_data), Class::Permanent);
        let third_party = error(json!({"error": {"code": 401, "status": "UNAUTHENTICATED",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "THIRD_PARTY_AUTH_ERROR"}]}}));
        assert_eq!(classify(401, &third_party), Class::Permanent);
        assert_eq!(classify(401, &ApiError::default()), Class::Unauthenticated);
        assert_eq!(classify(404, &ApiError::default()), Class::Permanent);
        assert_eq!(classify(502, &ApiError::default()), Class::Transient);
        assert_eq!(classify(403, &ApiError::default()), Class::Permanent);
    }

    #[test]
    fn tokens_are_replaced_before_they_run_out() {
        assert_eq!(cache_lifetime(3599), Duration::from_secs(3299));
        assert_eq!(cache_lifetime(300), Duration::ZERO);
        assert_eq!(cache_lifetime(0), Duration::ZERO);
    }

    #[test]
    fn data_values_become_strings() {
        let mut data = Map::new();
        data.insert("s".into(), json!("text"));
        data.insert("n".into(), json!(42));
        data.insert("b".into(), json!(true));
        data.insert("z".into(), Value::Null);
        data.insert("o".into(), json!({"a": [1, 2]}));
        let out = string_data(&data);
        assert_eq!(out["s"], "text");
        assert_eq!(out["n"], "42");
        assert_eq!(out["b"], "true");
        assert_eq!(out["z"], "null");
        assert_eq!(out["o"], r#"{"a":[1,2]}"#);
    }
}
