//! Recursive-descent parser for definitions and boolean structure. The pieces live beside it:
//! selectors, filters, paths and literals in `terms.rs`, windows and times in `time.rs`,
//! occurrences, sequences and traits in `conditions.rs`.
//!
//! Grammar (keywords lower-case; newlines are whitespace; `#` starts a comment):
//!
//! ```text
//! file       = definition { definition }
//! definition = "segment" NAME [STRING] condition
//! condition  = and_expr { "or" and_expr }
//! and_expr   = unary { "and" unary }
//! unary      = "not" unary | primary
//! primary    = "(" condition ")" | ("all" | "any") "of" list | "at" "least" INT "of" list
//!            | metric | occurrence | sequence | trait | "in" "segment" NAME
//! list       = "(" [ condition { "," condition } ] ")"
//! ```
//!
//! `and` binds tighter than `or`; a parenthesised group is kept as written, so `(a and b) and
//! c` stays a nested `all` and the printer's parentheses round-trip exactly.

use super::error::{ParseError, did_you_mean};
use super::lexer::{Tok, Token, lex};
use crate::ast::{Condition, Definition, Measure, Metric, PerKey, SegmentName};
use std::collections::HashMap;

/// Deeper nesting is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 64;

/// Every keyword of the language; the printer back-quotes property keys that collide with one.
pub(crate) const KEYWORDS: &[&str] = &[
    "after",
    "ago",
    "all",
    "and",
    "anniversary",
    "any",
    "at",
    "avg",
    "before",
    "between",
    "by",
    "contains",
    "count",
    "distinct",
    "ever",
    "exists",
    "false",
    "first",
    "followed",
    "from",
    "in",
    "last",
    "latest",
    "least",
    "max",
    "min",
    "not",
    "now",
    "of",
    "older",
    "on",
    "or",
    "per",
    "segment",
    "since",
    "starts",
    "sum",
    "than",
    "this",
    "trait",
    "true",
    "where",
    "with",
    "within",
    "year",
    "years",
];

/// Words that can start a condition, for "did you mean" hints.
const CONDITION_STARTS: &[&str] = &[
    "count", "sum", "avg", "min", "max", "distinct", "first", "last", "latest", "any", "all",
    "trait", "in", "not", "at",
];

const CONDITION_HINT: &str = "a condition starts with count, sum, avg, min, max, distinct, first, \
    last, latest, any, trait, in segment, not, at least, all of, any of or \"(\"";

pub(crate) struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    /// The definition being parsed, to refuse `in segment` of itself.
    current: Option<SegmentName>,
    /// `in segment` references of the current definition, with their tokens, for cycle errors.
    pub(crate) refs: Vec<(SegmentName, Token)>,
    /// Keywords of a language built on this parser (see `syntax::Reader`), for the same
    /// "keywords are lower-case" hint as this language's own.
    pub(crate) extra_keywords: &'static [&'static str],
}

/// Parses a file of definitions.
pub fn parse(text: &str) -> Result<Vec<Definition>, ParseError> {
    let mut p = Parser::new(text)?;
    if p.peek().tok == Tok::Eof {
        return Err(p.expected(
            "a definition such as: segment frequent_buyers count(\"Order Completed\") >= 3",
            "the file is empty; each definition starts with \"segment\" and a name",
        ));
    }
    let mut defs: Vec<Definition> = Vec::new();
    let mut seen: HashMap<SegmentName, Token> = HashMap::new();
    let mut refs: Vec<Vec<(SegmentName, Token)>> = Vec::new();
    while p.peek().tok != Tok::Eof {
        p.expect_word(
            "segment",
            "the next definition, starting with \"segment\"",
            || "start each definition with: segment NAME".into(),
        )?;
        let name_tok = p.peek().clone();
        let name = p.segment_name()?;
        if let Some(first) = seen.get(&name) {
            return Err(p.error_at(
                &name_tok,
                format!(
                    "segment \"{name}\" is already defined at line {}",
                    first.line
                ),
                "names must be unique within a file; rename one of the two",
            ));
        }
        seen.insert(name.clone(), name_tok);
        let description = match &p.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                p.next();
                Some(s)
            }
            _ => None,
        };
        p.current = Some(name.clone());
        p.refs.clear();
        let condition = p.condition()?;
        if !matches!(p.peek().tok, Tok::Eof) && !p.peek().is_word("segment") {
            return Err(p.trailing("\"and\", \"or\" or the next \"segment\""));
        }
        refs.push(std::mem::take(&mut p.refs));
        defs.push(Definition {
            name,
            description,
            condition,
        });
    }
    if let Some(cycle) = super::check::find_cycle(&defs) {
        // Point at the reference that closes the circle: in the last member, to the first.
        let (last, first) = (cycle[cycle.len() - 1], cycle[0]);
        let tok = refs[last]
            .iter()
            .find(|(n, _)| *n == defs[first].name)
            .map(|(_, t)| t);
        let names: Vec<&str> = cycle.iter().map(|&i| defs[i].name.as_str()).collect();
        let message = format!(
            "segments refer to each other in a circle: {} -> {}",
            names.join(" -> "),
            names[0]
        );
        let hint = "a segment cannot depend on itself, directly or through other segments";
        return Err(match tok {
            Some(t) => p.error_at(t, message, hint),
            None => ParseError::new(1, 1, message, hint),
        });
    }
    if let Err(e) = super::check::validate(&defs) {
        // The parser checks everything `validate` does as it goes; this is a safety net.
        return Err(ParseError::new(1, 1, e.to_string(), &e.hint));
    }
    Ok(defs)
}

/// Parses a single condition (no `segment NAME` header).
pub fn parse_condition(text: &str) -> Result<Condition, ParseError> {
    let mut p = Parser::new(text)?;
    let c = p.condition()?;
    if p.peek().tok != Tok::Eof {
        return Err(p.trailing("\"and\", \"or\" or the end of the text"));
    }
    Ok(c)
}

impl Parser {
    pub(crate) fn new(text: &str) -> Result<Self, ParseError> {
        Ok(Parser {
            toks: lex(text)?,
            pos: 0,
            depth: 0,
            current: None,
            refs: Vec::new(),
            extra_keywords: &[],
        })
    }

    pub(crate) fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    pub(crate) fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    pub(crate) fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn at_word(&self, w: &str) -> bool {
        self.peek().is_word(w)
    }

    pub(crate) fn eat_word(&mut self, w: &str) -> bool {
        let at = self.at_word(w);
        if at {
            self.next();
        }
        at
    }

    pub(crate) fn eat(&mut self, tok: &Tok) -> bool {
        let at = &self.peek().tok == tok;
        if at {
            self.next();
        }
        at
    }

    /// Consumes the keyword `w` or fails with "expected {what}" and the hint `hint()`.
    pub(crate) fn expect_word(
        &mut self,
        w: &str,
        what: &str,
        hint: impl FnOnce() -> String,
    ) -> Result<Token, ParseError> {
        if self.at_word(w) {
            Ok(self.next())
        } else {
            Err(self.expected_near(what, &hint(), &[w]))
        }
    }

    pub(crate) fn expect(
        &mut self,
        tok: &Tok,
        what: &str,
        hint: &str,
    ) -> Result<Token, ParseError> {
        if &self.peek().tok == tok {
            Ok(self.next())
        } else {
            Err(self.expected(what, hint))
        }
    }

    pub(crate) fn error_at(&self, t: &Token, message: String, hint: &str) -> ParseError {
        ParseError::new(t.line, t.column, message, hint)
    }

    /// "expected {what}, found {the next token}", with `hint`, unless the token is a keyword in
    /// the wrong case, which is the likelier mistake.
    pub(crate) fn expected(&self, what: &str, hint: &str) -> ParseError {
        self.expected_near(what, hint, &[])
    }

    /// Like [`Self::expected`], and suggests one of `candidates` if the found word is a typo.
    pub(crate) fn expected_near(&self, what: &str, hint: &str, candidates: &[&str]) -> ParseError {
        let t = self.peek();
        let message = format!("expected {what}, found {}", t.describe());
        let mut hint = hint.to_owned();
        if let Tok::Word(w) = &t.tok {
            let lower = w.to_lowercase();
            let keyword =
                KEYWORDS.contains(&lower.as_str()) || self.extra_keywords.contains(&lower.as_str());
            if lower != *w && keyword {
                hint = format!("keywords are lower-case: write \"{lower}\"");
            } else if let Some(s) = did_you_mean(w, candidates) {
                hint = format!("did you mean \"{s}\"? {hint}");
            }
        }
        ParseError::new(t.line, t.column, message, &hint)
    }

    fn trailing(&self, what: &str) -> ParseError {
        let hint = if self.peek().tok == Tok::RParen {
            "this \")\" has no matching \"(\""
        } else {
            "a definition holds one condition: join conditions with \"and\" / \"or\", and start \
             the next definition with \"segment NAME\""
        };
        self.expected_near(what, hint, &["and", "or", "segment"])
    }

    /// Counts one more level of nesting, refusing too many.
    pub(crate) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let t = self.peek();
            return Err(self.error_at(
                t,
                format!("conditions are nested more than {MAX_DEPTH} levels deep"),
                "split the condition into several segments and combine them with \"in segment\"",
            ));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    pub(crate) fn condition(&mut self) -> Result<Condition, ParseError> {
        self.enter()?;
        let first = self.and_expr()?;
        let c = if self.at_word("or") {
            let mut of = vec![first];
            while self.eat_word("or") {
                of.push(self.and_expr()?);
            }
            Condition::Any { of }
        } else {
            first
        };
        self.leave();
        Ok(c)
    }

    fn and_expr(&mut self) -> Result<Condition, ParseError> {
        let first = self.unary()?;
        if !self.at_word("and") {
            return Ok(first);
        }
        let mut of = vec![first];
        while self.eat_word("and") {
            of.push(self.unary()?);
        }
        Ok(Condition::All { of })
    }

    fn unary(&mut self) -> Result<Condition, ParseError> {
        if !self.eat_word("not") {
            return self.primary();
        }
        self.enter()?;
        let inner = self.unary()?;
        self.leave();
        Ok(Condition::Not {
            condition: Box::new(inner),
        })
    }

    fn primary(&mut self) -> Result<Condition, ParseError> {
        let t = self.peek().clone();
        let word = match &t.tok {
            Tok::LParen => {
                self.next();
                let c = self.condition()?;
                let what = format!(
                    "\")\" to close the \"(\" at line {}, column {}",
                    t.line, t.column
                );
                self.expect(&Tok::RParen, &what, "every \"(\" needs a matching \")\"")?;
                return Ok(c);
            }
            Tok::Word(w) => w.clone(),
            Tok::Str(_) => {
                return Err(self.expected(
                    "a condition",
                    "an event name goes inside a measure: count(\"Order Completed\") >= 1",
                ));
            }
            _ => return Err(self.expected("a condition", CONDITION_HINT)),
        };
        match word.as_str() {
            "count" | "sum" | "avg" | "min" | "max" | "distinct" => self.metric(),
            "first" | "last" if self.peek_at(1).tok == Tok::LParen => self.occurrence(),
            "first" | "last" => {
                self.next();
                Err(self.expected(
                    &format!("\"(\" after \"{word}\""),
                    &format!(
                        "write {word}(\"Order Completed\") ...; for a sequence write latest \"...\""
                    ),
                ))
            }
            "latest" => self.sequence(),
            "any" if self.peek_at(1).is_word("of") => {
                self.next();
                self.next();
                Ok(Condition::Any { of: self.list()? })
            }
            "any" => self.sequence(),
            "all" => {
                self.next();
                self.expect_word("of", "\"of\" after \"all\"", || {
                    "write: all of (a, b)".into()
                })?;
                Ok(Condition::All { of: self.list()? })
            }
            "at" => self.at_least(),
            "trait" => self.trait_condition(),
            "in" => self.segment_ref(),
            _ => Err(self.expected_near("a condition", CONDITION_HINT, CONDITION_STARTS)),
        }
    }

    /// `( condition, ... )`; a trailing comma is allowed.
    fn list(&mut self) -> Result<Vec<Condition>, ParseError> {
        let open = self.expect(
            &Tok::LParen,
            "\"(\" to start the list of conditions",
            "write the conditions in parentheses, separated by commas: (a, b, c)",
        )?;
        let mut of = Vec::new();
        loop {
            if self.eat(&Tok::RParen) {
                return Ok(of);
            }
            of.push(self.condition()?);
            if self.eat(&Tok::Comma) {
                continue;
            }
            if self.eat(&Tok::RParen) {
                return Ok(of);
            }
            let what = format!(
                "\",\" or \")\" in the list started at line {}, column {}",
                open.line, open.column
            );
            return Err(self.expected(&what, "separate the conditions of a list with commas"));
        }
    }

    fn at_least(&mut self) -> Result<Condition, ParseError> {
        self.next();
        self.expect_word("least", "\"least\" after \"at\"", || {
            "write: at least 2 of (a, b, c)".into()
        })?;
        let n_tok = self.peek().clone();
        let n = match &n_tok.tok {
            Tok::Num(s) => s.parse::<u32>().ok(),
            _ => None,
        };
        let Some(n) = n else {
            return Err(self.expected(
                "a whole number after \"at least\"",
                "write: at least 2 of (a, b, c)",
            ));
        };
        self.next();
        self.expect_word("of", "\"of\" after the number", || {
            "write: at least 2 of (a, b, c)".into()
        })?;
        let of = self.list()?;
        if n as usize > of.len() {
            return Err(self.error_at(
                &n_tok,
                format!(
                    "\"at least {n} of\" can never hold: the list has {} conditions",
                    of.len()
                ),
                "lower the number or add conditions to the list",
            ));
        }
        Ok(Condition::AtLeast { n, of })
    }

    /// `in segment NAME`.
    fn segment_ref(&mut self) -> Result<Condition, ParseError> {
        self.next();
        self.expect_word("segment", "\"segment\" after \"in\"", || {
            "write: in segment frequent_buyers (windows go after a measure: count(...) in last 90 days)"
                .into()
        })?;
        let tok = self.peek().clone();
        let name = self.segment_name()?;
        if self.current.as_ref() == Some(&name) {
            return Err(self.error_at(
                &tok,
                format!("segment \"{name}\" refers to itself"),
                "a segment cannot be defined in terms of itself",
            ));
        }
        self.refs.push((name.clone(), tok));
        Ok(Condition::Segment { name })
    }

    pub(crate) fn segment_name(&mut self) -> Result<SegmentName, ParseError> {
        let rule = "names use lower-case letters, digits and \"_\", start with a letter and are \
                    at most 64 characters long";
        let t = self.peek().clone();
        let found = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) | Tok::Key(s) => s.clone(),
            _ => return Err(self.expected("a segment name such as frequent_buyers", rule)),
        };
        match (&t.tok, SegmentName::parse(&found)) {
            (Tok::Word(_), Ok(name)) => {
                self.next();
                Ok(name)
            }
            _ => {
                let fixed: String = found
                    .trim()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let hint = match SegmentName::parse(&fixed) {
                    Ok(_) if matches!(t.tok, Tok::Word(_)) => format!("{rule}: {fixed}"),
                    Ok(_) => format!("names are not quoted; {rule}: {fixed}"),
                    Err(_) => format!("{rule}, e.g. frequent_buyers"),
                };
                Err(self.error_at(
                    &t,
                    format!("{} is not a valid segment name", t.describe()),
                    &hint,
                ))
            }
        }
    }

    fn metric(&mut self) -> Result<Condition, ParseError> {
        let m = self.next();
        let word = m.src.clone();
        self.expect(
            &Tok::LParen,
            &format!("\"(\" after \"{word}\""),
            &format!("write {word}(\"Event Name\"...)"),
        )?;
        let (events, path) = self.selector(word != "count", &word)?;
        let measure = match (word.as_str(), path) {
            ("count", _) => Measure::Count,
            ("sum", Some(p)) => Measure::Sum(p),
            ("avg", Some(p)) => Measure::Avg(p),
            ("min", Some(p)) => Measure::Min(p),
            ("max", Some(p)) => Measure::Max(p),
            (_, Some(p)) => Measure::Distinct(p),
            (_, None) => unreachable!("selector() requires a property for {word}"),
        };
        self.close_selector(&word)?;
        let key = if self.eat_word("per") {
            Some(self.path("a property after \"per\", such as product_id")?)
        } else {
            None
        };
        let window = self.window()?;
        let compare = match window {
            Some(_) => self.comparison("a comparison such as \">= 3\"")?,
            None => self.comparison(
                "a window such as \"in last 90 days\" or a comparison such as \">= 3\"",
            )?,
        };
        let window = window.unwrap_or(crate::ast::Window::Ever);
        Ok(match key {
            None => Condition::Metric(Metric {
                measure,
                events,
                window,
                compare,
            }),
            Some(key) => Condition::PerKey(PerKey {
                measure,
                events,
                key,
                window,
                compare,
            }),
        })
    }
}
