//! The conditions built from selectors and times: occurrences, sequences and traits.
//!
//! ```text
//! occurrence = ("first" | "last") "(" selector ")" time_test
//! sequence   = ("latest" | "any") event [window] ["older" "than" span]
//!              ["not"] "followed" "by" event ["on" path] ["within" span]
//! event      = STRING | "any" | "(" selector ")"
//! trait      = "trait" path (filter_test | "anniversary" "within" span | time_test)
//! ```
//!
//! A sequence's events take filters only in parentheses: bare, `"A" where x = 1 and ...` would
//! make `and` ambiguous between the filters and the conditions around the sequence.

use super::error::ParseError;
use super::lexer::Tok;
use super::parser::Parser;
use super::terms::{EVENT_HINT, OPERATORS};
use crate::ast::{
    Condition, EventSelector, Occurrence, Pick, Sequence, TraitCondition, TraitTest, Which, Window,
};

impl Parser {
    /// `first(...)` / `last(...)` and a time test.
    pub(crate) fn occurrence(&mut self) -> Result<Condition, ParseError> {
        let word = self.next().src;
        let which = if word == "first" {
            Which::First
        } else {
            Which::Last
        };
        self.next();
        let (events, _) = self.selector(false, &word)?;
        self.close_selector(&word)?;
        let Some(time) = self.time_test()? else {
            return Err(self.expected_near(
                "\"before\", \"after\" or a window such as \"in last 30 days\"",
                &format!("e.g. {word}(\"Order Completed\") before 365 days ago"),
                &["before", "after", "ever", "since", "between"],
            ));
        };
        Ok(Condition::Occurrence(Occurrence {
            which,
            events,
            time,
        }))
    }

    /// A sequence's event: a bare name or `any`, or a selector with filters in parentheses.
    pub(crate) fn sequence_event(&mut self) -> Result<EventSelector, ParseError> {
        let sel = match &self.peek().tok {
            Tok::Str(s) => EventSelector {
                event: Some(s.clone()),
                filters: vec![],
            },
            Tok::Word(w) if w == "any" => EventSelector {
                event: None,
                filters: vec![],
            },
            Tok::LParen => {
                self.next();
                let (sel, _) = self.selector(false, "the event")?;
                self.expect(
                    &Tok::RParen,
                    "\")\" after the event and its filters",
                    "write: (\"Product Added\" where price > 10)",
                )?;
                return Ok(sel);
            }
            _ => {
                return Err(self.expected(
                    "an event name in double quotes, \"any\", or an event with filters in parentheses",
                    EVENT_HINT,
                ));
            }
        };
        self.next();
        if self.at_word("where") {
            return Err(self.expected(
                "a window, \"older than\", \"followed by\" or the end of the sequence",
                "in a sequence an event with filters goes in parentheses: (\"Product Added\" where price > 10)",
            ));
        }
        Ok(sel)
    }

    pub(crate) fn sequence(&mut self) -> Result<Condition, ParseError> {
        let pick = if self.next().src == "latest" {
            Pick::Latest
        } else {
            Pick::Any
        };
        let first = self.sequence_event()?;
        let window = self.window()?;
        let older_than = if self.eat_word("older") {
            self.expect_word("than", "\"than\" after \"older\"", || {
                "write: older than 1 hour".into()
            })?;
            Some(self.span("a span such as 1 hour")?)
        } else {
            None
        };
        let followed = !self.eat_word("not");
        if !self.at_word("followed") {
            let what = match (followed, &window, &older_than) {
                (false, ..) => "\"followed by\" after \"not\"",
                (true, None, None) => {
                    "a window, \"older than\", \"followed by\" or \"not followed by\""
                }
                (true, _, None) => "\"older than\", \"followed by\" or \"not followed by\"",
                (true, _, Some(_)) => "\"followed by\" or \"not followed by\"",
            };
            let hint = "e.g. latest \"Product Added\" in last 7 days older than 1 hour not followed by \"Order Completed\"";
            return Err(self.expected_near(what, hint, &["followed", "older", "not"]));
        }
        self.next();
        self.expect_word("by", "\"by\" after \"followed\"", || {
            "write: followed by \"Order Completed\"".into()
        })?;
        let second = self.sequence_event()?;
        let same = if self.eat_word("on") {
            Some(self.path("a property after \"on\", such as form_id")?)
        } else {
            None
        };
        let within = if self.eat_word("within") {
            Some(self.span("a span such as 30 minutes")?)
        } else {
            None
        };
        Ok(Condition::Sequence(Sequence {
            pick,
            first,
            window: window.unwrap_or(Window::Ever),
            older_than,
            followed,
            second,
            same,
            within,
        }))
    }

    pub(crate) fn trait_condition(&mut self) -> Result<Condition, ParseError> {
        self.next();
        let path = self.path("a trait name such as plan")?;
        let test = if let Some((op, value)) = self.filter_test()? {
            TraitTest::Value { op, value }
        } else if self.eat_word("anniversary") {
            self.expect_word("within", "\"within\" after \"anniversary\"", || {
                "write: anniversary within 7 days".into()
            })?;
            TraitTest::Anniversary {
                within: self.span("a span such as 7 days")?,
            }
        } else if let Some(t) = self.time_test()? {
            TraitTest::Date(t)
        } else {
            return Err(self.expected_near(
                &format!("a test of the trait \"{path}\""),
                &format!(
                    "e.g. = \"trial\", exists, before 30 days ago, in last 30 days or anniversary \
                     within 7 days; operators are {OPERATORS}"
                ),
                &[
                    "exists",
                    "contains",
                    "starts",
                    "before",
                    "after",
                    "anniversary",
                    "between",
                    "since",
                ],
            ));
        };
        Ok(Condition::Trait(TraitCondition { path, test }))
    }
}
