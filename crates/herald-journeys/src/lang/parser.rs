//! Recursive-descent parser for documents, rules and journey headers; steps and conditions are
//! in `steps.rs`. Selectors, filters, paths, spans, segment names, literals and trait
//! conditions are read by the segment language's [`Reader`].
//!
//! Grammar (keywords lower-case; newlines are whitespace; `#` starts a comment):
//!
//! ```text
//! document = { rules | journey }                 (at most one rules block)
//! rules    = "rules" { cap | quiet } "end"
//! cap      = "cap" CHANNEL CLASS INT "per" span
//! quiet    = "quiet" "hours" CHANNEL TIME "to" TIME
//! journey  = "journey" NAME [STRING] { header } "do" steps "end"
//! header   = "on" trigger | "key" path | "entry" entry | "class" CLASS
//!          | "goal" selector ["same" "key"] "within" span
//!          | "exit" "when" ("entering" SEGMENT | "leaving" SEGMENT | selector ["same" "key"])
//! trigger  = selector | "entering" SEGMENT | "leaving" SEGMENT
//!          | "anniversary" "of" path "at" TIME | "api"
//! entry    = "once" ["per" span] | "every" "time"
//! TIME     = HH:MM (24-hour)
//! ```
//!
//! Header lines may come in any order (the printer writes `on` first), each at most once
//! except `exit when`; `on` is required.
//!
//! What [`super::validate`] refuses is refused here too, at the token that starts the offending
//! part: the parser remembers where each part starts under the same path validation reports.

use super::check;
use super::error::{ParseError, ValidationError};
use crate::ast::{Document, Entry, ExitWhen, Goal, Journey, JourneyName, Rules, Trigger};
use herald_segments::lang::syntax::{Reader, Tok, Token, did_you_mean};
use std::collections::HashMap;

/// Deeper nesting of steps and conditions is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

/// The journey language's own keywords (the segment language's are known to [`Reader`]).
pub(super) const KEYWORDS: &[&str] = &[
    "rules",
    "cap",
    "quiet",
    "hours",
    "journey",
    "on",
    "key",
    "entry",
    "once",
    "per",
    "every",
    "time",
    "class",
    "goal",
    "same",
    "within",
    "exit",
    "when",
    "entering",
    "leaving",
    "anniversary",
    "of",
    "at",
    "api",
    "do",
    "end",
    "send",
    "wait",
    "until",
    "for",
    "up",
    "to",
    "timeout",
    "if",
    "then",
    "else",
    "split",
    "arm",
    "holdout",
    "set",
    "trait",
    "webhook",
    "trigger",
    "opened",
    "clicked",
    "delivered",
    "event",
    "since",
    "email",
    "sms",
    "push",
    "marketing",
    "transactional",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const HEADER_WORDS: &[&str] = &["on", "key", "entry", "class", "goal", "exit", "do"];

pub(super) struct Parser {
    pub(super) r: Reader,
    depth: usize,
    /// Where each part of the current journey or rules block starts, by validation path.
    at: HashMap<String, (usize, usize)>,
    /// The first `same key` of the current journey, to refuse it without a `key`.
    same_key: Option<Token>,
}

/// Parses a document: journeys and at most one rules block, in any order.
pub fn parse(text: &str) -> Result<Document, ParseError> {
    let mut p = Parser {
        r: Reader::new(text)?.with_keywords(KEYWORDS),
        depth: 0,
        at: HashMap::new(),
        same_key: None,
    };
    let mut doc = Document::default();
    let mut rules_line = None;
    let mut lines: HashMap<JourneyName, usize> = HashMap::new();
    loop {
        let t = p.r.peek().clone();
        if t.tok == Tok::Eof {
            return Ok(doc);
        }
        if t.is_word("journey") {
            let (journey, name_tok) = p.journey(doc.journeys.len())?;
            if let Some(line) = lines.get(&journey.name) {
                return Err(p.r.error_at(
                    &name_tok,
                    format!(
                        "journey \"{}\" is already defined at line {line}",
                        journey.name
                    ),
                    "names must be unique within a file; rename one of the two",
                ));
            }
            lines.insert(journey.name.clone(), name_tok.line);
            doc.journeys.push(journey);
        } else if t.is_word("rules") {
            if let Some(line) = rules_line {
                return Err(p.r.error_at(
                    &t,
                    format!("a second rules block; the first is at line {line}"),
                    "put all caps and quiet hours in one rules block",
                ));
            }
            rules_line = Some(t.line);
            doc.rules = Some(p.rules()?);
        } else {
            let hint = if t.is_word("end") {
                "this \"end\" closes nothing: remove it, or check the \"end\"s above"
            } else if matches!(&t.tok, Tok::Word(w) if super::steps::STEP_WORDS.contains(&w.as_str()))
            {
                "steps go inside a journey, between \"do\" and its \"end\""
            } else {
                "a journey starts with: journey NAME; caps and quiet hours go in a rules ... end \
                 block"
            };
            return Err(p
                .r
                .expected_near("\"journey\" or \"rules\"", hint, &["journey", "rules"]));
        }
    }
}

impl Parser {
    /// Remembers that the part at `path` starts at `t`.
    pub(super) fn mark(&mut self, path: &str, t: &Token) {
        self.at.insert(path.to_owned(), (t.line, t.column));
    }

    /// A validation error as a parse error at the start of the part it names (or the nearest
    /// enclosing part that was marked, else `fallback`).
    fn refuse(&self, e: &ValidationError, fallback: &Token) -> ParseError {
        let mut path = e.path.as_str();
        let (line, column) = loop {
            if let Some(&pos) = self.at.get(path) {
                break pos;
            }
            match path.rfind(['.', '[']) {
                Some(i) => path = &path[..i],
                None => break (fallback.line, fallback.column),
            }
        };
        ParseError {
            line,
            column,
            message: e.message.clone(),
            hint: e.hint.clone(),
        }
    }

    /// Counts one more level of nesting, refusing too many.
    pub(super) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.r.error_at(
                self.r.peek(),
                format!("steps or conditions are nested more than {MAX_DEPTH} levels deep"),
                "move part of the journey into another journey, or simplify the condition",
            ));
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth -= 1;
    }

    fn rules(&mut self) -> Result<Rules, ParseError> {
        let start = self.r.next();
        self.at.clear();
        let mut rules = Rules::default();
        loop {
            let t = self.r.peek().clone();
            if self.r.eat_word("cap") {
                self.mark(&format!("caps[{}]", rules.caps.len()), &t);
                let channel = self.channel()?;
                let class = self.class()?;
                let count = self.whole(
                    "the number of messages, such as 3",
                    "write: cap email marketing 3 per 7 days",
                )?;
                self.r.expect_word("per", "\"per\" and a span", || {
                    "write: cap email marketing 3 per 7 days".into()
                })?;
                let per = self.r.span("a span such as 7 days")?;
                rules.caps.push(crate::ast::Cap {
                    channel,
                    class,
                    count,
                    per,
                });
            } else if self.r.eat_word("quiet") {
                self.mark(&format!("quiet_hours[{}]", rules.quiet_hours.len()), &t);
                self.r
                    .expect_word("hours", "\"hours\" after \"quiet\"", || {
                        "write: quiet hours sms 21:00 to 08:00".into()
                    })?;
                let channel = self.channel()?;
                let from = self.time("the time quiet hours start, such as 21:00")?;
                self.r
                    .expect_word("to", "\"to\" and the time quiet hours end", || {
                        "write: quiet hours sms 21:00 to 08:00".into()
                    })?;
                let to = self.time("the time quiet hours end, such as 08:00")?;
                rules
                    .quiet_hours
                    .push(crate::ast::QuietHours { channel, from, to });
            } else if self.r.eat_word("end") {
                break;
            } else {
                let what = format!(
                    "\"cap\", \"quiet hours\" or \"end\" (the rules block at line {} is open)",
                    start.line
                );
                let hint = if t.tok == Tok::Eof || t.is_word("journey") {
                    "add \"end\" to close the rules block"
                } else {
                    "rules hold lines such as: cap email marketing 3 per 7 days, quiet hours sms \
                     21:00 to 08:00"
                };
                return Err(self.r.expected_near(&what, hint, &["cap", "quiet", "end"]));
            }
        }
        let mut errors = Vec::new();
        check::rules(&rules, &mut errors);
        match errors.first() {
            Some(e) => Err(self.refuse(e, &start)),
            None => Ok(rules),
        }
    }

    /// A journey, and the token of its name (for duplicate errors).
    fn journey(&mut self, index: usize) -> Result<(Journey, Token), ParseError> {
        let start = self.r.next();
        self.at.clear();
        self.same_key = None;
        let name_tok = self.r.peek().clone();
        let name = self.name("journey", "abandoned_cart", JourneyName::parse)?;
        let description = match &self.r.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.r.next();
                Some(s)
            }
            _ => None,
        };
        let mut trigger = None;
        let (mut key, mut entry, mut class, mut goal) = (None, None, None, None);
        let mut exit_when = Vec::new();
        // The first token of each header line seen, to refuse a second one.
        let mut seen: HashMap<String, Token> = HashMap::new();
        loop {
            let t = self.r.peek().clone();
            let Tok::Word(w) = &t.tok else { break };
            let w = w.clone();
            let repeatable = w == "exit" && self.r.peek_at(1).is_word("when");
            if !repeatable && !["on", "key", "entry", "class", "goal"].contains(&w.as_str()) {
                break;
            }
            if let Some(first) = seen.get(&w) {
                return Err(self.r.error_at(
                    &t,
                    format!("a second \"{w}\" line; the first is at line {}", first.line),
                    &format!("a journey has at most one \"{w}\" line: remove one of the two"),
                ));
            }
            if !repeatable {
                seen.insert(w.clone(), t.clone());
            }
            self.r.next();
            match w.as_str() {
                "on" => {
                    self.mark("trigger", &t);
                    trigger = Some(self.trigger()?);
                }
                "key" => {
                    self.mark("key", &t);
                    key = Some(
                        self.r
                            .path("a property of the trigger event, such as cart_id")?,
                    );
                }
                "entry" => entry = Some(self.entry()?),
                "class" => class = Some(self.class()?),
                "goal" => {
                    self.mark("goal", &t);
                    let events = self.r.event_selector()?;
                    let same_key = self.same_key()?;
                    self.r.expect_word("within", "\"within\" and a span", || {
                        "write: goal \"Order Completed\" within 7 days".into()
                    })?;
                    let within = self.r.span("a span such as 7 days")?;
                    goal = Some(Goal {
                        events,
                        same_key,
                        within,
                    });
                }
                _ => {
                    self.mark(&format!("exit_when[{}]", exit_when.len()), &t);
                    self.r.next();
                    exit_when.push(self.exit_when()?);
                }
            }
        }
        let do_tok = self.r.peek().clone();
        if !self.r.eat_word("do") {
            let hint = match &do_tok.tok {
                Tok::Word(w) if super::steps::STEP_WORDS.contains(&w.as_str()) => {
                    "the steps start after a line with just \"do\": add it before this line"
                        .to_owned()
                }
                _ => "header lines are on, key, entry, class, goal and exit when; then \"do\", \
                      the steps, and \"end\""
                    .to_owned(),
            };
            return Err(self.r.expected_near(
                "a header line (on, key, entry, class, goal, exit when) or \"do\"",
                &hint,
                HEADER_WORDS,
            ));
        }
        let Some(trigger) = trigger else {
            return Err(self.r.error_at(
                &do_tok,
                format!("journey \"{name}\" has no trigger"),
                "add a line before \"do\" saying what starts it, e.g. on \"Signed Up\", on \
                 entering inactive_subscribers or on api",
            ));
        };
        self.mark("steps", &do_tok);
        self.enter()?;
        let steps = self.steps("steps")?;
        self.leave();
        let opener = format!("the journey at line {}", start.line);
        self.block_end(&["end"], &opener)?;
        if key.is_none()
            && let Some(same) = &self.same_key
        {
            return Err(self.r.error_at(
                same,
                "\"same key\" needs the journey's key".into(),
                "add a header line naming the trigger event's property, e.g. key cart_id, or \
                 remove \"same key\"",
            ));
        }
        let journey = Journey {
            name,
            description,
            trigger,
            key,
            entry: entry.unwrap_or_default(),
            class: class.unwrap_or_default(),
            goal,
            exit_when,
            steps,
        };
        let mut errors = Vec::new();
        check::journey(index, &journey, &mut errors);
        match errors.first() {
            Some(e) => Err(self.refuse(e, &name_tok)),
            None => Ok((journey, name_tok)),
        }
    }

    fn trigger(&mut self) -> Result<Trigger, ParseError> {
        let t = self.r.peek().clone();
        match &t.tok {
            Tok::Str(_) => {}
            Tok::Word(w) if w == "any" => {}
            Tok::Word(w) if w == "entering" || w == "leaving" => {
                self.r.next();
                let segment = self.r.segment_name()?;
                return Ok(if w == "entering" {
                    Trigger::Entered { segment }
                } else {
                    Trigger::Left { segment }
                });
            }
            Tok::Word(w) if w == "anniversary" => {
                self.r.next();
                self.r.expect_word("of", "\"of\" and a date trait", || {
                    "write: on anniversary of birthday at 09:00".into()
                })?;
                let path = self.r.path("a date trait such as birthday")?;
                self.r.expect_word("at", "\"at\" and a time of day", || {
                    "write: on anniversary of birthday at 09:00".into()
                })?;
                let at = self.time("a time of day such as 09:00")?;
                return Ok(Trigger::Anniversary { path, at });
            }
            Tok::Word(w) if w == "api" => {
                self.r.next();
                return Ok(Trigger::Api);
            }
            _ => {
                const STARTS: &[&str] = &["entering", "leaving", "anniversary", "api", "any"];
                let hint = match &t.tok {
                    Tok::Word(w) if did_you_mean(w, STARTS).is_none() => {
                        format!("event names go in double quotes: on \"{w} ...\"")
                    }
                    _ => "e.g. on \"Signed Up\", on entering inactive_subscribers, on leaving \
                          trial_users, on anniversary of birthday at 09:00 or on api"
                        .to_owned(),
                };
                return Err(self
                    .r
                    .expected_near("what starts the journey", &hint, STARTS));
            }
        }
        Ok(Trigger::Event {
            events: self.r.event_selector()?,
        })
    }

    fn entry(&mut self) -> Result<Entry, ParseError> {
        if self.r.eat_word("once") {
            if self.r.eat_word("per") {
                let span = self.r.span("a span such as 30 days")?;
                return Ok(Entry::OncePer { span });
            }
            return Ok(Entry::Once);
        }
        if self.r.eat_word("every") {
            self.r.expect_word("time", "\"time\" after \"every\"", || {
                "write: entry every time".into()
            })?;
            return Ok(Entry::EveryTime);
        }
        Err(self.r.expected_near(
            "\"once\", \"once per\" and a span, or \"every time\"",
            "write: entry once, entry once per 30 days or entry every time",
            &["once", "every"],
        ))
    }

    /// After `exit when`.
    fn exit_when(&mut self) -> Result<ExitWhen, ParseError> {
        if self.r.eat_word("entering") {
            return Ok(ExitWhen::Entered {
                segment: self.r.segment_name()?,
            });
        }
        if self.r.eat_word("leaving") {
            return Ok(ExitWhen::Left {
                segment: self.r.segment_name()?,
            });
        }
        if !matches!(self.r.peek().tok, Tok::Str(_)) && !self.r.at_word("any") {
            return Err(self.r.expected_near(
                "\"entering\", \"leaving\" or an event after \"exit when\"",
                "write: exit when entering recent_buyers, exit when leaving trial_users or exit \
                 when \"Unsubscribed\"",
                &["entering", "leaving"],
            ));
        }
        let events = self.r.event_selector()?;
        let same_key = self.same_key()?;
        Ok(ExitWhen::Event { events, same_key })
    }

    /// An optional `same key`.
    pub(super) fn same_key(&mut self) -> Result<bool, ParseError> {
        if !self.r.at_word("same") {
            return Ok(false);
        }
        let t = self.r.next();
        self.r.expect_word("key", "\"key\" after \"same\"", || {
            "write: same key (an event whose key property equals the trigger's)".into()
        })?;
        self.same_key.get_or_insert(t);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_in_any_order_print_in_one() {
        let a = parse("journey a entry once key id on \"X\" do exit end").unwrap();
        let b = parse("journey a on \"X\" key id entry once do exit end").unwrap();
        assert_eq!(a, b);
    }
}
