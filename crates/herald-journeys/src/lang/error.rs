//! What goes wrong with a journey, said so that a marketer can fix it.
//!
//! Text and JSON errors are the segment language's types (line, column, message, hint), so a
//! tool that shows one shows the other. Validation errors name the journey and the place in it
//! as a path of JSON field names (`steps[3].then[0]`), which reads well in both forms.

use crate::ast::JourneyName;
use herald_segments::ast::SegmentName;
use std::fmt;

pub use herald_segments::lang::{JsonError, ParseError};

/// A document that is well-formed but cannot be accepted (see [`super::validate`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}; hint: {hint}", self.location())]
pub struct ValidationError {
    /// Index of the journey in `Document::journeys`; `None` for the rules block.
    pub index: Option<usize>,
    /// The journey's name; `None` for the rules block.
    pub journey: Option<JourneyName>,
    /// Where in the journey (or rules): `steps[3].then[0]`, `goal`, `exit_when[1]`, `caps[0]`;
    /// empty for the journey as a whole.
    pub path: String,
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl ValidationError {
    /// `journey abandoned_cart, steps[3]` / `rules, caps[1]`.
    pub fn location(&self) -> String {
        let whole = match &self.journey {
            Some(j) => format!("journey {j}"),
            None => "rules".to_owned(),
        };
        if self.path.is_empty() {
            whole
        } else {
            format!("{whole}, {}", self.path)
        }
    }
}

/// What a [`Warning`] is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// An event name not among the known events.
    Event(String),
    /// A segment not among the known segments.
    Segment(SegmentName),
}

/// Something allowed but probably unintended (see [`super::lint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub journey: JourneyName,
    pub unknown: Unknown,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "journey {}: {}", self.journey, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_name_the_journey_and_the_place() {
        let e = ValidationError {
            index: Some(0),
            journey: Some(JourneyName::parse("welcome").unwrap()),
            path: "steps[3].then[0]".into(),
            message: "m".into(),
            hint: "h".into(),
        };
        assert_eq!(
            e.to_string(),
            "journey welcome, steps[3].then[0]: m; hint: h"
        );
        let rules = ValidationError {
            index: None,
            journey: None,
            path: String::new(),
            ..e
        };
        assert_eq!(rules.to_string(), "rules: m; hint: h");
    }
}
