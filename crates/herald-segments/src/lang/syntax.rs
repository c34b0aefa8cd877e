//! Building blocks for definition languages that embed this one (the journey language).
//!
//! A language that speaks of events, filters, spans, traits and segments should spell them
//! exactly as segments do and report the same errors, so it reuses this crate's lexer and
//! sub-parsers instead of copying them. [`Reader`] is a cursor over the tokens with the
//! segment parser's pieces; the `print_*` functions write the same pieces canonically, and the
//! `check_*` functions refuse what the JSON form can spell but the text form cannot.
//!
//! Newlines are whitespace and `#` starts a comment, as in segments, so the embedding grammar
//! must be unambiguous without line breaks (e.g. every statement starts with a keyword).
//!
//! ```
//! use herald_segments::lang::syntax::{Reader, print_selector};
//!
//! let mut r = Reader::new("on \"Product Added\" where price > 10 do").unwrap();
//! r.expect_word("on", "\"on\"", || "write: on \"Event Name\"".into()).unwrap();
//! let sel = r.event_selector().unwrap();
//! assert!(r.at_word("do"));
//! assert_eq!(print_selector(&sel), "\"Product Added\" where price > 10");
//! ```

use super::check::{Problem, check_filter, check_selector, check_trait};
use super::error::{JsonError, ParseError};
use super::json::{JsonForm, from_serde_in};
use super::parser::Parser;
use crate::ast::{
    Condition, EventSelector, Filter, Literal, PathStep, PropertyPath, SegmentName, Span,
    TraitCondition,
};

pub use super::error::did_you_mean;
pub use super::lexer::{Tok, Token};

/// A cursor over a text's tokens, with the segment language's sub-parsers.
///
/// Every method that fails returns a [`ParseError`] at the offending token, with the segment
/// language's messages and hints.
pub struct Reader {
    p: Parser,
}

impl Reader {
    /// Tokenizes `text` (lexical errors, such as an unclosed string, are reported here).
    pub fn new(text: &str) -> Result<Reader, ParseError> {
        Ok(Reader {
            p: Parser::new(text)?,
        })
    }

    /// Adds the embedding language's keywords, so that `SEND` gets the hint "keywords are
    /// lower-case" as `COUNT` does.
    pub fn with_keywords(mut self, keywords: &'static [&'static str]) -> Reader {
        self.p.extra_keywords = keywords;
        self
    }

    /// The next token ([`Tok::Eof`] at the end, forever).
    pub fn peek(&self) -> &Token {
        self.p.peek()
    }

    /// The token `n` places after the next one.
    pub fn peek_at(&self, n: usize) -> &Token {
        self.p.peek_at(n)
    }

    /// Consumes and returns the next token.
    // Not `Iterator::next`: the reader never runs out, it returns `Eof` forever.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Token {
        self.p.next()
    }

    pub fn at_word(&self, w: &str) -> bool {
        self.p.at_word(w)
    }

    /// Consumes the word `w` if it is next.
    pub fn eat_word(&mut self, w: &str) -> bool {
        self.p.eat_word(w)
    }

    /// Consumes `tok` if it is next.
    pub fn eat(&mut self, tok: &Tok) -> bool {
        self.p.eat(tok)
    }

    /// Consumes the word `w`, or fails with "expected {what}, found ..." and `hint()` (or "did
    /// you mean" when the found word is a typo of `w`).
    pub fn expect_word(
        &mut self,
        w: &str,
        what: &str,
        hint: impl FnOnce() -> String,
    ) -> Result<Token, ParseError> {
        self.p.expect_word(w, what, hint)
    }

    /// Consumes `tok`, or fails with "expected {what}, found ..." and `hint`.
    pub fn expect(&mut self, tok: &Tok, what: &str, hint: &str) -> Result<Token, ParseError> {
        self.p.expect(tok, what, hint)
    }

    /// An error at `t`.
    pub fn error_at(&self, t: &Token, message: String, hint: &str) -> ParseError {
        self.p.error_at(t, message, hint)
    }

    /// "expected {what}, found {the next token}", with `hint`.
    pub fn expected(&self, what: &str, hint: &str) -> ParseError {
        self.p.expected(what, hint)
    }

    /// Like [`Self::expected`], suggesting one of `candidates` if the found word is a typo.
    pub fn expected_near(&self, what: &str, hint: &str, candidates: &[&str]) -> ParseError {
        self.p.expected_near(what, hint, candidates)
    }

    /// `"Event Name"` or `any`, then optionally `where FILTER {and FILTER}`.
    pub fn event_selector(&mut self) -> Result<EventSelector, ParseError> {
        let starts = matches!(self.peek().tok, Tok::Str(_)) || self.at_word("any");
        if starts && self.peek_at(1).tok == Tok::Dot {
            self.next();
            return Err(self.expected(
                "\"where\" or what follows the event",
                "an event here takes no property; filter it with where, e.g. \"Order Completed\" \
                 where total >= 100",
            ));
        }
        let (sel, _) = self.p.selector(false, "the event")?;
        Ok(sel)
    }

    /// `PATH OPERATOR [VALUE]`, e.g. `total >= 100`, `coupon exists`.
    pub fn filter(&mut self) -> Result<Filter, ParseError> {
        self.p.filter()
    }

    /// `key {. key | []}`; `what` names it in errors ("a property such as cart_id").
    pub fn path(&mut self, what: &str) -> Result<PropertyPath, ParseError> {
        self.p.path(what)
    }

    /// A whole number and a unit: `7 days`; `what` names it in errors.
    pub fn span(&mut self, what: &str) -> Result<Span, ParseError> {
        self.p.span(what)
    }

    pub fn segment_name(&mut self) -> Result<SegmentName, ParseError> {
        self.p.segment_name()
    }

    /// A number, `"string"`, `true`, `false` or a `[list]` of those.
    pub fn literal(&mut self) -> Result<Literal, ParseError> {
        self.p.literal()
    }

    /// `trait PATH TEST`, starting at the word `trait`: `trait phone exists`,
    /// `trait plan = "pro"`, `trait created_at in last 30 days`.
    pub fn trait_condition(&mut self) -> Result<TraitCondition, ParseError> {
        if !self.at_word("trait") {
            return Err(self.expected("\"trait\"", "write: trait plan = \"pro\""));
        }
        match self.p.trait_condition()? {
            Condition::Trait(t) => Ok(t),
            other => unreachable!("trait_condition() returns a trait condition, not {other:?}"),
        }
    }

    /// A double-quoted string, or "expected {what}" with `hint`.
    pub fn string(&mut self, what: &str, hint: &str) -> Result<String, ParseError> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.next();
                Ok(s)
            }
            _ => Err(self.expected(what, hint)),
        }
    }
}

/// `"Event".path where f and g`, without parentheses.
pub fn print_selector(sel: &EventSelector) -> String {
    let mut out = String::new();
    super::printer::selector(sel, None, &mut out);
    out
}

/// `total >= 100`.
pub fn print_filter(f: &Filter) -> String {
    super::printer::filter(f)
}

/// `products[].category`, back-quoting keys that are not plain words or are keywords.
pub fn print_path(p: &PropertyPath) -> String {
    super::printer::path(p)
}

/// A single key as [`Reader`] reads it back from a word or a back-quoted key.
pub fn print_key(k: &str) -> String {
    print_path(&PropertyPath(vec![PathStep::Key(k.to_owned())]))
}

pub fn print_literal(v: &Literal) -> String {
    super::printer::literal(v)
}

/// `s` in double quotes, escaped so that the lexer reads back exactly `s`.
pub fn print_string(s: &str) -> String {
    super::printer::quote(s, '"')
}

/// `trait plan = "pro"`.
pub fn print_trait_condition(t: &TraitCondition) -> String {
    super::printer::print_condition(&Condition::Trait(t.clone()))
}

/// A tree that the JSON form can spell but the text form cannot (e.g. `exists` with a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub hint: String,
}

fn invalid((message, hint): Problem) -> Invalid {
    Invalid {
        message,
        hint: hint.to_owned(),
    }
}

/// Refuses filters whose operator and value do not fit, and paths the text cannot spell.
pub fn check_event_selector(sel: &EventSelector) -> Result<(), Invalid> {
    check_selector(sel).map_err(invalid)
}

pub fn check_event_filter(f: &Filter) -> Result<(), Invalid> {
    check_filter(f).map_err(invalid)
}

/// Refuses what [`check_event_filter`] does, and empty windows.
pub fn check_trait_condition(t: &TraitCondition) -> Result<(), Invalid> {
    check_trait(t).map_err(invalid)
}

/// Converts serde_json's error about `text[offset..]` into a [`JsonError`] positioned in `text`
/// (1-based line, character column) with the hints the segment language gives, naming
/// `schema_file` and saying `too_deep` when the input is nested beyond serde_json's limit.
pub fn json_error(
    e: &serde_json::Error,
    text: &str,
    offset: usize,
    schema_file: &'static str,
    too_deep: &'static str,
) -> JsonError {
    let form = JsonForm {
        schema_file,
        too_deep,
    };
    from_serde_in(&form, e, text, offset)
}

/// 1-based line and character column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    super::json::line_column(text, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_stop_before_foreign_keywords() {
        let mut r = Reader::new("any where a = 1 and b exists same key").unwrap();
        let sel = r.event_selector().unwrap();
        assert_eq!(print_selector(&sel), "any where a = 1 and b exists");
        assert!(r.at_word("same"));
        let mut r = Reader::new("trait plan = \"pro\" then").unwrap();
        let t = r.trait_condition().unwrap();
        assert_eq!(print_trait_condition(&t), "trait plan = \"pro\"");
        assert!(r.at_word("then"));
    }

    #[test]
    fn extra_keywords_get_the_lower_case_hint() {
        let r = Reader::new("SEND").unwrap().with_keywords(&["send"]);
        let e = r.expected("a step", "steps start with send");
        assert_eq!(e.hint, "keywords are lower-case: write \"send\"");
    }

    #[test]
    fn a_property_after_the_event_is_refused_with_a_hint() {
        let mut r = Reader::new("\"Order Completed\".total").unwrap();
        let e = r.event_selector().unwrap_err();
        assert_eq!((e.line, e.column), (1, 18));
        assert!(e.hint.contains("where"), "{e}");
    }

    #[test]
    fn keys_print_bare_or_back_quoted() {
        assert_eq!(print_key("plan"), "plan");
        assert_eq!(print_key("a.b"), "`a.b`");
        assert_eq!(print_key("in"), "`in`");
    }
}
