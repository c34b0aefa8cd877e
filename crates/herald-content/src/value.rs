//! The values templates see: a JSON tree in which a missing key is `nil`, not an error.
//!
//! Stock `liquid` fails a render on an unknown variable or index. For lifecycle messages that is
//! wrong: traits and event properties vary per person, and a missing first name should fall back
//! to `default`, not drop the send. So the context is converted into [`Node`]s whose objects
//! answer every lookup; a missing key yields an absent value that renders empty, is falsy, takes
//! `default`, iterates as empty and can be indexed further (`recommendations.for_you` when there
//! are no recommendations at all).

use liquid_core::model::{
    ArrayView, DisplayCow, KStringCow, ObjectView, ScalarCow, State, Value, ValueView,
};
use std::collections::BTreeMap;
use std::fmt;

/// A value in the render context.
#[derive(Debug, Clone, Default)]
pub enum Node {
    /// Missing or JSON `null`.
    #[default]
    Absent,
    /// A string, number or boolean.
    Leaf(Value),
    List(List),
    Map(Map),
}

#[derive(Debug, Clone, Default)]
pub struct List(pub Vec<Node>);

#[derive(Debug, Clone, Default)]
pub struct Map(pub BTreeMap<String, Node>);

/// The top-level object: it claims every name, so `{{ anything }}` is absent rather than an
/// "unknown variable" error.
#[derive(Debug, Clone, Default)]
pub struct Root(pub Map);

static ABSENT: Node = Node::Absent;
static EMPTY: Map = Map(BTreeMap::new());

impl Node {
    pub fn from_json(v: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        match v {
            J::Null => Node::Absent,
            J::Bool(b) => Node::Leaf(Value::scalar(*b)),
            J::Number(n) => match n.as_i64() {
                Some(i) => Node::Leaf(Value::scalar(i)),
                None => Node::Leaf(Value::scalar(n.as_f64().unwrap_or(0.0))),
            },
            J::String(s) => Node::Leaf(Value::scalar(s.clone())),
            J::Array(a) => Node::List(List(a.iter().map(Node::from_json).collect())),
            J::Object(o) => Node::Map(Map::from_json(o)),
        }
    }

    pub fn string(s: impl Into<String>) -> Node {
        Node::Leaf(Value::scalar(s.into()))
    }

    fn view(&self) -> Option<&dyn ValueView> {
        match self {
            Node::Absent => None,
            Node::Leaf(v) => Some(v),
            Node::List(l) => Some(l),
            Node::Map(m) => Some(m),
        }
    }
}

impl Map {
    pub fn from_json(o: &serde_json::Map<String, serde_json::Value>) -> Map {
        Map(o
            .iter()
            .map(|(k, v)| (k.clone(), Node::from_json(v)))
            .collect())
    }

    pub fn insert(&mut self, key: &str, node: Node) {
        self.0.insert(key.to_owned(), node);
    }
}

fn owned_display<'a>(s: String) -> DisplayCow<'a> {
    DisplayCow::Owned(Box::new(s))
}

impl ValueView for Node {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        match self.view() {
            Some(v) => v.render(),
            None => DisplayCow::Borrowed(&""),
        }
    }
    fn source(&self) -> DisplayCow<'_> {
        match self.view() {
            Some(v) => v.source(),
            None => DisplayCow::Borrowed(&"nil"),
        }
    }
    fn type_name(&self) -> &'static str {
        self.view().map_or("nil", |v| v.type_name())
    }
    fn query_state(&self, state: State) -> bool {
        match self.view() {
            Some(v) => v.query_state(state),
            None => !matches!(state, State::Truthy),
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        match self.view() {
            Some(v) => v.to_kstr(),
            None => KStringCow::from_static(""),
        }
    }
    fn to_value(&self) -> Value {
        self.view().map_or(Value::Nil, |v| v.to_value())
    }
    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        self.view().and_then(|v| v.as_scalar())
    }
    fn as_array(&self) -> Option<&dyn ArrayView> {
        match self {
            Node::List(l) => Some(l),
            _ => None,
        }
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        match self {
            Node::Map(m) => Some(m),
            // An empty object, so that `absent.anything` is absent too.
            Node::Absent => Some(&EMPTY),
            _ => None,
        }
    }
    fn is_nil(&self) -> bool {
        matches!(self, Node::Absent) || self.view().is_some_and(|v| v.is_nil())
    }
}

impl ValueView for List {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        let mut s = String::new();
        for n in &self.0 {
            s.push_str(&n.render().to_string());
        }
        owned_display(s)
    }
    fn source(&self) -> DisplayCow<'_> {
        owned_display(self.to_value().source().to_string())
    }
    fn type_name(&self) -> &'static str {
        "array"
    }
    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => self.0.is_empty(),
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(self.render().to_string())
    }
    fn to_value(&self) -> Value {
        Value::Array(self.0.iter().map(ValueView::to_value).collect())
    }
    fn as_array(&self) -> Option<&dyn ArrayView> {
        Some(self)
    }
}

impl ArrayView for List {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        self.0.len() as i64
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.0.iter().map(|n| n as &dyn ValueView))
    }
    fn contains_key(&self, index: i64) -> bool {
        let len = self.0.len() as i64;
        (-len..len).contains(&index)
    }
    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        let len = self.0.len() as i64;
        let i = if index < 0 { len + index } else { index };
        if (0..len).contains(&i) {
            Some(&self.0[i as usize])
        } else {
            Some(&ABSENT)
        }
    }
}

impl ValueView for Map {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        owned_display(self.to_value().render().to_string())
    }
    fn source(&self) -> DisplayCow<'_> {
        owned_display(self.to_value().source().to_string())
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => self.0.is_empty(),
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(self.render().to_string())
    }
    fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone().into(), v.to_value()))
                .collect(),
        )
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Map {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        self.0.len() as i64
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(self.0.keys().map(|k| KStringCow::from_ref(k.as_str())))
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.0.values().map(|n| n as &dyn ValueView))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.0
                .iter()
                .map(|(k, n)| (KStringCow::from_ref(k.as_str()), n as &dyn ValueView)),
        )
    }
    fn contains_key(&self, index: &str) -> bool {
        self.0.contains_key(index)
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        match self.0.get(index) {
            Some(n) => Some(n),
            // Leave `size` to liquid, which answers it for objects it cannot find a key in.
            None if index == "size" => None,
            None => Some(&ABSENT),
        }
    }
}

impl ValueView for Root {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        self.0.render()
    }
    fn source(&self) -> DisplayCow<'_> {
        self.0.source()
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        self.0.query_state(state)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        self.0.to_kstr()
    }
    fn to_value(&self) -> Value {
        self.0.to_value()
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Root {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        ObjectView::size(&self.0)
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        self.0.keys()
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        ObjectView::values(&self.0)
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        self.0.iter()
    }
    // liquid asks the globals whether they hold a name before looking it up; say yes to all.
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        Some(self.0.0.get(index).unwrap_or(&ABSENT))
    }
}
