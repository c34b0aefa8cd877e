//! Events of the log as the segment engine reads them.
//!
//! The log keeps each message as the JSON it was sent in; the engine needs its properties or
//! traits as a map. Bodies are parsed only for events the program can care about.

use herald_core::{MessageKind, StoredEvent, Timestamp};
use herald_segments::engine::{Input, Program};
use serde_json::{Map, Value};

/// An event with its body parsed, owning what an [`Input`] borrows.
pub struct Parsed {
    pub kind: MessageKind,
    pub name: Option<String>,
    pub timestamp: Timestamp,
    pub properties: Map<String, Value>,
    pub traits: Option<Map<String, Value>>,
}

impl Parsed {
    /// `None` when no segment of `program` can be affected by the event.
    pub fn from_stored(program: &Program, e: &StoredEvent) -> Option<Parsed> {
        let name = match e.kind {
            MessageKind::Track => e.name.as_deref(),
            _ => None,
        };
        if !program.depends_on_event(name) && e.kind != MessageKind::Identify {
            return None;
        }
        let mut body = match serde_json::from_str::<Value>(&e.body) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut take = |key: &str| match body.remove(key) {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        let (properties, traits) = match e.kind {
            MessageKind::Identify => (Map::new(), take("traits")),
            _ => (take("properties").unwrap_or_default(), None),
        };
        Some(Parsed {
            kind: e.kind,
            name: name.map(str::to_owned),
            timestamp: e.timestamp,
            properties,
            traits,
        })
    }

    pub fn input(&self) -> Input<'_> {
        Input {
            kind: self.kind,
            name: self.name.as_deref(),
            timestamp: self.timestamp,
            properties: &self.properties,
            traits: self.traits.as_ref(),
        }
    }
}
