//! What the store keeps for journeys: versioned definitions and the global rules, each person's
//! runner state with its next wake-up, the running instances (for reports), the log of what the
//! runner did, and the outbox of messages handed to the message layer.
//!
//! Like the segment engine, the journey runner consumes the event log: it reads events after its
//! cursor and commits new states, outbox messages, actions, trait updates and the cursor together
//! ([`JourneyCommit`]). An outbox message's id is its idempotency key (journey, version, instance,
//! step), and inserting an id twice keeps the first: a crash between deciding and committing
//! replays the decision, and never sends twice or loses a send.

use herald_core::{ProfileId, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

/// One version of a journey definition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JourneyRecord {
    pub name: String,
    pub version: u32,
    /// The definition's JSON form.
    pub definition: Value,
    /// Whether new instances start on this version (at most one per name; none: retired).
    pub live: bool,
    pub created_at: Timestamp,
}

/// Where the journey runner has read up to in the event log and the profile log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JourneyCursor {
    pub events: u64,
    pub profile_log: u64,
}

/// A person's persisted runner state.
#[derive(Clone, Debug, PartialEq)]
pub struct JourneyState {
    pub profile: ProfileId,
    /// Opaque to the store (JSON); `None` deletes the person's state and instances.
    pub state: Option<Vec<u8>>,
    /// When the runner next has work for this person with no new event.
    pub due: Option<Timestamp>,
    /// The person's running instances, replacing the stored ones (for reports).
    pub instances: Vec<InstanceRow>,
}

/// A running instance, as reports see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstanceRow {
    pub id: String,
    pub journey: String,
    pub version: u32,
    pub step: u32,
    pub key: Option<String>,
    pub entered_at: Timestamp,
    pub wake: Option<Timestamp>,
}

/// Whether an outbox message is to be delivered or was skipped by a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Handed to the message layer, waiting for delivery.
    Queued,
    /// Not sent (a frequency cap, a missing address, no consent): `reason` says why.
    Skipped,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxStatus> {
        match s {
            "queued" => Some(OutboxStatus::Queued),
            "skipped" => Some(OutboxStatus::Skipped),
            _ => None,
        }
    }
}

/// A message a journey decided to send.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutboxMessage {
    /// Position in the outbox (assigned by the store; 0 in a commit).
    pub seq: u64,
    /// The message id, also its idempotency key.
    pub id: String,
    pub profile: ProfileId,
    pub journey: String,
    pub version: u32,
    pub instance: String,
    pub step: u32,
    /// `email`, `sms`, `push` or `webhook`.
    pub channel: String,
    /// The template; for a webhook step, the URL.
    pub template: String,
    /// `marketing` or `transactional`.
    pub class: String,
    pub status: OutboxStatus,
    pub reason: Option<String>,
    /// What the composer needs besides the profile: the trigger's properties, the key.
    pub context: Value,
    pub created_at: Timestamp,
    /// How delivery of a queued message went (none for a skipped one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::Delivery>,
}

/// One thing the runner did, for reports and per-step counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JourneyAction {
    pub at: Timestamp,
    pub journey: String,
    pub version: u32,
    pub instance: String,
    pub profile: ProfileId,
    pub step: Option<u32>,
    /// `enter`, `send`, `skip`, `defer`, `branch`, `set_trait`, `webhook`, `goal`, `exit`.
    pub action: String,
    /// The rest of the action (template, channel, arm, reason, ...).
    pub detail: Value,
}

/// Everything one step of the journey runner writes, applied atomically.
#[derive(Clone, Debug, Default)]
pub struct JourneyCommit {
    pub cursor: JourneyCursor,
    /// New versions to store (existing `(name, version)` pairs are left as they are); every
    /// stored version's `live` flag is set from this list for the names it contains.
    pub definitions: Option<Vec<JourneyRecord>>,
    /// Replaces the global rules (JSON form).
    pub rules: Option<Value>,
    pub states: Vec<JourneyState>,
    /// Inserted unless a message with the same id exists.
    pub messages: Vec<OutboxMessage>,
    pub actions: Vec<JourneyAction>,
    /// Trait updates (`set trait` steps): merged into the profile's traits, and recorded in the
    /// event log as an `identify` of the profile from the `journeys` source, so segments see
    /// them.
    pub traits: Vec<(ProfileId, Map<String, Value>, Timestamp)>,
}

/// Counts of one kind of action at one step of a journey version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepCount {
    pub journey: String,
    pub version: u32,
    pub step: Option<u32>,
    pub action: String,
    pub count: u64,
}

/// Running instances at one step of a journey version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Waiting {
    pub journey: String,
    pub version: u32,
    pub step: u32,
    pub count: u64,
}
