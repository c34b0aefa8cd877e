//! Events of the log as the segment engine reads them.
//!
//! The log keeps each message as the JSON it was sent in; the engine needs its properties or
//! traits as a map. Bodies are parsed only for events the program can care about.

use herald_core::{MessageKind, StoredEvent, Timestamp};
use herald_segments::ast::{Condition, EventSelector, Measure};
use herald_segments::engine::{Input, Program};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Which events the program reads properties of. Most rules look only at an event's name and
/// time, and parsing a body is most of the cost of replaying history, so bodies of the others
/// are not parsed.
#[derive(Clone, Debug, Default)]
pub struct PropertyNeeds {
    /// Some rule on `any` event reads properties: every body is needed.
    all: bool,
    names: HashSet<String>,
}

impl PropertyNeeds {
    pub fn of(program: &Program) -> Self {
        let mut needs = PropertyNeeds::default();
        for d in program.definitions() {
            needs.visit(&d.condition);
        }
        needs
    }

    fn note(&mut self, events: &EventSelector, reads: bool) {
        if !reads && events.filters.is_empty() {
            return;
        }
        match &events.event {
            Some(name) => {
                self.names.insert(name.clone());
            }
            None => self.all = true,
        }
    }

    fn visit(&mut self, c: &Condition) {
        let reads = |m: &Measure| !matches!(m, Measure::Count);
        match c {
            Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
                of.iter().for_each(|c| self.visit(c))
            }
            Condition::Not { condition } => self.visit(condition),
            Condition::Metric(m) => self.note(&m.events, reads(&m.measure)),
            Condition::PerKey(p) => self.note(&p.events, true),
            Condition::Occurrence(o) => self.note(&o.events, false),
            Condition::Sequence(s) => {
                self.note(&s.first, s.same.is_some());
                self.note(&s.second, s.same.is_some());
            }
            Condition::Trait(_) | Condition::Segment { .. } => {}
        }
    }

    fn needs(&self, name: Option<&str>) -> bool {
        self.all || name.is_some_and(|n| self.names.contains(n))
    }
}

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
        Self::parse(program, None, e)
    }

    /// As [`Parsed::from_stored`], leaving properties unparsed where `needs` says no rule reads
    /// them.
    pub fn parse(
        program: &Program,
        needs: Option<&PropertyNeeds>,
        e: &StoredEvent,
    ) -> Option<Parsed> {
        let name = match e.kind {
            MessageKind::Track => e.name.as_deref(),
            _ => None,
        };
        if !program.depends_on(e.kind, name) {
            return None;
        }
        if e.kind != MessageKind::Identify && needs.is_some_and(|n| !n.needs(name)) {
            return Some(Parsed {
                kind: e.kind,
                name: name.map(str::to_owned),
                timestamp: e.timestamp,
                properties: Map::new(),
                traits: None,
            });
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
