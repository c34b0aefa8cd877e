//! The segment language's tests, one at a time, for other engines (journeys).
//!
//! A journey's trigger, goal and waits select events, and its branches test traits and trigger
//! properties, with exactly the meaning they have in segments; these wrappers compile a selector,
//! a filter or a trait condition once and test one message or the current traits.

use super::atom::compile_trait;
use super::input::{Input, Path, Props, Selector, Test, key_of};
use super::marks::{TraitSpec, TraitState, TraitTest};
use super::time::{Ms, to_ms};
use crate::ast;
use jiff::Timestamp;

/// A compiled event selector (`"Order Completed" where total > 10`).
#[derive(Clone, Debug, PartialEq)]
pub struct EventMatcher(Selector);

impl EventMatcher {
    pub fn compile(selector: &ast::EventSelector) -> Result<Self, String> {
        Selector::compile(selector).map(EventMatcher)
    }

    /// Whether the message is one of the selected events (Herald's own never are).
    pub fn matches(&self, input: &Input) -> bool {
        self.0.matches(input)
    }
}

/// A compiled filter on one property (`total >= 100`).
#[derive(Clone, Debug, PartialEq)]
pub struct FilterCheck {
    path: Path,
    test: Test,
}

impl FilterCheck {
    pub fn compile(filter: &ast::Filter) -> Result<Self, String> {
        Ok(FilterCheck {
            path: Path::new(&filter.path),
            test: Test::compile(filter.op, filter.value.as_ref())
                .map_err(|e| format!("in the filter on `{}`: {e}", filter.path))?,
        })
    }

    pub fn holds(&self, props: Props) -> bool {
        self.test.holds_at(&self.path, props)
    }
}

/// A compiled trait condition (`trait plan = "trial"`, `trait birthday anniversary within 7
/// days`), tested against a profile's current traits.
#[derive(Clone, Debug, PartialEq)]
pub struct TraitCheck {
    spec: TraitSpec,
    test: TraitTest,
}

impl TraitCheck {
    pub fn compile(condition: &ast::TraitCondition) -> Result<Self, String> {
        let (spec, test) = compile_trait(condition)?;
        Ok(TraitCheck { spec, test })
    }

    pub fn holds(&self, traits: Props, now: Timestamp) -> bool {
        let state = TraitState {
            ts: Ms::MIN + 1,
            reading: self.spec.read(traits),
            future: Vec::new(),
        };
        self.spec.holds(&self.test, Some(&state), to_ms(now))
    }
}

/// The grouping key of the first value at a path: equal for equal values (numbers by value,
/// strings exactly), different across types. `None` when there is no value.
pub fn key_at(path: &ast::PropertyPath, props: Props) -> Option<String> {
    Path::new(path)
        .first(props)
        .and_then(key_of)
        .map(String::from)
}

/// The first non-null value at a path.
pub fn value_at<'v>(path: &ast::PropertyPath, props: Props<'v>) -> Option<&'v serde_json::Value> {
    Path::new(path).first(props)
}
