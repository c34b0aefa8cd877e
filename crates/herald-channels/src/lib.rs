//! Herald's outbound channels, each a client of a real provider, and the feedback those
//! providers send back.
//!
//! * [`email`]: SMTP through pooled connections, DKIM-signed MIME, and the mail system's reports
//!   (RFC 3464 delivery status notifications, RFC 5965 abuse reports).
//! * [`sms`]: Twilio's Messages API and its signed status callbacks.
//! * [`push`]: Firebase Cloud Messaging (HTTP v1) and Apple Push Notification service.
//! * [`webhook`]: JSON posts signed as Standard Webhooks.
//!
//! Every client sends one finished message and answers with a [`Receipt`] or a [`SendError`]
//! that says whether trying again can help. Deciding what to send, to whom, when and how often
//! to retry belongs to `herald-messages`; nothing here reads a store.

pub mod email;
pub mod http;
pub mod push;
pub mod sms;
pub mod webhook;

/// What a provider said when it took a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's own id for the message (Twilio's SID, FCM's message name, APNs'
    /// `apns-id`, the SMTP server's queue reply), for matching its later callbacks.
    pub provider_id: Option<String>,
}

/// Why a message was not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the provider is down, slow, rate-limiting, or answered 5xx.
    #[error("transient: {0}")]
    Transient(String),
    /// Will fail again however often it is tried (bad request, rejected content, bad
    /// credentials).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The recipient itself is no good (an invalid or unregistered device token, an invalid phone
    /// number, a mailbox that does not exist): stop using it.
    #[error("invalid recipient: {0}")]
    InvalidRecipient(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
}
