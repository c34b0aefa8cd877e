//! What the store keeps for delivery: the send queue over the outbox, consent, and the
//! suppression list.
//!
//! Every queued outbox message gets a delivery in the same commit that queues it, so nothing a
//! journey decided can be lost between deciding and sending. The dispatcher *claims* due
//! deliveries, which leases them (their due time moves to the end of the lease and the attempt is
//! counted); a dispatcher that dies mid-send leaves its lease to run out, and the message is
//! claimed again. A [`MessageCommit`] records outcomes together with the events they raise
//! (`Email Delivered`, `Unsubscribed`, ...), the consent and the suppressions they change, all
//! in one transaction.

use herald_core::consent::Consent;
use herald_core::{Message, ProfileId, Timestamp};
use serde::Serialize;

/// Where a message is on its way out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its due time (a first attempt, a retry, or a lease running out).
    Pending,
    /// Taken by the provider.
    Delivered,
    /// Not sent because the person may not be sent it: `error` says why (no consent, a
    /// suppressed address, no address).
    Suppressed,
    /// Given up: a permanent error, or retries exhausted. The dead-letter list.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Suppressed => "suppressed",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "suppressed" => DeliveryState::Suppressed,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }
}

/// A queued message's delivery.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    pub state: DeliveryState,
    /// Attempts begun so far (a claim counts as one).
    pub attempts: u32,
    /// While pending: when it is next due.
    pub due: Option<Timestamp>,
    /// The address, phone number, device token or URL it went (or was to go) to.
    pub address: Option<String>,
    /// The provider's id for it, to match callbacks.
    pub provider_id: Option<String>,
    /// The last error, or why it was suppressed.
    pub error: Option<String>,
    pub updated_at: Timestamp,
}

/// A change to one delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryUpdate {
    pub message_id: String,
    pub state: DeliveryState,
    /// For a pending delivery: the next attempt.
    pub due: Option<Timestamp>,
    pub address: Option<String>,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub at: Timestamp,
}

/// An address that no message may go to (a hard bounce, a complaint, by hand).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// `email`, `sms` or `push`.
    pub channel: String,
    /// Lowercased email address, E.164 number, or device token.
    pub address: String,
    /// `hard_bounce`, `complaint`, `invalid_token`, `manual`.
    pub reason: String,
    pub detail: Option<String>,
    pub at: Timestamp,
}

/// A consent change of one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentChange {
    pub profile: ProfileId,
    pub consent: Consent,
}

/// Outcomes, events, consent and suppressions, written together.
#[derive(Clone, Debug, Default)]
pub struct MessageCommit {
    pub updates: Vec<DeliveryUpdate>,
    pub consent: Vec<ConsentChange>,
    pub suppress: Vec<Suppression>,
    /// Suppressions lifted, by (channel, address).
    pub unsuppress: Vec<(String, String)>,
    /// Events raised, appended under the store's `messages` source.
    pub events: Vec<Message>,
}

impl MessageCommit {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
            && self.consent.is_empty()
            && self.suppress.is_empty()
            && self.unsuppress.is_empty()
            && self.events.is_empty()
    }
}

/// The source under which delivery, unsubscribe and feedback events are appended.
pub const MESSAGES_SOURCE: &str = "messages";

/// A claimed delivery: the outbox message and the attempt this claim begins (1 for the first).
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    pub message: crate::OutboxMessage,
    pub attempt: u32,
}
