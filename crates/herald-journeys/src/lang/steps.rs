//! The parser's steps and branch conditions.
//!
//! ```text
//! steps     = { step }
//! step      = "send" CHANNEL TEMPLATE
//!           | "wait" span
//!           | "wait" "until" TIME ["on" DAY {"," DAY}]
//!           | "wait" "for" selector ["same" "key"] "up" "to" span steps ["timeout" steps] "end"
//!           | "if" condition "then" steps ["else" steps] "end"
//!           | "split" { "arm" ARM_NAME INT steps | "holdout" INT } "end"
//!           | "set" "trait" KEY "=" literal
//!           | "webhook" STRING
//!           | "exit"
//! condition = and_expr { "or" and_expr }
//! and_expr  = unary { "and" unary }
//! unary     = "not" unary | primary
//! primary   = "(" condition ")" | "in" "segment" SEGMENT | trait_condition
//!           | "trigger" filter | ("opened" | "clicked" | "delivered") TEMPLATE
//!           | "event" "(" selector ")" ["same" "key"] "since" "entry"
//! ```
//!
//! A block of steps ends at the first word that cannot start a step; the construct that opened
//! it then expects its own closing words (`end`, `else`, `timeout`, `arm`, `holdout`), so a
//! misspelt step is reported where it stands, with the words that could stand there. As in
//! segments, a parenthesised group is kept as written, so the printer's parentheses round-trip.

use super::parser::Parser;
use crate::ast::{Arm, Cond, Engagement, Step, TemplateName, Weekday};
use herald_segments::lang::syntax::{Tok, Token};

/// Words that start a step.
pub(super) const STEP_WORDS: &[&str] = &["send", "wait", "if", "split", "set", "webhook", "exit"];

const STEP_HINT: &str = "a step starts with send, wait, if, split, set, webhook or exit";

/// For "did you mean" (not `in` and `not`: too short to tell a typo from another word).
const COND_STARTS: &[&str] = &[
    "trait",
    "trigger",
    "opened",
    "clicked",
    "delivered",
    "event",
];

const COND_HINT: &str = "a condition is in segment NAME, trait ..., trigger PROPERTY ..., opened / \
    clicked / delivered TEMPLATE, event(\"Name\") since entry, not ..., or one in parentheses";

type Result<T> = std::result::Result<T, super::ParseError>;

impl Parser {
    /// Steps up to the first word that does not start one; step `i` has the path `{at}[i]`.
    pub(super) fn steps(&mut self, at: &str) -> Result<Vec<Step>> {
        let mut out = Vec::new();
        loop {
            let t = self.r.peek().clone();
            let is_step = matches!(&t.tok, Tok::Word(w) if STEP_WORDS.contains(&w.as_str()));
            if !is_step {
                return Ok(out);
            }
            let path = format!("{at}[{}]", out.len());
            self.mark(&path, &t);
            out.push(self.step(&path)?);
        }
    }

    /// Consumes the first of `ends` after a block of steps, or says what could stand there;
    /// `opener` names the open construct ("the \"if\" at line 3").
    pub(super) fn block_end(&mut self, ends: &[&str], opener: &str) -> Result<Token> {
        if ends.iter().any(|e| self.r.at_word(e)) {
            Ok(self.r.next())
        } else {
            Err(self.block_error(ends, opener))
        }
    }

    /// "expected a step or one of `ends`", with a hint for the likely mistakes.
    fn block_error(&self, ends: &[&str], opener: &str) -> super::ParseError {
        let quoted: Vec<String> = ends.iter().map(|e| format!("\"{e}\"")).collect();
        let (last, rest) = quoted.split_last().expect("a block has a closing word");
        let what = if rest.is_empty() {
            format!("a step or {last} ({opener} is open)")
        } else {
            format!("a step, {} or {last} ({opener} is open)", rest.join(", "))
        };
        let t = self.r.peek();
        let hint = if t.tok == Tok::Eof || t.is_word("journey") || t.is_word("rules") {
            format!("add \"end\" to close {opener}")
        } else if matches!(&t.tok, Tok::Word(w) if ["on", "key", "entry", "class", "goal"].contains(&w.as_str()))
        {
            "header lines (on, key, entry, class, goal, exit when) go before \"do\"".to_owned()
        } else {
            STEP_HINT.to_owned()
        };
        let candidates: Vec<&str> = STEP_WORDS.iter().chain(ends).copied().collect();
        self.r.expected_near(&what, &hint, &candidates)
    }

    fn step(&mut self, path: &str) -> Result<Step> {
        let t = self.r.next();
        Ok(match t.src.as_str() {
            "send" => Step::Send {
                channel: self.channel()?,
                template: self.template()?,
            },
            "wait" => return self.wait(path, &t),
            "if" => return self.branch(path, &t),
            "split" => return self.split(path, &t),
            "set" => {
                self.r.expect_word("trait", "\"trait\" after \"set\"", || {
                    "write: set trait email_sunset = true".into()
                })?;
                let key = self.trait_key()?;
                self.r.expect(
                    &Tok::Cmp(herald_segments::ast::CmpOp::Eq),
                    "\"=\" and a value",
                    "write: set trait email_sunset = true",
                )?;
                Step::SetTrait {
                    key,
                    value: self.r.literal()?,
                }
            }
            "webhook" => Step::Webhook {
                url: self.r.string(
                    "the URL in double quotes",
                    "write: webhook \"https://example.com/hook\"",
                )?,
            },
            _ => {
                if self.r.at_word("when") {
                    return Err(self.r.error_at(
                        &t,
                        "\"exit when\" inside the steps".into(),
                        "exit conditions go in the header, before \"do\"; as a step, \"exit\" \
                         stands alone (put it in an if to exit on a condition)",
                    ));
                }
                Step::Exit
            }
        })
    }

    fn template(&mut self) -> Result<TemplateName> {
        self.name("template", "welcome_1", TemplateName::parse)
    }

    /// A trait key: a word, or any non-empty text in back-quotes.
    fn trait_key(&mut self) -> Result<String> {
        let t = self.r.peek().clone();
        let key = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Key(k) if !k.is_empty() => k.clone(),
            _ => {
                return Err(self.r.expected(
                    "a trait name such as email_sunset",
                    "write the trait bare (email_sunset), or in back-quotes if it has other \
                     characters (`opt-in date`)",
                ));
            }
        };
        self.r.next();
        Ok(key)
    }

    /// After `wait`: a span, `until` a time, or `for` an event.
    fn wait(&mut self, path: &str, start: &Token) -> Result<Step> {
        if self.r.eat_word("until") {
            let at = self.time("a time of day such as 09:00")?;
            let mut days = Vec::new();
            if self.r.eat_word("on") {
                loop {
                    days.push(self.weekday()?);
                    if !self.r.eat(&Tok::Comma) {
                        break;
                    }
                }
            }
            return Ok(Step::WaitUntil { at, days });
        }
        if self.r.eat_word("for") {
            let events = self.r.event_selector()?;
            let same_key = self.same_key()?;
            let hint = || "write: wait for \"Order Completed\" up to 2 days".to_owned();
            self.r.expect_word("up", "\"up to\" and a span", hint)?;
            self.r.expect_word("to", "\"to\" after \"up\"", hint)?;
            let timeout = self.r.span("a span such as 2 days")?;
            let opener = format!("the \"wait for\" at line {}", start.line);
            self.enter()?;
            let received = self.steps(&format!("{path}.received"))?;
            let mut timed_out = Vec::new();
            let end = self.block_end(&["timeout", "end"], &opener)?;
            if end.is_word("timeout") {
                timed_out = self.steps(&format!("{path}.timed_out"))?;
                self.block_end(&["end"], &opener)?;
            }
            self.leave();
            return Ok(Step::WaitFor {
                events,
                same_key,
                timeout,
                received,
                timed_out,
            });
        }
        if matches!(&self.r.peek().tok, Tok::Num(s) if s.contains(':')) {
            return Err(self.r.expected(
                "a span such as 2 days",
                "to wait until a time of day write: wait until 09:00",
            ));
        }
        if !matches!(self.r.peek().tok, Tok::Num(_)) {
            return Err(self.r.expected_near(
                "a span such as 2 days, \"until\" and a time, or \"for\" and an event",
                "write: wait 2 days, wait until 09:00 or wait for \"Order Completed\" up to 2 days",
                &["until", "for"],
            ));
        }
        Ok(Step::Wait {
            duration: self.r.span("a span such as 2 days")?,
        })
    }

    fn weekday(&mut self) -> Result<Weekday> {
        if let Tok::Word(w) = &self.r.peek().tok
            && let Some(d) = Weekday::parse(w)
        {
            self.r.next();
            return Ok(d);
        }
        Err(self.r.expected_near(
            "a day of the week",
            "days are monday, tuesday, wednesday, thursday, friday, saturday and sunday, \
             separated by commas",
            &Weekday::ALL.map(Weekday::as_str),
        ))
    }

    fn branch(&mut self, path: &str, start: &Token) -> Result<Step> {
        let condition = self.condition()?;
        self.r
            .expect_word("then", "\"then\" after the condition", || {
                "write: if CONDITION then ... end; join conditions with and / or".into()
            })?;
        let opener = format!("the \"if\" at line {}", start.line);
        self.enter()?;
        let then = self.steps(&format!("{path}.then"))?;
        let mut otherwise = Vec::new();
        if self.block_end(&["else", "end"], &opener)?.is_word("else") {
            otherwise = self.steps(&format!("{path}.otherwise"))?;
            self.block_end(&["end"], &opener)?;
        }
        self.leave();
        Ok(Step::Branch {
            condition,
            then,
            otherwise,
        })
    }

    fn split(&mut self, path: &str, start: &Token) -> Result<Step> {
        let opener = format!("the \"split\" at line {}", start.line);
        let weight_hint = "a weight is a whole number; arms get people in proportion to weights";
        let mut arms = Vec::new();
        self.enter()?;
        loop {
            let t = self.r.peek().clone();
            let arm_path = format!("{path}.arms[{}]", arms.len());
            if self.r.eat_word("arm") {
                self.mark(&arm_path, &t);
                let name = self.arm_name()?;
                let weight = self.whole("the arm's weight, such as 50", weight_hint)?;
                let steps = self.steps(&format!("{arm_path}.steps"))?;
                arms.push(Arm {
                    name,
                    weight,
                    holdout: false,
                    steps,
                });
            } else if self.r.eat_word("holdout") {
                self.mark(&arm_path, &t);
                let weight = self.whole("the holdout's weight, such as 10", weight_hint)?;
                arms.push(Arm {
                    name: "holdout".into(),
                    weight,
                    holdout: true,
                    steps: Vec::new(),
                });
            } else if self.r.eat_word("end") {
                break;
            } else if arms.last().is_some_and(|a: &Arm| !a.holdout) {
                return Err(self.block_error(&["arm", "holdout", "end"], &opener));
            } else {
                return Err(self.r.expected_near(
                    &format!("\"arm\", \"holdout\" or \"end\" ({opener} is open)"),
                    "write each arm as: arm NAME WEIGHT and its steps, and a holdout as: \
                     holdout WEIGHT",
                    &["arm", "holdout", "end"],
                ));
            }
        }
        self.leave();
        Ok(Step::Split { arms })
    }

    /// A word, or any text in double quotes.
    fn arm_name(&mut self) -> Result<String> {
        let name = match &self.r.peek().tok {
            Tok::Word(w) | Tok::Str(w) => w.clone(),
            _ => {
                return Err(self.r.expected(
                    "the arm's name, such as a or control",
                    "write: arm a 50, then the arm's steps",
                ));
            }
        };
        self.r.next();
        Ok(name)
    }

    pub(super) fn condition(&mut self) -> Result<Cond> {
        self.enter()?;
        let first = self.and_expr()?;
        let c = if self.r.at_word("or") {
            let mut of = vec![first];
            while self.r.eat_word("or") {
                of.push(self.and_expr()?);
            }
            Cond::Any { of }
        } else {
            first
        };
        self.leave();
        Ok(c)
    }

    fn and_expr(&mut self) -> Result<Cond> {
        let first = self.unary()?;
        if !self.r.at_word("and") {
            return Ok(first);
        }
        let mut of = vec![first];
        while self.r.eat_word("and") {
            of.push(self.unary()?);
        }
        Ok(Cond::All { of })
    }

    fn unary(&mut self) -> Result<Cond> {
        if !self.r.eat_word("not") {
            return self.primary();
        }
        self.enter()?;
        let inner = self.unary()?;
        self.leave();
        Ok(Cond::Not {
            condition: Box::new(inner),
        })
    }

    fn primary(&mut self) -> Result<Cond> {
        let t = self.r.peek().clone();
        let word = match &t.tok {
            Tok::LParen => {
                self.r.next();
                let c = self.condition()?;
                let what = format!(
                    "\")\" to close the \"(\" at line {}, column {}",
                    t.line, t.column
                );
                self.r
                    .expect(&Tok::RParen, &what, "every \"(\" needs a matching \")\"")?;
                return Ok(c);
            }
            Tok::Word(w) => w.clone(),
            Tok::Str(_) => {
                return Err(self.r.expected(
                    "a condition",
                    "to test for an event write: event(\"Order Completed\") since entry",
                ));
            }
            _ => return Err(self.r.expected("a condition", COND_HINT)),
        };
        let how = match word.as_str() {
            "in" => {
                self.r.next();
                self.r
                    .expect_word("segment", "\"segment\" after \"in\"", || {
                        "write: in segment loyal_customers".into()
                    })?;
                return Ok(Cond::InSegment {
                    segment: self.r.segment_name()?,
                });
            }
            "trait" => return Ok(Cond::Trait(self.r.trait_condition()?)),
            "trigger" => {
                self.r.next();
                return Ok(Cond::Trigger(self.r.filter()?));
            }
            "event" => return self.event_since_entry(),
            "opened" => Engagement::Opened,
            "clicked" => Engagement::Clicked,
            "delivered" => Engagement::Delivered,
            _ => return Err(self.r.expected_near("a condition", COND_HINT, COND_STARTS)),
        };
        self.r.next();
        Ok(Cond::Engaged {
            template: self.template()?,
            how,
        })
    }

    /// `event(SELECTOR) [same key] since entry`.
    fn event_since_entry(&mut self) -> Result<Cond> {
        self.r.next();
        let example = || "write: event(\"Order Completed\") since entry".to_owned();
        self.r
            .expect(&Tok::LParen, "\"(\" after \"event\"", &example())?;
        let events = self.r.event_selector()?;
        self.r.expect(
            &Tok::RParen,
            "\")\" after the event and its filters",
            "join filters with \"and\" and close the parentheses: event(\"Order Completed\" \
             where total > 100)",
        )?;
        let same_key = self.same_key()?;
        self.r
            .expect_word("since", "\"since entry\" after the event", example)?;
        self.r
            .expect_word("entry", "\"entry\" after \"since\"", example)?;
        Ok(Cond::Event { events, same_key })
    }
}
