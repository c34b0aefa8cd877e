//! Push notifications: Firebase Cloud Messaging's HTTP v1 API ([`fcm`]) for Android and Apple
//! Push Notification service's provider API with token-based auth ([`apns`]) for iOS.
//!
//! Both take the same [`Push`]: a device token, a visible title and body, and a flat map of
//! extra data the app reads. Which platform a token belongs to is the caller's knowledge
//! ([`Platform`]); neither provider can tell from the token alone.

pub mod apns;
pub mod fcm;

use serde_json::{Map, Value};

/// One notification for one device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Push {
    /// Herald's own id for the message. APNs' `apns-id` is derived from it, so a retry of the
    /// same message carries the same id.
    pub id: String,
    /// The device's registration token (FCM) or device token (APNs, hex).
    pub token: String,
    pub title: String,
    pub body: String,
    /// Extra key/values for the app. FCM only carries strings, so other values are sent there
    /// as their JSON text; APNs carries them as they are, beside `aps`.
    pub data: Map<String, Value>,
}

/// The kind of device a token was registered on, which decides the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Apple devices, through APNs.
    Ios,
    /// Android devices, through FCM.
    Android,
}

/// Why a push client could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The credentials file was not JSON, or not the expected shape.
    #[error("credentials are not valid JSON: {0}")]
    Json(String),
    /// The credentials file lacks a field the provider needs.
    #[error("credentials are missing the field `{0}`")]
    MissingField(&'static str),
    /// The private key is not a PEM key of the kind the provider signs with.
    #[error("the private key cannot be used: {0}")]
    InvalidKey(String),
    /// The HTTP client could not be built.
    #[error("the HTTP client cannot be built: {0}")]
    Client(String),
}

/// Seconds since the Unix epoch, for JWT `iat`/`exp`.
fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn transport_error(provider: &str, err: reqwest::Error) -> crate::SendError {
    crate::http::unreached(provider, err)
}

fn excerpt(body: &str) -> String {
    crate::http::excerpt(body.as_bytes())
}
