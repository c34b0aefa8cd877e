//! What the engine reads from a message, and how selectors and filters look at it.
//!
//! # Meaning of filters (the engine is the authority)
//!
//! * A path resolves in the message's `properties` (in the profile's traits for trait
//!   conditions). A `[]` step visits every element of an array; a filter holds when *any*
//!   visited value satisfies it. A path through a non-object (or a `[]` over a non-array) finds
//!   nothing.
//! * `null` is the same as missing. A missing value satisfies no operator except `not exists`:
//!   `plan != "trial"` is false for a profile without a plan, and `exists` / `not exists` are the
//!   way to ask about absence.
//! * `=`, `!=`, `in`: numbers equal numbers by value (`1` = `1.0`), strings equal strings, booleans
//!   equal booleans; a value of another type is "not equal" (so `!=` holds for it).
//! * `<`, `<=`, `>`, `>=` compare numbers with numbers and strings with strings (by Unicode code
//!   point); any other pairing does not match.
//! * `contains`: a string containing the text, or an array having an element equal to the
//!   literal. `starts with`: a string starting with the text.
//! * Grouping keys (`per`, `distinct`, a sequence's `on`) compare values the same way: numbers by
//!   value, strings exactly; arrays and objects by their JSON text.

use super::time::{DAY, Ms, days_from_civil, days_in_month, to_ms};
use crate::ast::{self, FilterOp, Literal, PathStep, PropertyPath};
use herald_core::MessageKind;
use jiff::Timestamp;
use serde_json::{Map, Value};

/// Herald records segment changes as these track events; segments never see them.
pub const OWN_EVENTS: [&str; 2] = ["Segment Entered", "Segment Exited"];

/// One message of a profile, as the event log holds it.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub kind: MessageKind,
    /// The event name of a track call (others: ignored by selectors).
    pub name: Option<&'a str>,
    pub timestamp: Timestamp,
    /// Properties of a track, page or screen call (empty otherwise).
    pub properties: Props<'a>,
    /// Traits of an identify call.
    pub traits: Option<Props<'a>>,
    /// The route of its kind and name, when the caller looked it up once for many messages.
    pub route: Option<super::route::EventRoute>,
}

/// The properties or traits of a message: the JSON object itself, or the same keys and values
/// as interned pairs, as a cache of the event log keeps them.
#[derive(Clone, Copy, Debug)]
pub enum Props<'a> {
    Map(&'a Map<String, Value>),
    Pairs(Pairs<'a>),
}

/// Top-level properties as `(key, value)` indices into shared tables of keys and values.
#[derive(Clone, Copy, Debug)]
pub struct Pairs<'a> {
    pub pairs: &'a [(u32, u32)],
    pub keys: &'a [Box<str>],
    pub values: &'a [Value],
}

impl<'a> Props<'a> {
    pub const EMPTY: Props<'static> = Props::Pairs(Pairs {
        pairs: &[],
        keys: &[],
        values: &[],
    });

    /// The value of a top-level key.
    pub fn get(self, key: &str) -> Option<&'a Value> {
        match self {
            Props::Map(m) => m.get(key),
            Props::Pairs(p) => p
                .pairs
                .iter()
                .find(|(k, _)| &*p.keys[*k as usize] == key)
                .map(|(_, v)| &p.values[*v as usize]),
        }
    }

    pub fn contains_key(self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

impl<'a> From<&'a Map<String, Value>> for Props<'a> {
    fn from(m: &'a Map<String, Value>) -> Self {
        Props::Map(m)
    }
}

impl Input<'_> {
    /// Whether this is one of Herald's own `Segment Entered` / `Segment Exited` events.
    pub fn is_own(&self) -> bool {
        self.kind == MessageKind::Track && self.name.is_some_and(|n| OWN_EVENTS.contains(&n))
    }

    pub(crate) fn ms(&self) -> Ms {
        to_ms(self.timestamp)
    }
}

/// A property path, ready to walk.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Path(Box<[PathStep]>);

impl Path {
    pub(crate) fn new(path: &PropertyPath) -> Path {
        Path(path.0.clone().into_boxed_slice())
    }

    /// The top-level key (the trait an identify must name to change this path's value).
    pub(crate) fn top(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathStep::Key(k)) => Some(k),
            _ => None,
        }
    }

    pub(crate) fn has_each(&self) -> bool {
        self.0.contains(&PathStep::Each)
    }

    /// Whether `f` holds for some non-null value at this path.
    pub(crate) fn any(&self, root: Props, mut f: impl FnMut(&Value) -> bool) -> bool {
        match self.0.split_first() {
            Some((PathStep::Key(k), rest)) => root.get(k).is_some_and(|v| walk(v, rest, &mut f)),
            _ => false,
        }
    }

    /// The first non-null value at this path.
    pub(crate) fn first<'v>(&self, root: Props<'v>) -> Option<&'v Value> {
        let mut found = None;
        if let Some((PathStep::Key(k), rest)) = self.0.split_first()
            && let Some(v) = root.get(k)
        {
            walk(v, rest, &mut |v| {
                found = Some(v);
                true
            });
        }
        found
    }

    /// Every distinct grouping key at this path, in order of appearance.
    pub(crate) fn keys(&self, root: Props, out: &mut Vec<Key>) {
        out.clear();
        self.any(root, |v| {
            if let Some(k) = key_of(v)
                && !out.contains(&k)
            {
                out.push(k);
            }
            false
        });
    }
}

fn walk<'v>(v: &'v Value, steps: &[PathStep], f: &mut impl FnMut(&'v Value) -> bool) -> bool {
    match steps.split_first() {
        None => !v.is_null() && f(v),
        Some((PathStep::Key(k), rest)) => match v {
            Value::Object(m) => m.get(k).is_some_and(|v| walk(v, rest, f)),
            _ => false,
        },
        Some((PathStep::Each, rest)) => match v {
            Value::Array(items) => items.iter().any(|v| walk(v, rest, f)),
            _ => false,
        },
    }
}

/// A grouping key: a JSON value in a canonical text form, tagged by type so that `5` and `"5"`
/// differ. Numbers are keyed by their `f64` value.
pub(crate) type Key = Box<str>;

pub(crate) fn key_of(v: &Value) -> Option<Key> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => if *b { "b1" } else { "b0" }.into(),
        Value::Number(n) => {
            let x = n.as_f64()?;
            // -0.0 and 0.0 are equal numbers, so they must share a key.
            let x = if x == 0.0 { 0.0 } else { x };
            format!("n{x:?}").into()
        }
        Value::String(s) => {
            let mut k = String::with_capacity(s.len() + 1);
            k.push('s');
            k.push_str(s);
            k.into()
        }
        other => format!("j{other}").into(),
    })
}

/// The JSON value a key was made from (for explanations).
pub(crate) fn key_value(key: &str) -> Value {
    let (tag, rest) = key.split_at(1.min(key.len()));
    match tag {
        "b" => Value::Bool(rest == "1"),
        "n" => rest
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        "s" => Value::String(rest.to_owned()),
        _ => serde_json::from_str(rest).unwrap_or(Value::Null),
    }
}

/// A trait or property read as a date: `YYYY-MM-DD` is that day's UTC midnight; otherwise an RFC
/// 3339 instant. Anything else is not a date.
pub(crate) fn date_of(v: &Value) -> Option<Ms> {
    let s = v.as_str()?;
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            if b[r.clone()].iter().all(u8::is_ascii_digit) {
                s[r].parse().ok()
            } else {
                None
            }
        };
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let year = i64::from(year);
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        return valid.then(|| days_from_civil(year, month, day) * DAY);
    }
    // RFC 3339 needs a time and an offset; jiff's parser requires both for a timestamp.
    if b.len() > 10 && matches!(b[10], b'T' | b't' | b' ') {
        return s.parse::<Timestamp>().ok().map(to_ms);
    }
    None
}

/// A filter constant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Bool(bool),
    Num(f64),
    Text(Box<str>),
}

impl Lit {
    fn scalar(lit: &Literal) -> Result<Lit, String> {
        Ok(match lit {
            Literal::Bool(b) => Lit::Bool(*b),
            Literal::Number(n) => Lit::Num(*n),
            Literal::Text(s) => Lit::Text(s.as_str().into()),
            Literal::List(_) => {
                return Err("a list is only allowed after `in`".to_owned());
            }
        })
    }

    fn equals(&self, v: &Value) -> bool {
        match self {
            Lit::Bool(b) => v.as_bool() == Some(*b),
            Lit::Num(n) => v.as_f64() == Some(*n),
            Lit::Text(s) => v.as_str() == Some(s),
        }
    }
}

/// An operator with its constant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Test {
    Eq(Lit),
    Ne(Lit),
    Lt(Lit),
    Le(Lit),
    Gt(Lit),
    Ge(Lit),
    In(Box<[Lit]>),
    Contains(Lit),
    StartsWith(Box<str>),
    Exists,
    NotExists,
}

impl Test {
    pub(crate) fn compile(op: FilterOp, value: Option<&Literal>) -> Result<Test, String> {
        let needs = |what: &str| format!("`{}` needs {what}", op_text(op));
        let ordered = |lit: &Literal| -> Result<Lit, String> {
            match Lit::scalar(lit)? {
                Lit::Bool(_) => Err(format!(
                    "`{}` compares numbers or strings, not true/false",
                    op_text(op)
                )),
                lit => Ok(lit),
            }
        };
        Ok(match (op, value) {
            (FilterOp::Exists, None) => Test::Exists,
            (FilterOp::NotExists, None) => Test::NotExists,
            (FilterOp::Exists | FilterOp::NotExists, Some(_)) => {
                return Err(format!("`{}` takes no value", op_text(op)));
            }
            (_, None) => return Err(needs("a value")),
            (FilterOp::Eq, Some(v)) => Test::Eq(Lit::scalar(v)?),
            (FilterOp::Ne, Some(v)) => Test::Ne(Lit::scalar(v)?),
            (FilterOp::Lt, Some(v)) => Test::Lt(ordered(v)?),
            (FilterOp::Le, Some(v)) => Test::Le(ordered(v)?),
            (FilterOp::Gt, Some(v)) => Test::Gt(ordered(v)?),
            (FilterOp::Ge, Some(v)) => Test::Ge(ordered(v)?),
            (FilterOp::In, Some(Literal::List(items))) => {
                Test::In(items.iter().map(Lit::scalar).collect::<Result<_, _>>()?)
            }
            (FilterOp::In, Some(_)) => return Err(needs("a list, e.g. `in [\"a\", \"b\"]`")),
            (FilterOp::Contains, Some(v)) => Test::Contains(Lit::scalar(v)?),
            (FilterOp::StartsWith, Some(Literal::Text(s))) => Test::StartsWith(s.as_str().into()),
            (FilterOp::StartsWith, Some(_)) => return Err(needs("a string")),
        })
    }

    /// Whether the values at `path` in `root` satisfy the test (see the module documentation).
    pub(crate) fn holds_at(&self, path: &Path, root: Props) -> bool {
        match self {
            Test::Exists => path.any(root, |_| true),
            Test::NotExists => !path.any(root, |_| true),
            test => path.any(root, |v| test.holds_on(v)),
        }
    }

    /// Whether one present (non-null) value satisfies the test.
    fn holds_on(&self, v: &Value) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let order = |lit: &Lit| match (lit, v) {
            (Lit::Num(n), Value::Number(x)) => x.as_f64().and_then(|x| x.partial_cmp(n)),
            (Lit::Text(s), Value::String(x)) => Some(x.as_str().cmp(s)),
            _ => None,
        };
        match self {
            Test::Eq(lit) => lit.equals(v),
            Test::Ne(lit) => !lit.equals(v),
            Test::Lt(lit) => order(lit) == Some(Less),
            Test::Le(lit) => matches!(order(lit), Some(Less | Equal)),
            Test::Gt(lit) => order(lit) == Some(Greater),
            Test::Ge(lit) => matches!(order(lit), Some(Greater | Equal)),
            Test::In(items) => items.iter().any(|lit| lit.equals(v)),
            Test::Contains(lit) => match (v, lit) {
                (Value::String(s), Lit::Text(t)) => s.contains(&**t),
                (Value::Array(items), lit) => items.iter().any(|item| lit.equals(item)),
                _ => false,
            },
            Test::StartsWith(t) => v.as_str().is_some_and(|s| s.starts_with(&**t)),
            Test::Exists => true,
            Test::NotExists => false,
        }
    }
}

pub(crate) fn op_text(op: FilterOp) -> &'static str {
    op.as_str()
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Filter {
    path: Path,
    test: Test,
}

/// Which messages a condition looks at: a track event name (or any message) and filters on its
/// properties.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Selector {
    pub(crate) event: Option<Box<str>>,
    filters: Box<[Filter]>,
}

impl Selector {
    pub(crate) fn compile(sel: &ast::EventSelector) -> Result<Selector, String> {
        if let Some(name) = &sel.event
            && OWN_EVENTS.contains(&name.as_str())
        {
            return Err(format!(
                "`{name}` is recorded by Herald itself and is invisible to segments; use `in \
                 segment NAME` to depend on another segment's membership"
            ));
        }
        let filters = sel
            .filters
            .iter()
            .map(|f| {
                let test = Test::compile(f.op, f.value.as_ref())
                    .map_err(|e| format!("in the filter on `{}`: {e}", f.path))?;
                Ok(Filter {
                    path: Path::new(&f.path),
                    test,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Selector {
            event: sel.event.as_deref().map(Into::into),
            filters,
        })
    }

    /// Whether the message is one of the selected events (Herald's own events never are).
    pub(crate) fn matches(&self, input: &Input) -> bool {
        if input.is_own() {
            return false;
        }
        if let Some(event) = &self.event
            && (input.kind != MessageKind::Track || input.name != Some(&**event))
        {
            return false;
        }
        self.filters_match(input)
    }

    /// Whether the message passes the filters (for a message already known to have the right
    /// event name and not to be one of Herald's own).
    pub(crate) fn filters_match(&self, input: &Input) -> bool {
        self.filters
            .iter()
            .all(|f| f.test.holds_at(&f.path, input.properties))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn test(op: FilterOp, lit: Option<Literal>, path: &str, props: Value) -> bool {
        let t = Test::compile(op, lit.as_ref()).unwrap();
        let path = Path::new(&PropertyPath::parse(path).unwrap());
        t.holds_at(&path, props.as_object().unwrap().into())
    }

    #[test]
    fn missing_and_null_match_only_not_exists() {
        let text = || Some(Literal::Text("x".into()));
        for props in [json!({}), json!({"a": null})] {
            assert!(!test(FilterOp::Eq, text(), "a", props.clone()));
            assert!(!test(FilterOp::Ne, text(), "a", props.clone()));
            assert!(!test(FilterOp::Exists, None, "a", props.clone()));
            assert!(test(FilterOp::NotExists, None, "a", props.clone()));
        }
        assert!(test(FilterOp::Ne, text(), "a", json!({"a": 3})));
    }

    #[test]
    fn arrays_match_any_element() {
        let props = json!({"products": [{"cat": "shoes"}, {"cat": "hats"}], "tags": ["a", "b"]});
        let hats = || Some(Literal::Text("hats".into()));
        assert!(test(FilterOp::Eq, hats(), "products[].cat", props.clone()));
        assert!(!test(FilterOp::Eq, hats(), "products.cat", props.clone()));
        assert!(test(
            FilterOp::Contains,
            Some(Literal::Text("b".into())),
            "tags",
            props.clone()
        ));
    }

    #[test]
    fn ordering_never_crosses_types() {
        let two = || Some(Literal::Number(2.0));
        assert!(test(FilterOp::Gt, two(), "n", json!({"n": 2.5})));
        assert!(!test(FilterOp::Gt, two(), "n", json!({"n": "3"})));
        assert!(test(FilterOp::Eq, two(), "n", json!({"n": 2})));
        assert!(test(
            FilterOp::Lt,
            Some(Literal::Text("b".into())),
            "s",
            json!({"s": "a"})
        ));
        assert!(Test::compile(FilterOp::Lt, Some(&Literal::Bool(true))).is_err());
    }

    #[test]
    fn keys_are_typed_and_numbers_by_value() {
        assert_eq!(key_of(&json!(1)), key_of(&json!(1.0)));
        assert_ne!(key_of(&json!(5)), key_of(&json!("5")));
        assert_eq!(key_of(&json!(null)), None);
        for v in [json!(1.5), json!("x"), json!(true), json!([1, "a"])] {
            assert_eq!(key_value(&key_of(&v).unwrap()), v);
        }
    }

    #[test]
    fn dates() {
        assert_eq!(date_of(&json!("1970-01-02")), Some(DAY));
        assert_eq!(date_of(&json!("1970-01-02T01:00:00+01:00")), Some(DAY));
        assert_eq!(date_of(&json!("2023-02-29")), None);
        assert!(date_of(&json!("2024-02-29")).is_some());
        assert_eq!(date_of(&json!("02/03/2024")), None);
        assert_eq!(date_of(&json!(19000)), None);
        assert_eq!(date_of(&json!("2024-1-05")), None);
    }
}
