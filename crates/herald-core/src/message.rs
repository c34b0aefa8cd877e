//! The Segment-spec messages Herald accepts: `identify`, `track`, `page`, `screen`, `group`,
//! `alias`. A [`Message`] is what remains after [`crate::parse`] has checked a raw one.

use crate::ids::{AnonymousId, MessageId, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The call a message records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl MessageKind {
    pub const ALL: [MessageKind; 6] = [
        MessageKind::Identify,
        MessageKind::Track,
        MessageKind::Page,
        MessageKind::Screen,
        MessageKind::Group,
        MessageKind::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Identify => "identify",
            MessageKind::Track => "track",
            MessageKind::Page => "page",
            MessageKind::Screen => "screen",
            MessageKind::Group => "group",
            MessageKind::Alias => "alias",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A small stable number for storage.
    pub fn code(self) -> i64 {
        match self {
            MessageKind::Identify => 0,
            MessageKind::Track => 1,
            MessageKind::Page => 2,
            MessageKind::Screen => 3,
            MessageKind::Group => 4,
            MessageKind::Alias => 5,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        MessageKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A validated message, ready to be stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: MessageKind,
    /// The sender's id, or one Herald generated when the sender gave none.
    pub message_id: MessageId,
    pub user_id: Option<UserId>,
    pub anonymous_id: Option<AnonymousId>,
    /// `event` of a track call, `name` of a page or screen call.
    pub name: Option<String>,
    /// `previousId` of an alias call.
    pub previous_id: Option<String>,
    /// `groupId` of a group call.
    pub group_id: Option<String>,
    /// `traits` of an identify or group call; other calls' traits are not profile updates.
    pub traits: Option<Map<String, Value>>,
    /// When it happened, after clock-skew correction.
    pub timestamp: Timestamp,
    /// When Herald received it.
    pub received_at: Timestamp,
    /// The device's own time and send time, kept for export.
    pub original_timestamp: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    /// The message as sent (batch-level `context`/`integrations` merged in), compact JSON.
    pub body: Box<str>,
}

impl Message {
    /// Approximate bytes this message occupies, for batching decisions.
    pub fn weight(&self) -> usize {
        self.body.len() + 128
    }
}

/// Where a message goes. Journeys send on a channel, templates have one variant per channel, and
/// caps, quiet hours and consent are kept per channel.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Email,
        Channel::Sms,
        Channel::Push,
        Channel::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::parse(s)
            .ok_or_else(|| format!("unknown channel `{s}`: use email, sms, push or webhook"))
    }
}
