//! A message as the event log holds it, and its JSON view for APIs and export.

use crate::ids::ProfileId;
use crate::message::MessageKind;
use crate::time::Timestamp;
use serde_json::{Map, Value};

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Position in the log: strictly increasing in commit order.
    pub seq: u64,
    pub profile_id: ProfileId,
    pub kind: MessageKind,
    pub name: Option<String>,
    pub message_id: String,
    pub timestamp: Timestamp,
    pub received_at: Timestamp,
    /// The message as it was sent (see [`crate::Message::body`]).
    pub body: Box<str>,
}

impl StoredEvent {
    /// The event as Segment would show it: the message as sent, with `type`, `messageId`, the
    /// corrected `timestamp` and `receivedAt` filled in by Herald.
    pub fn to_json(&self) -> Value {
        let mut map: Map<String, Value> = match serde_json::from_str(&self.body) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        if let Some(original) = map.remove("timestamp") {
            map.entry("originalTimestamp").or_insert(original);
        }
        map.insert("type".into(), Value::from(self.kind.as_str()));
        map.insert("messageId".into(), Value::from(self.message_id.clone()));
        map.insert("timestamp".into(), Value::from(self.timestamp.to_string()));
        map.insert(
            "receivedAt".into(),
            Value::from(self.received_at.to_string()),
        );
        map.remove("writeKey");
        Value::Object(map)
    }

    /// Properties of a track, page or screen call (empty when absent).
    pub fn properties(&self) -> Map<String, Value> {
        match serde_json::from_str::<Value>(&self.body) {
            Ok(Value::Object(mut map)) => match map.remove("properties") {
                Some(Value::Object(props)) => props,
                _ => Map::new(),
            },
            _ => Map::new(),
        }
    }
}
