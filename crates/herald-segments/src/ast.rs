//! The syntax tree of the segment language, shared by its two forms.
//!
//! The text form (`lang`) and the JSON form (serde, below) describe exactly this tree, so either
//! converts to the other without loss. Everything here is plain data; meaning lives in `engine`.
//!
//! # Meaning, briefly (the engine is the authority)
//!
//! * Only events with a timestamp at or before `now` exist for a condition; an event stamped in
//!   the future starts counting when `now` reaches it.
//! * "In the last N days" is the half-open interval `(now - N days, now]`.
//! * `Between { from, to }` is `(now - from, now - to]` (so `from` is the longer span).
//! * `Since(t)` is `[t, now]`; `Ever` is `(-inf, now]`.
//! * `Calendar { years_ago, from, to }` is `[from 00:00, to + 1 day 00:00)` (UTC) of the calendar
//!   year `years_ago` before the year of `now` (UTC).
//! * A named event selector matches `track` calls with that `event`; `Any` matches every message
//!   of the profile except Herald's own `Segment Entered` / `Segment Exited`.
//! * Property paths resolve in a track/page/screen call's `properties` (in traits for trait
//!   conditions); a `[]` step means "any element of this array".

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Serde for the types whose JSON form is their text form: written with `Display`, read with
/// their `parse` (so JSON input gets the same checks and messages as text). Other definition
/// languages (journeys) use it for their own names and values.
#[macro_export]
macro_rules! serde_as_text {
    ($($t:ty),*) => {$(
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                <$t>::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(SegmentName, PropertyPath, Span, MonthDay);

/// A segment's name: lower-case letters, digits and `_`, starting with a letter, at most 64.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentName(String);

impl SegmentName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(SegmentName(s.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not a segment name: use lower-case letters, digits and `_`, starting \
                 with a letter, at most 64 characters (e.g. `frequent_buyers`)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One segment: a name and the condition a profile must meet to be a member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub name: SegmentName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub condition: Condition,
}

/// A condition on one profile at one instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every one holds (text: `a and b`).
    All { of: Vec<Condition> },
    /// Some one holds (text: `a or b`).
    Any { of: Vec<Condition> },
    /// Text: `not a`.
    Not { condition: Box<Condition> },
    /// At least `n` of them hold (text: `at least 3 of (a, b, c, d)`).
    AtLeast { n: u32, of: Vec<Condition> },
    /// An aggregate over matching events in a window, compared with a number
    /// (text: `count("Order Completed") in last 90 days >= 3`).
    Metric(Metric),
    /// Some single value of `key` among the matching events in the window has an aggregate that
    /// satisfies the comparison (text: `count("Product Viewed") per product_id in last 7 days > 3`).
    PerKey(PerKey),
    /// The first or last matching event's time (text: `first("Order Completed") before 365 days
    /// ago`). False when there is no matching event.
    Occurrence(Occurrence),
    /// An event followed, or not followed, by another (text: `latest "Product Added" in last 7
    /// days older than 1 hour not followed by "Order Completed"`).
    Sequence(Sequence),
    /// A test of a profile trait (text: `trait plan = "trial"`).
    Trait(TraitCondition),
    /// Membership of another segment (text: `in segment frequent_buyers`). No cycles.
    Segment { name: SegmentName },
}

/// Which events a condition looks at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSelector {
    /// A track event name; `None` is any event (text: `any`).
    pub event: Option<String>,
    /// All must hold (text: `"Email Opened" where campaign_id = "welcome" and ...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

/// A test of one property (or trait) value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub path: PropertyPath,
    pub op: FilterOp,
    /// Absent for `exists` / `not exists`; a list for `in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Literal>,
}

/// Text forms: `=`, `!=`, `<`, `<=`, `>`, `>=`, `in [..]`, `contains`, `starts with`, `exists`,
/// `not exists`. Ordering compares numbers with numbers and strings with strings; a value of the
/// other type never matches. With a `[]` path a filter holds when any element matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    StartsWith,
    Exists,
    NotExists,
}

impl FilterOp {
    /// The operator as the text form writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterOp::Eq => "=",
            FilterOp::Ne => "!=",
            FilterOp::Lt => "<",
            FilterOp::Le => "<=",
            FilterOp::Gt => ">",
            FilterOp::Ge => ">=",
            FilterOp::In => "in",
            FilterOp::Contains => "contains",
            FilterOp::StartsWith => "starts with",
            FilterOp::Exists => "exists",
            FilterOp::NotExists => "not exists",
        }
    }
}

/// A constant in a filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Literal {
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Literal>),
}

/// A path into a JSON object: `products[].category`, `address.city`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PropertyPath(pub Vec<PathStep>);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    Key(String),
    /// `[]`: every element of an array.
    Each,
}

impl PropertyPath {
    /// Parses `a.b[].c`. Keys are non-empty and contain no `.`, `[` or `]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a property path: write keys joined by `.`, with `[]` after an array (e.g. `products[].category`)"
            )
        };
        let mut steps = Vec::new();
        for part in s.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if key.is_empty() || key.contains(']') {
                return Err(bad());
            }
            steps.push(PathStep::Key(key.to_owned()));
            while !rest.is_empty() {
                rest = rest.strip_prefix("[]").ok_or_else(bad)?;
                steps.push(PathStep::Each);
            }
        }
        Ok(PropertyPath(steps))
    }
}

impl fmt::Display for PropertyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for step in &self.0 {
            match step {
                PathStep::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                PathStep::Each => f.write_str("[]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// A length of time. JSON and text: `"90 days"`, `"1 hour"`, `"30 minutes"`, `"2 weeks"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub amount: u32,
    pub unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Span {
    pub fn millis(self) -> i64 {
        let unit: i64 = match self.unit {
            Unit::Minutes => 60_000,
            Unit::Hours => 3_600_000,
            Unit::Days => 86_400_000,
            Unit::Weeks => 7 * 86_400_000,
        };
        i64::from(self.amount) * unit
    }

    /// Parses `90 days`, `1 hour`, `30 minutes`, `2 weeks` (singular or plural).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a span: write a whole number and a unit, e.g. `90 days`, `1 hour`, `30 minutes`, `2 weeks`"
            )
        };
        let mut parts = s.split_whitespace();
        let amount: u32 = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let unit = parts.next().and_then(Unit::parse).ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Span { amount, unit })
    }
}

impl Unit {
    pub fn parse(s: &str) -> Option<Unit> {
        Some(match s {
            "minute" | "minutes" => Unit::Minutes,
            "hour" | "hours" => Unit::Hours,
            "day" | "days" => Unit::Days,
            "week" | "weeks" => Unit::Weeks,
            _ => return None,
        })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (one, many) = match self.unit {
            Unit::Minutes => ("minute", "minutes"),
            Unit::Hours => ("hour", "hours"),
            Unit::Days => ("day", "days"),
            Unit::Weeks => ("week", "weeks"),
        };
        let unit = if self.amount == 1 { one } else { many };
        write!(f, "{} {unit}", self.amount)
    }
}

/// A month and day, `MM-DD` in text and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonthDay {
    pub month: u8,
    pub day: u8,
}

impl MonthDay {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a month and day: write `MM-DD`, e.g. `11-15`");
        let (m, d) = s.split_once('-').ok_or_else(bad)?;
        if m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let month: u8 = m.parse().map_err(|_| bad())?;
        let day: u8 = d.parse().map_err(|_| bad())?;
        let max = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 => 29,
            _ => return Err(bad()),
        };
        if day == 0 || day > max {
            return Err(bad());
        }
        Ok(MonthDay { month, day })
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// Which events by time. Text: `ever`, `in last 90 days`, `between 180 days ago and 90 days ago`,
/// `since 2025-01-01` (or a full RFC 3339 instant), `between 11-15 and 12-31 of last year`
/// (`of this year`, `of 2 years ago`). A condition without a window means `ever`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Window {
    Ever,
    Last(Span),
    Between {
        from: Span,
        to: Span,
    },
    Since(jiff::Timestamp),
    Calendar {
        years_ago: u32,
        from: MonthDay,
        to: MonthDay,
    },
}

/// `count`, `sum(p)`, `avg(p)`, `min(p)`, `max(p)`, `distinct(p)` (number of distinct values).
/// Sum of no events is 0; avg/min/max of no events make the comparison false.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Measure {
    Count,
    Sum(PropertyPath),
    Avg(PropertyPath),
    Min(PropertyPath),
    Max(PropertyPath),
    Distinct(PropertyPath),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Text: `>= 3`, `= 0`, `< 19.5`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    pub op: CmpOp,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub measure: Measure,
    pub events: EventSelector,
    pub window: Window,
    pub compare: Comparison,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerKey {
    pub measure: Measure,
    pub events: EventSelector,
    pub key: PropertyPath,
    pub window: Window,
    pub compare: Comparison,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    First,
    Last,
}

/// An instant relative to `now` or fixed. Text: `365 days ago`, `7 days from now`, `now`,
/// `2025-01-01` / an RFC 3339 instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimePoint {
    Now,
    Ago(Span),
    FromNow(Span),
    At(jiff::Timestamp),
}

/// Text: `before P`, `after P` (strict), `in last 30 days` / any window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeTest {
    Before(TimePoint),
    After(TimePoint),
    Within(Window),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Occurrence {
    pub which: Which,
    pub events: EventSelector,
    pub time: TimeTest,
}

/// Which occurrences of the first event are candidates: only the latest one (at or before now),
/// or any one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    Latest,
    Any,
}

/// `Followed`: some candidate `first` has a `second` at or after it (within `within` if given).
/// `NotFollowed`: some candidate `first` has none. A candidate must lie in `window` and, with
/// `older_than`, satisfy `now - ts > older_than`. With `same`, the second event's value at that
/// path must equal the first's (a first event without the key matches no second event).
///
/// Text: `any "Form Started" in last 7 days older than 30 minutes not followed by "Form
/// Submitted" on form_id within 30 minutes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub pick: Pick,
    pub first: EventSelector,
    pub window: Window,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<Span>,
    pub followed: bool,
    pub second: EventSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same: Option<PropertyPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Span>,
}

/// Text: `trait plan = "trial"`, `trait age >= 18`, `trait email exists`,
/// `trait created_at before 30 days ago`, `trait created_at in last 30 days`,
/// `trait birthday anniversary within 7 days`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraitCondition {
    pub path: PropertyPath,
    pub test: TraitTest,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TraitTest {
    /// A filter on the trait's value (same operators as event filters).
    Value {
        op: FilterOp,
        value: Option<Literal>,
    },
    /// The trait read as a date (`YYYY-MM-DD` = its UTC midnight, or RFC 3339).
    Date(TimeTest),
    /// The next anniversary (same month and day, today included; 29 Feb falls on 28 Feb in other
    /// years) of a date trait is at most `within` days away, counted in UTC calendar days.
    Anniversary { within: Span },
}
