//! Events of the log as the segment engine reads them.
//!
//! The log keeps each message as the JSON it was sent in; the engine needs its properties or
//! traits as a map. Bodies are parsed only for events the program can care about, and
//! [`PropertyNeeds`] says which of their values the program reads.

use herald_core::{MessageKind, StoredEvent, Timestamp};
use herald_segments::ast::{Condition, EventSelector, Measure, PathStep, PropertyPath};
use herald_segments::engine::{Input, Program};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Which top-level properties (per event name) and traits the rules of a program read. Most
/// rules look only at an event's name and time, so a cache of the log keeps just these values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropertyNeeds {
    /// Keys read on events of a name; the `None` entry applies to every message.
    props: BTreeMap<Option<String>, BTreeSet<String>>,
    traits: BTreeSet<String>,
}

fn top(path: &PropertyPath) -> Option<&str> {
    match path.0.first() {
        Some(PathStep::Key(k)) => Some(k),
        _ => None,
    }
}

impl PropertyNeeds {
    pub fn of(program: &Program) -> Self {
        let mut needs = PropertyNeeds::default();
        for d in program.definitions() {
            needs.visit(&d.condition);
        }
        needs
    }

    /// Whether everything `other` reads is kept here.
    pub fn covers(&self, other: &PropertyNeeds) -> bool {
        other.traits.is_subset(&self.traits)
            && other
                .props
                .iter()
                .all(|(name, keys)| self.props.get(name).is_some_and(|k| keys.is_subset(k)))
    }

    pub fn extend(&mut self, other: &PropertyNeeds) {
        self.traits.extend(other.traits.iter().cloned());
        for (name, keys) in &other.props {
            self.props
                .entry(name.clone())
                .or_default()
                .extend(keys.iter().cloned());
        }
    }

    /// The property keys kept for a message with this event name.
    pub fn keys(&self, name: Option<&str>) -> impl Iterator<Item = &str> {
        let named = name.and_then(|n| self.props.get(&Some(n.to_owned())));
        named
            .into_iter()
            .chain(self.props.get(&None))
            .flatten()
            .map(String::as_str)
    }

    /// Whether any property of a message with this event name is kept.
    pub fn reads(&self, name: Option<&str>) -> bool {
        self.props.contains_key(&None)
            || name.is_some_and(|n| self.props.contains_key(&Some(n.to_owned())))
    }

    pub fn trait_keys(&self) -> &BTreeSet<String> {
        &self.traits
    }

    fn note(&mut self, events: &EventSelector, paths: &[&PropertyPath]) {
        let keys: Vec<&str> = events
            .filters
            .iter()
            .map(|f| &f.path)
            .chain(paths.iter().copied())
            .filter_map(top)
            .collect();
        if !keys.is_empty() {
            self.props
                .entry(events.event.clone())
                .or_default()
                .extend(keys.into_iter().map(str::to_owned));
        }
    }

    fn visit(&mut self, c: &Condition) {
        let read = |m: &Measure| match m {
            Measure::Count => None,
            Measure::Sum(p)
            | Measure::Avg(p)
            | Measure::Min(p)
            | Measure::Max(p)
            | Measure::Distinct(p) => Some(p.clone()),
        };
        match c {
            Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
                of.iter().for_each(|c| self.visit(c))
            }
            Condition::Not { condition } => self.visit(condition),
            Condition::Metric(m) => {
                let p = read(&m.measure);
                self.note(&m.events, &p.iter().collect::<Vec<_>>());
            }
            Condition::PerKey(k) => {
                let p = read(&k.measure);
                let mut paths: Vec<&PropertyPath> = p.iter().collect();
                paths.push(&k.key);
                self.note(&k.events, &paths);
            }
            Condition::Occurrence(o) => self.note(&o.events, &[]),
            Condition::Sequence(s) => {
                let on: Vec<&PropertyPath> = s.same.iter().collect();
                self.note(&s.first, &on);
                self.note(&s.second, &on);
            }
            Condition::Trait(t) => {
                if let Some(k) = top(&t.path) {
                    self.traits.insert(k.to_owned());
                }
            }
            Condition::Segment { .. } => {}
        }
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
        let name = match e.kind {
            MessageKind::Track => e.name.as_deref(),
            _ => None,
        };
        if !program.depends_on(e.kind, name) {
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
            properties: (&self.properties).into(),
            traits: self.traits.as_ref().map(Into::into),
            route: None,
        }
    }
}

/// The values of some top-level keys of one section (`properties` or `traits`) of a JSON body,
/// parsed without building anything else: `want` gives a key's id, or `None` to skip it. A body
/// that is not JSON, or whose section is not an object, has none. Like a JSON object, the last of
/// duplicate keys wins.
pub fn pick(body: &str, section: &str, want: &dyn Fn(&str) -> Option<u32>) -> Vec<(u32, Value)> {
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(body);
    let seed = Body {
        section,
        want,
        out: &mut out,
    };
    if seed.deserialize(&mut de).is_err() {
        out.clear();
    }
    out
}

struct Body<'a> {
    section: &'a str,
    want: &'a dyn Fn(&str) -> Option<u32>,
    out: &'a mut Vec<(u32, Value)>,
}

impl<'de> DeserializeSeed<'de> for Body<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Body<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a message object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(is_section) = map.next_key_seed(KeyIs(self.section))? {
            if is_section {
                self.out.clear();
                map.next_value_seed(Section {
                    want: self.want,
                    out: &mut *self.out,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Section<'a> {
    want: &'a dyn Fn(&str) -> Option<u32>,
    out: &'a mut Vec<(u32, Value)>,
}

impl<'de> DeserializeSeed<'de> for Section<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Section<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(id) = map.next_key_seed(KeyId(self.want))? {
            match id {
                Some(id) => {
                    let v: Value = map.next_value()?;
                    match self.out.iter_mut().find(|(k, _)| *k == id) {
                        Some(slot) => slot.1 = v,
                        None => self.out.push((id, v)),
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A key seed that only says whether the key is a given one (no copy of the key is made).
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// A key seed that maps the key to an id, or `None` for keys nobody wants.
struct KeyId<'a>(&'a dyn Fn(&str) -> Option<u32>);

impl<'de> DeserializeSeed<'de> for KeyId<'_> {
    type Value = Option<u32>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u32>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyId<'_> {
    type Value = Option<u32>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<u32>, E> {
        Ok((self.0)(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(text: &str) -> PropertyNeeds {
        PropertyNeeds::of(&Program::compile(&herald_segments::lang::parse(text).unwrap()).unwrap())
    }

    #[test]
    fn the_library_reads_few_values() {
        let n = PropertyNeeds::of(&Program::compile(&herald_segments::library::library()).unwrap());
        let keys = |name: &str| n.keys(Some(name)).collect::<Vec<_>>();
        assert_eq!(keys("Order Completed"), ["revenue"]);
        assert_eq!(keys("Product Viewed"), ["product_id"]);
        assert_eq!(keys("Form Started"), ["form_id"]);
        assert_eq!(keys("Email Link Clicked"), ["campaign_id", "link_url"]);
        assert!(keys("Feature Used").is_empty());
        assert!(!n.reads(Some("Feature Used")));
        assert!(!n.reads(None));
        assert_eq!(
            n.trait_keys()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["birthday", "plan"]
        );
    }

    #[test]
    fn picking_values_from_a_body() {
        let want = |k: &str| {
            ["a", "b", "n"]
                .iter()
                .position(|w| *w == k)
                .map(|i| i as u32)
        };
        let body = r#"{"traits":{"a":1},"properties":{"a":{"x":[1]},"z":"skip","n":null,"b":"\u00e9","a":2},"x":[]}"#;
        assert_eq!(
            pick(body, "properties", &want),
            [
                (0, serde_json::json!(2)),
                (2, Value::Null),
                (1, serde_json::json!("é"))
            ]
        );
        assert_eq!(pick(body, "traits", &want), [(0, serde_json::json!(1))]);
        assert!(pick(r#"{"properties":[1]}"#, "properties", &want).is_empty());
        assert!(pick("not json", "properties", &want).is_empty());
        assert!(pick(r#"{"properties":{"a":1}"#, "properties", &want).is_empty());
    }

    #[test]
    fn covering_and_extending() {
        let a = needs("segment a\n  sum(\"Order Completed\".revenue) >= 1");
        let b = needs("segment b\n  count(any where plan = \"x\") >= 1\n  and trait tier exists");
        assert!(!a.covers(&b) && !b.covers(&a));
        let mut both = a.clone();
        both.extend(&b);
        assert!(both.covers(&a) && both.covers(&b));
        // A key read on any message is kept for every event name.
        assert_eq!(
            both.keys(Some("Order Completed")).collect::<Vec<_>>(),
            ["revenue", "plan"]
        );
        assert!(both.reads(Some("Page Viewed")));
        assert!(PropertyNeeds::default().covers(&PropertyNeeds::default()));
    }
}
