//! Twilio Programmable Messaging: sending one SMS through the Messages resource, and reading
//! the status callbacks Twilio posts back.
//!
//! Sending is `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, with
//! HTTP Basic authentication (account SID and auth token). Twilio answers `201 Created` with the
//! new Message resource, whose `sid` is what its later status callbacks name. Refusals carry a
//! JSON body with Twilio's numeric error `code` and a `message`; [`Twilio::send`] sorts them into
//! the [`SendError`] classes:
//!
//! * 429 (Twilio error 20429: "never processed and always safe to retry"), 5xx, and failures to
//!   reach Twilio at all are [`SendError::Transient`];
//! * error codes that condemn the recipient itself ([`is_invalid_recipient_code`]: an invalid
//!   number, a landline, a short code, one that replied STOP) are [`SendError::InvalidRecipient`];
//! * everything else, bad credentials (401) included, is [`SendError::Permanent`].
//!
//! Status callbacks are form posts signed with `X-Twilio-Signature`; check them with
//! [`verify_signature`] before believing them, then read them with
//! [`StatusCallback::from_params`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use sha1::Sha1;

use crate::{Receipt, SendError};

/// Where Twilio's REST API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// How to reach Twilio and whom to send as.
///
/// At least one of `from` and `messaging_service_sid` must be set. Twilio accepts both at once,
/// sending from `from` with the Messaging Service's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    /// Scheme and host of the API, without a trailing path; [`DEFAULT_BASE_URL`] unless testing.
    pub base_url: String,
    /// The account's SID (`AC…`), the Basic-auth user name and part of the request path.
    pub account_sid: String,
    /// The account's auth token: the Basic-auth password and the key of callback signatures.
    pub auth_token: String,
    /// A Twilio number in E.164 form, or an alphanumeric sender ID.
    pub from: Option<String>,
    /// A Messaging Service (`MG…`) that picks the sender from its pool.
    pub messaging_service_sid: Option<String>,
    /// Where Twilio should post status callbacks for each message sent.
    pub status_callback: Option<String>,
}

impl TwilioConfig {
    /// A configuration for the real API with no sender yet; set `from` or
    /// `messaging_service_sid` before sending.
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>) -> Self {
        TwilioConfig {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            ..TwilioConfig::default()
        }
    }
}

impl Default for TwilioConfig {
    fn default() -> Self {
        TwilioConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            account_sid: String::new(),
            auth_token: String::new(),
            from: None,
            messaging_service_sid: None,
            status_callback: None,
        }
    }
}

// Written by hand so the auth token never reaches a log line through `{:?}`.
impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("from", &self.from)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("status_callback", &self.status_callback)
            .finish()
    }
}

/// One text message, ready to go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sms {
    /// Herald's id for the message; it goes to the logs, not to Twilio.
    pub id: String,
    /// The recipient, in E.164 form (`+14155550100`).
    pub to: String,
    /// The text. Twilio splits long texts into segments itself.
    pub body: String,
}

/// A client of Twilio's Messages resource for one account.
#[derive(Clone, Debug)]
pub struct Twilio {
    config: TwilioConfig,
    client: reqwest::Client,
}

impl Twilio {
    /// A client on the shared HTTP settings of [`crate::http`].
    pub fn new(config: TwilioConfig) -> Twilio {
        Twilio::with_client(config, crate::http::client())
    }

    /// A client on an HTTP client of the caller's (other timeouts, a proxy).
    pub fn with_client(config: TwilioConfig, client: reqwest::Client) -> Twilio {
        Twilio { config, client }
    }

    pub fn config(&self) -> &TwilioConfig {
        &self.config
    }

    /// Asks Twilio to send `sms`; the receipt holds the new Message's SID.
    pub async fn send(&self, sms: &Sms) -> Result<Receipt, SendError> {
        if self.config.from.is_none() && self.config.messaging_service_sid.is_none() {
            return Err(SendError::Permanent(
                "Twilio needs a sender: configure `from` (a Twilio number or alphanumeric \
                 sender ID) or `messaging_service_sid`"
                    .to_owned(),
            ));
        }
        let url = self.messages_url()?;

        let mut form: Vec<(&str, &str)> = vec![("To", &sms.to)];
        if let Some(from) = &self.config.from {
            form.push(("From", from));
        }
        if let Some(service) = &self.config.messaging_service_sid {
            form.push(("MessagingServiceSid", service));
        }
        form.push(("Body", &sms.body));
        if let Some(callback) = &self.config.status_callback {
            form.push(("StatusCallback", callback));
        }

        let response = self
            .client
            .post(url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| crate::http::unreached("Twilio", e))?;

        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match response.bytes().await {
            Ok(body) => body,
            // Twilio has already taken the message: sending it again would text the person
            // twice, so a lost answer costs only the SID.
            Err(e) if status.is_success() => {
                tracing::warn!(message_id = %sms.id, error = %crate::http::unreached("Twilio", e), "Twilio accepted the message but its answer could not be read");
                return Ok(Receipt { provider_id: None });
            }
            Err(_) => Default::default(),
        };

        if status.is_success() {
            let sid = serde_json::from_slice::<Created>(&body)
                .ok()
                .and_then(|created| created.sid);
            match &sid {
                Some(sid) => {
                    tracing::debug!(message_id = %sms.id, sid = %sid, "Twilio took the message")
                }
                None => {
                    tracing::warn!(message_id = %sms.id, %status, "Twilio took the message but its answer has no sid")
                }
            }
            return Ok(Receipt { provider_id: sid });
        }
        let error = classify(status, &body, retry_after.as_deref());
        tracing::debug!(message_id = %sms.id, %error, "Twilio refused the message");
        Err(error)
    }

    fn messages_url(&self) -> Result<Url, SendError> {
        let bad_base = |why: String| {
            SendError::Permanent(format!(
                "the Twilio base URL `{}` is not usable: {why}; expected something like {DEFAULT_BASE_URL}",
                self.config.base_url
            ))
        };
        let mut url = Url::parse(&self.config.base_url).map_err(|e| bad_base(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad_base("it is not http or https".to_owned()));
        }
        // Pushed as a segment, so a stray `/` or `?` in a mistyped SID is escaped rather than
        // changing which resource is addressed.
        url.path_segments_mut()
            .map_err(|()| bad_base("it cannot take a path".to_owned()))?
            .pop_if_empty()
            .extend([
                "2010-04-01",
                "Accounts",
                &self.config.account_sid,
                "Messages.json",
            ]);
        Ok(url)
    }
}

/// Twilio error codes, answered when creating a Message, that mean the recipient's number
/// itself can never take SMS from this sender: 21211 (invalid `To` number), 21265 (`To` is a
/// short code), 21610 (the recipient replied STOP), 21614 (`To` is not a mobile number), 21635
/// (`To` is a landline).
pub fn is_invalid_recipient_code(code: u32) -> bool {
    matches!(code, 21211 | 21265 | 21610 | 21614 | 21635)
}

#[derive(Deserialize)]
struct Created {
    sid: Option<String>,
}

#[derive(Deserialize)]
struct TwilioErrorBody {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

fn classify(status: StatusCode, body: &[u8], retry_after: Option<&str>) -> SendError {
    let parsed = serde_json::from_slice::<TwilioErrorBody>(body).ok();
    let code = parsed.as_ref().and_then(|e| e.code);
    let mut reason = format!("Twilio answered {status}");
    match &parsed {
        Some(error) => {
            if let Some(message) = &error.message {
                reason.push_str(&format!(": {message}"));
            }
            if let Some(code) = error.code {
                reason.push_str(&format!(" (Twilio error {code}"));
                if let Some(more) = &error.more_info {
                    reason.push_str(&format!(", {more}"));
                }
                reason.push(')');
            }
        }
        None => {
            let text = crate::http::excerpt(body);
            if !text.is_empty() {
                reason.push_str(&format!(": {text}"));
            }
        }
    }

    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        if let Some(after) = retry_after {
            reason.push_str(&format!("; retry after {after}"));
        }
        return SendError::Transient(reason);
    }
    if code.is_some_and(is_invalid_recipient_code) {
        return SendError::InvalidRecipient(reason);
    }
    if status == StatusCode::UNAUTHORIZED {
        reason.push_str("; check the account SID and auth token");
    }
    SendError::Permanent(reason)
}

type HmacSha1 = Hmac<Sha1>;

/// The `X-Twilio-Signature` Twilio would send for a POST of `params` to `url`: base64 of the
/// HMAC-SHA1, keyed with the auth token, of the full URL (query string included) followed by
/// every parameter's name and value, sorted by name. Tests use it to play Twilio.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(
        signature_mac(auth_token, url, params)
            .finalize()
            .into_bytes(),
    )
}

/// Whether `signature` (the `X-Twilio-Signature` header) proves that Twilio posted `params`
/// (the decoded form fields, all of them) to `url` (exactly as Twilio called it, scheme, port
/// and query string included). Compares in constant time.
pub fn verify_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    // An empty key is one anybody can sign with: a missing token must not let everything in.
    if auth_token.is_empty() {
        return false;
    }
    let Ok(claimed) = STANDARD.decode(signature) else {
        return false;
    };
    signature_mac(auth_token, url, params)
        .verify_slice(&claimed)
        .is_ok()
}

fn signature_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    // By name as Twilio documents; by value too, so repeated names come out the same every time.
    sorted.sort();
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// Where a message stands, as Twilio's `MessageStatus` names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    Queued,
    Accepted,
    Scheduled,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Read,
    Canceled,
    PartiallyDelivered,
    Receiving,
    Received,
    /// A status this version does not know; Twilio adds them from time to time.
    Other(String),
}

impl MessageStatus {
    pub fn parse(status: &str) -> MessageStatus {
        match status {
            "queued" => MessageStatus::Queued,
            "accepted" => MessageStatus::Accepted,
            "scheduled" => MessageStatus::Scheduled,
            "sending" => MessageStatus::Sending,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "undelivered" => MessageStatus::Undelivered,
            "failed" => MessageStatus::Failed,
            "read" => MessageStatus::Read,
            "canceled" => MessageStatus::Canceled,
            "partially_delivered" => MessageStatus::PartiallyDelivered,
            "receiving" => MessageStatus::Receiving,
            "received" => MessageStatus::Received,
            other => MessageStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Accepted => "accepted",
            MessageStatus::Scheduled => "scheduled",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Undelivered => "undelivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Read => "read",
            MessageStatus::Canceled => "canceled",
            MessageStatus::PartiallyDelivered => "partially_delivered",
            MessageStatus::Receiving => "receiving",
            MessageStatus::Received => "received",
            MessageStatus::Other(other) => other,
        }
    }

    /// The handset has it (`read` comes after `delivered` on channels that report reading).
    pub fn is_delivered(&self) -> bool {
        matches!(self, MessageStatus::Delivered | MessageStatus::Read)
    }

    /// It will not arrive; the callback's error code says why.
    pub fn is_failure(&self) -> bool {
        matches!(self, MessageStatus::Undelivered | MessageStatus::Failed)
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one status callback says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCallback {
    /// The Message's SID, the [`Receipt::provider_id`] of its send.
    pub message_sid: String,
    pub status: MessageStatus,
    /// Twilio's error code, on `failed` and `undelivered`.
    pub error_code: Option<u32>,
    pub to: Option<String>,
    pub from: Option<String>,
    /// Worth comparing with the configured account when several post to one endpoint.
    pub account_sid: Option<String>,
}

impl StatusCallback {
    /// Reads the form fields of a callback. Check [`verify_signature`] first: this believes what
    /// it is given.
    pub fn from_params(params: &[(String, String)]) -> Result<StatusCallback, String> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        // `SmsSid`/`SmsStatus` are the older names Twilio still sends alongside.
        let message_sid = get("MessageSid")
            .or_else(|| get("SmsSid"))
            .ok_or("a Twilio status callback needs a MessageSid field")?;
        let status = get("MessageStatus")
            .or_else(|| get("SmsStatus"))
            .ok_or("a Twilio status callback needs a MessageStatus field")?;
        let error_code = get("ErrorCode")
            .map(|code| {
                code.parse::<u32>().map_err(|_| {
                    format!("the ErrorCode of a Twilio status callback is a number, not `{code}`")
                })
            })
            .transpose()?;
        Ok(StatusCallback {
            message_sid: message_sid.to_owned(),
            status: MessageStatus::parse(status),
            error_code,
            to: get("To").map(str::to_owned),
            from: get("From").map(str::to_owned),
            account_sid: get("AccountSid").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> TwilioConfig {
        TwilioConfig {
            base_url: base.to_owned(),
            account_sid: "AC123".to_owned(),
            ..TwilioConfig::default()
        }
    }

    #[test]
    fn messages_url_is_built_from_segments() {
        let twilio = Twilio::new(config("https://api.twilio.com"));
        assert_eq!(
            twilio.messages_url().map(|u| u.to_string()),
            Ok("https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json".to_owned())
        );
        let twilio = Twilio::new(config("http://127.0.0.1:9/"));
        assert_eq!(
            twilio.messages_url().map(|u| u.to_string()),
            Ok("http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json".to_owned())
        );
        let mut odd = config("https://api.twilio.com");
        odd.account_sid = "AC1/../x?y".to_owned();
        let url = Twilio::new(odd).messages_url().map(|u| u.to_string());
        assert_eq!(
            url,
            Ok(
                "https://api.twilio.com/2010-04-01/Accounts/AC1%2F..%2Fx%3Fy/Messages.json"
                    .to_owned()
            )
        );
    }

    #[test]
    fn unusable_base_urls_are_permanent() {
        for base in ["api.twilio.com", "ftp://api.twilio.com", "mailto:x@y"] {
            match Twilio::new(config(base)).messages_url() {
                Err(SendError::Permanent(reason)) => assert!(reason.contains(base), "{reason}"),
                other => panic!("{base}: {other:?}"),
            }
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            "queued",
            "accepted",
            "scheduled",
            "sending",
            "sent",
            "delivered",
            "undelivered",
            "failed",
            "read",
            "canceled",
            "partially_delivered",
            "receiving",
            "received",
            "something_new",
        ] {
            assert_eq!(MessageStatus::parse(s).as_str(), s);
        }
        assert_eq!(
            MessageStatus::parse("something_new"),
            MessageStatus::Other("something_new".into())
        );
    }
}
