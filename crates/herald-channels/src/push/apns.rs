//! Apple Push Notification service through its HTTP/2 provider API, with token-based auth.
//!
//! The team's `.p8` key (P-256) signs a provider token, an ES256 JWT naming the key (`kid`) and
//! the team (`iss`, `iat`). Apple refuses tokens older than an hour and answers
//! `TooManyProviderTokenUpdates` to a provider that makes new ones more often than every
//! twenty minutes, so one token is reused for [`TOKEN_REUSE`] and then replaced; an
//! `ExpiredProviderToken` answer replaces it at once and the send is tried once more.
//!
//! APNs speaks HTTP/2 only, so the client is built HTTP/2-only: over TLS it offers just `h2`
//! by ALPN, and over plain HTTP (local test servers) it starts with the HTTP/2 preface.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{ConfigError, Push, excerpt, transport_error, unix_now};
use crate::{Receipt, SendError};

/// APNs' production endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.push.apple.com";
/// APNs' development endpoint, for apps signed with the development entitlement.
pub const SANDBOX_BASE_URL: &str = "https://api.sandbox.push.apple.com";

/// How long one provider token is used: past Apple's twenty-minute floor on refreshing, well
/// short of its one-hour ceiling.
pub const TOKEN_REUSE: Duration = Duration::from_secs(40 * 60);

/// The key and names a provider token is made from, and where to send.
#[derive(Clone, PartialEq, Eq)]
pub struct ApnsConfig {
    /// Scheme and host of APNs, without a trailing path.
    pub base_url: String,
    /// The `.p8` signing key from the developer account: PKCS#8 P-256, PEM.
    pub key_pem: String,
    /// The key's 10-character id.
    pub key_id: String,
    /// The 10-character team id.
    pub team_id: String,
    /// The app's bundle id.
    pub topic: String,
}

impl ApnsConfig {
    /// Production APNs.
    pub fn new(
        key_pem: impl Into<String>,
        key_id: impl Into<String>,
        team_id: impl Into<String>,
        topic: impl Into<String>,
    ) -> Self {
        ApnsConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            key_pem: key_pem.into(),
            key_id: key_id.into(),
            team_id: team_id.into(),
            topic: topic.into(),
        }
    }
}

impl fmt::Debug for ApnsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsConfig")
            .field("base_url", &self.base_url)
            .field("key_pem", &"<redacted>")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("topic", &self.topic)
            .finish()
    }
}

/// An APNs client for one app. Share it: it holds one HTTP/2 connection pool and one provider
/// token, and Apple prefers few long-lived connections to many.
pub struct Apns {
    client: reqwest::Client,
    base_url: String,
    key: EncodingKey,
    key_id: String,
    team_id: String,
    topic: String,
    // Signing takes well under a millisecond, so a plain lock held while signing is fine.
    token: Mutex<Option<ProviderToken>>,
}

impl fmt::Debug for Apns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Apns")
            .field("base_url", &self.base_url)
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct ProviderToken {
    jwt: String,
    /// The token's `iat`. Its age is measured by the wall clock because that is how Apple
    /// measures it.
    issued_at: i64,
}

#[derive(Serialize)]
struct ProviderClaims<'a> {
    iss: &'a str,
    iat: i64,
}

enum Attempt {
    Sent(Receipt),
    /// Apple called the provider token stale: worth one retry with a new one.
    ExpiredToken(String),
}

impl Apns {
    /// Checks the key and builds the HTTP/2 client; nothing is sent until the first push.
    pub fn new(config: ApnsConfig) -> Result<Self, ConfigError> {
        let key = EncodingKey::from_ec_pem(config.key_pem.as_bytes())
            .map_err(|e| ConfigError::InvalidKey(format!("not a PKCS#8 P-256 PEM key: {e}")))?;
        for (name, value) in [
            ("key_id", &config.key_id),
            ("team_id", &config.team_id),
            ("topic", &config.topic),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::MissingField(name));
            }
        }
        let client = crate::http::client_builder()
            .http2_prior_knowledge()
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(Apns {
            client,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            key,
            key_id: config.key_id,
            team_id: config.team_id,
            topic: config.topic,
            token: Mutex::new(None),
        })
    }

    /// Sends one alert. The receipt's `provider_id` is the `apns-id` Apple answered with, which
    /// is the one sent: see [`apns_id`].
    pub async fn send(&self, push: &Push) -> Result<Receipt, SendError> {
        // Device tokens are hex; anything else would also change the request's path.
        if push.token.is_empty() || !push.token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SendError::InvalidRecipient(
                "APNs: a device token must be non-empty hex".into(),
            ));
        }
        let id = apns_id(&push.id);
        let payload = payload(push);
        let jwt = self.provider_token()?;
        match self.attempt(&jwt, &push.token, &id, &payload).await? {
            Attempt::Sent(receipt) => Ok(receipt),
            Attempt::ExpiredToken(detail) => {
                tracing::info!(%detail, "APNs called the provider token stale; making a new one");
                let jwt = self.renew_token(&jwt)?;
                match self.attempt(&jwt, &push.token, &id, &payload).await? {
                    Attempt::Sent(receipt) => Ok(receipt),
                    Attempt::ExpiredToken(detail) => Err(SendError::Permanent(format!(
                        "{detail}, even for a token just made: is this machine's clock right?"
                    ))),
                }
            }
        }
    }

    async fn attempt(
        &self,
        jwt: &str,
        device: &str,
        id: &Uuid,
        payload: &Value,
    ) -> Result<Attempt, SendError> {
        let sent_id = id.hyphenated().to_string();
        let response = self
            .client
            .post(format!("{}/3/device/{device}", self.base_url))
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", &self.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", "10")
            .header("apns-id", &sent_id)
            .json(payload)
            .send()
            .await
            .map_err(|e| transport_error("APNs", e))?;
        let status = response.status().as_u16();
        if status == 200 {
            let answered = response
                .headers()
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Ok(Attempt::Sent(Receipt {
                provider_id: Some(answered.unwrap_or(sent_id)),
            }));
        }
        // A body that cannot be read still leaves the status to go by.
        let text = response.text().await.unwrap_or_default();
        let reason = serde_json::from_str::<ErrorBody>(&text)
            .ok()
            .and_then(|b| b.reason);
        let detail = match &reason {
            Some(reason) => format!("APNs {status} {reason}"),
            None => format!("APNs {status}: {}", excerpt(&text)),
        };
        match classify(status, reason.as_deref()) {
            Class::ExpiredToken => Ok(Attempt::ExpiredToken(detail)),
            Class::InvalidRecipient => Err(SendError::InvalidRecipient(detail)),
            Class::Transient => Err(SendError::Transient(detail)),
            Class::Permanent => Err(SendError::Permanent(detail)),
        }
    }

    /// The current provider token, made anew once the cached one is [`TOKEN_REUSE`] old.
    fn provider_token(&self) -> Result<String, SendError> {
        let mut cached = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        let now = unix_now();
        if let Some(token) = cached.as_ref()
            && still_usable(token.issued_at, now)
        {
            return Ok(token.jwt.clone());
        }
        let fresh = self.sign(now)?;
        *cached = Some(fresh.clone());
        Ok(fresh.jwt)
    }

    /// Replaces the token Apple refused, unless a concurrent send already has.
    fn renew_token(&self, refused: &str) -> Result<String, SendError> {
        let mut cached = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(token) = cached.as_ref()
            && token.jwt != refused
        {
            return Ok(token.jwt.clone());
        }
        let fresh = self.sign(unix_now())?;
        *cached = Some(fresh.clone());
        Ok(fresh.jwt)
    }

    fn sign(&self, iat: i64) -> Result<ProviderToken, SendError> {
        // Apple's token header is exactly `alg` and `kid`.
        let mut header = Header::new(Algorithm::ES256);
        header.typ = None;
        header.kid = Some(self.key_id.clone());
        let claims = ProviderClaims {
            iss: &self.team_id,
            iat,
        };
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            SendError::Permanent(format!("APNs: cannot sign the provider token: {e}"))
        })?;
        Ok(ProviderToken {
            jwt,
            issued_at: iat,
        })
    }
}

fn still_usable(issued_at: i64, now: i64) -> bool {
    let age = now - issued_at;
    // A clock that went backwards makes the age negative; Apple's opinion of such a token is
    // unknown, so it is replaced.
    (0..TOKEN_REUSE.as_secs() as i64).contains(&age)
}

/// The `apns-id` for a Herald message: the message id itself when it is a UUID, otherwise a
/// UUID (version 8) made from the first 16 bytes of its SHA-256. Either way a retry of the same
/// message carries the same id, so Apple's answers and logs line up with Herald's.
pub fn apns_id(message_id: &str) -> Uuid {
    if let Ok(uuid) = Uuid::try_parse(message_id) {
        return uuid;
    }
    let digest = Sha256::digest(message_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// `{"aps": {"alert": {"title", "body"}}, ...data}`. A data key `aps` is dropped: it would
/// replace the alert.
fn payload(push: &Push) -> Value {
    let mut root: Map<String, Value> = push
        .data
        .iter()
        .filter(|(k, _)| k.as_str() != "aps")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if push.data.contains_key("aps") {
        tracing::warn!(id = %push.id, "APNs: ignoring the data key `aps`, which is Apple's");
    }
    root.insert(
        "aps".into(),
        json!({ "alert": { "title": push.title, "body": push.body } }),
    );
    Value::Object(root)
}

#[derive(Deserialize)]
struct ErrorBody {
    reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    ExpiredToken,
    InvalidRecipient,
    Transient,
    Permanent,
}

fn classify(status: u16, reason: Option<&str>) -> Class {
    match (status, reason) {
        (403, Some("ExpiredProviderToken")) => Class::ExpiredToken,
        // Unregistered, or ExpiredToken: the device token is no longer good for this app.
        (410, _) => Class::InvalidRecipient,
        (400, Some("BadDeviceToken" | "DeviceTokenNotForTopic")) => Class::InvalidRecipient,
        // TooManyRequests (one device) and TooManyProviderTokenUpdates both ease with time.
        (429, _) => Class::Transient,
        (500.., _) => Class::Transient,
        _ => Class::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../tests/keys/apns-test-only-ec-private.p8");

    fn client() -> Apns {
        let mut config = ApnsConfig::new(KEY, "KEYID12345", "TEAMID1234", "com.example.app");
        config.base_url = "http://127.0.0.1:9".into();
        Apns::new(config).expect("the test key is a P-256 key")
    }

    #[test]
    fn a_token_is_reused_then_replaced_after_the_reuse_window() {
        assert!(TOKEN_REUSE >= Duration::from_secs(20 * 60));
        assert!(TOKEN_REUSE <= Duration::from_secs(50 * 60));

        let apns = client();
        let first = apns.provider_token().expect("signs");
        assert_eq!(apns.provider_token().expect("signs"), first);

        // Age the cached token past the window, as if 41 minutes had gone by.
        let old_iat = unix_now() - 41 * 60;
        *apns.token.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(apns.sign(old_iat).expect("signs"));
        let aged = apns
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let renewed = apns.provider_token().expect("signs");
        assert_ne!(Some(renewed.clone()), aged.map(|t| t.jwt));
        let claims: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(&renewed).expect("a JWT");
        assert!(
            claims["iat"]
                .as_i64()
                .is_some_and(|iat| iat > old_iat + 40 * 60)
        );
    }

    #[test]
    fn usable_ages() {
        assert!(still_usable(1000, 1000));
        assert!(still_usable(1000, 1000 + 39 * 60));
        assert!(!still_usable(1000, 1000 + 40 * 60));
        assert!(!still_usable(1000, 999));
    }

    #[test]
    fn renewing_keeps_a_token_another_send_already_replaced() {
        let apns = client();
        let current = apns.provider_token().expect("signs");
        assert_eq!(
            apns.renew_token("some older token").expect("signs"),
            current
        );
    }

    #[test]
    fn apns_ids_are_stable_uuids() {
        let a = apns_id("msg-1");
        assert_eq!(a, apns_id("msg-1"));
        assert_ne!(a, apns_id("msg-2"));
        assert_eq!(a.get_version_num(), 8);
        let given = "0b7c5f1e-3d2a-4c8b-9f10-1234567890ab";
        assert_eq!(apns_id(given).hyphenated().to_string(), given);
    }

    #[test]
    fn documented_answers_sort_into_classes() {
        assert_eq!(
            classify(403, Some("ExpiredProviderToken")),
            Class::ExpiredToken
        );
        assert_eq!(
            classify(403, Some("InvalidProviderToken")),
            Class::Permanent
        );
        assert_eq!(classify(410, Some("Unregistered")), Class::InvalidRecipient);
        assert_eq!(
            classify(400, Some("BadDeviceToken")),
            Class::InvalidRecipient
        );
        assert_eq!(
            classify(400, Some("DeviceTokenNotForTopic")),
            Class::InvalidRecipient
        );
        assert_eq!(classify(400, Some("BadTopic")), Class::Permanent);
        assert_eq!(classify(413, Some("PayloadTooLarge")), Class::Permanent);
        assert_eq!(classify(429, Some("TooManyRequests")), Class::Transient);
        assert_eq!(classify(500, Some("InternalServerError")), Class::Transient);
        assert_eq!(classify(503, Some("ServiceUnavailable")), Class::Transient);
        assert_eq!(classify(404, None), Class::Permanent);
    }
}
