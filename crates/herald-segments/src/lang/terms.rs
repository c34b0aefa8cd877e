//! The parser's small pieces: event selectors, filters, literals, numbers, comparisons and
//! property paths.
//!
//! ```text
//! metric     = MEASURE "(" selector ")" ["per" path] [window] CMP NUMBER
//! selector   = (STRING | "any") ["." path] ["where" filter {"and" filter}]
//! filter     = path filter_test
//! filter_test= CMP literal | "in" list | "contains" literal | "starts" "with" literal
//!            | "exists" | "not" "exists"
//! literal    = NUMBER | STRING | "true" | "false" | "[" [literal {"," literal}] "]"
//! path       = key {"." key | "[]"}   (key: a word or `back-quoted`)
//! ```

use super::error::{ParseError, did_you_mean};
use super::lexer::Tok;
use super::parser::Parser;
use crate::ast::{
    CmpOp, Comparison, EventSelector, Filter, FilterOp, Literal, PathStep, PropertyPath,
};

pub(crate) const UNITS: &[&str] = &[
    "minutes", "hours", "days", "weeks", "minute", "hour", "day", "week",
];
pub(crate) const UNITS_HINT: &str = "units are minutes, hours, days, weeks";
pub(crate) const EVENT_HINT: &str = "write event names in double quotes, e.g. \"Order Completed\"";
pub(crate) const OPERATORS: &str =
    "=, !=, <, <=, >, >=, in [...], contains, starts with, exists or not exists";

/// `-?digits[.digits][e[+-]digits]`: checked by hand because `f64::from_str` also accepts
/// `inf`, `1.` and `.5`, which the printer never writes.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(mantissa),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exp_ok
}

fn filter_op(op: CmpOp) -> FilterOp {
    match op {
        CmpOp::Eq => FilterOp::Eq,
        CmpOp::Ne => FilterOp::Ne,
        CmpOp::Lt => FilterOp::Lt,
        CmpOp::Le => FilterOp::Le,
        CmpOp::Gt => FilterOp::Gt,
        CmpOp::Ge => FilterOp::Ge,
    }
}

impl Parser {
    /// The inside of `count(...)`, `first(...)` or a parenthesised sequence event: an event,
    /// then `.path` when `with_path`, then filters.
    pub(crate) fn selector(
        &mut self,
        with_path: bool,
        word: &str,
    ) -> Result<(EventSelector, Option<PropertyPath>), ParseError> {
        let event = match &self.peek().tok {
            Tok::Str(s) => Some(s.clone()),
            Tok::Word(w) if w == "any" => None,
            _ => {
                return Err(self.expected("an event name in double quotes, or \"any\"", EVENT_HINT));
            }
        };
        self.next();
        let path = if with_path {
            if !self.eat(&Tok::Dot) {
                return Err(self.expected(
                    "\".\" and a property after the event",
                    &format!("{word} needs a property: {word}(\"Order Completed\".revenue)"),
                ));
            }
            Some(self.path("a property such as revenue")?)
        } else if self.peek().tok == Tok::Dot {
            let hint = if word == "count" {
                "count(...) counts events; for the number of distinct values write \
                 distinct(\"Order Completed\".product_id)"
                    .to_owned()
            } else {
                format!("{word}(...) looks at events, not at a property; filter with where")
            };
            return Err(self.expected(
                &format!("\")\" or \"where\" ({word} takes no property)"),
                &hint,
            ));
        } else {
            None
        };
        let mut filters = Vec::new();
        if self.eat_word("where") {
            loop {
                filters.push(self.filter()?);
                if !self.eat_word("and") {
                    break;
                }
            }
        }
        Ok((EventSelector { event, filters }, path))
    }

    /// The `)` after a selector.
    pub(crate) fn close_selector(&mut self, word: &str) -> Result<(), ParseError> {
        let hint = if self.at_word("or") {
            "filters can only be joined with \"and\"; for alternatives use in [\"a\", \"b\"] or \
             join two conditions with or"
        } else {
            "join filters with \"and\", and close the parentheses after the event and its filters"
        };
        self.expect(&Tok::RParen, &format!("\")\" to close {word}(...)"), hint)?;
        Ok(())
    }

    pub(crate) fn filter(&mut self) -> Result<Filter, ParseError> {
        let path = self.path("a property to filter on, such as link_url")?;
        match self.filter_test()? {
            Some((op, value)) => Ok(Filter { path, op, value }),
            None if self.at_word("in") => {
                self.next();
                Err(self.expected(
                    "a list such as [\"a\", \"b\"] after \"in\"",
                    "lists are in square brackets",
                ))
            }
            None => Err(self.expected(
                &format!("an operator after the property \"{path}\""),
                &format!("operators are {OPERATORS}"),
            )),
        }
    }

    /// An operator and its value, or `None` (nothing consumed) if the next token starts none.
    pub(crate) fn filter_test(
        &mut self,
    ) -> Result<Option<(FilterOp, Option<Literal>)>, ParseError> {
        let op = match &self.peek().tok {
            Tok::Cmp(op) => filter_op(*op),
            Tok::Word(w) => match w.as_str() {
                "in" if self.peek_at(1).tok == Tok::LBracket => FilterOp::In,
                "contains" => FilterOp::Contains,
                "starts" => FilterOp::StartsWith,
                "exists" => FilterOp::Exists,
                "not" if self.peek_at(1).is_word("exists") => FilterOp::NotExists,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        self.next();
        let value = match op {
            FilterOp::Exists => None,
            FilterOp::NotExists => {
                self.next();
                None
            }
            FilterOp::StartsWith => {
                self.expect_word("with", "\"with\" after \"starts\"", || {
                    "write: starts with \"https://\"".into()
                })?;
                Some(self.literal()?)
            }
            _ => Some(self.literal()?),
        };
        Ok(Some((op, value)))
    }

    pub(crate) fn literal(&mut self) -> Result<Literal, ParseError> {
        let t = self.peek().clone();
        let lit = match &t.tok {
            Tok::Num(_) => return Ok(Literal::Number(self.number("a number")?)),
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Word(w) if w == "true" => Literal::Bool(true),
            Tok::Word(w) if w == "false" => Literal::Bool(false),
            Tok::LBracket => return self.list_literal(),
            Tok::Word(w) => {
                let hint = format!("text values go in double quotes: \"{w}\"");
                return Err(self.expected("a value", &hint));
            }
            _ => {
                return Err(self.expected(
                    "a value",
                    "a value is a number, a \"string\", true, false or a [list] of those",
                ));
            }
        };
        self.next();
        Ok(lit)
    }

    pub(crate) fn list_literal(&mut self) -> Result<Literal, ParseError> {
        let open = self.next();
        // Nested lists recurse; count them against the same depth limit as conditions.
        self.enter()?;
        let mut items = Vec::new();
        loop {
            if self.eat(&Tok::RBracket) {
                break;
            }
            items.push(self.literal()?);
            if self.eat(&Tok::Comma) {
                continue;
            }
            if self.eat(&Tok::RBracket) {
                break;
            }
            let what = format!(
                "\",\" or \"]\" in the list started at line {}, column {}",
                open.line, open.column
            );
            return Err(self.expected(&what, "separate the values of a list with commas"));
        }
        self.leave();
        Ok(Literal::List(items))
    }

    /// A number token; `what` names it in the error.
    pub(crate) fn number(&mut self, what: &str) -> Result<f64, ParseError> {
        let t = self.peek().clone();
        let Tok::Num(s) = &t.tok else {
            let hint = match t.tok {
                Tok::Str(_) => "a measure is a number; compare it with a number without quotes",
                _ => "numbers are written like 3, -2, 19.5 or 1e6",
            };
            return Err(self.expected(what, hint));
        };
        if !is_number(s) {
            let hint = if s
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .starts_with(char::is_alphabetic)
            {
                "put a space between a number and a word: 90 days"
            } else {
                "numbers are written like 3, -2, 19.5 or 1e6"
            };
            return Err(self.error_at(&t, format!("\"{s}\" is not a number"), hint));
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => {
                self.next();
                Ok(v)
            }
            _ => Err(self.error_at(
                &t,
                format!("\"{s}\" is too large"),
                "numbers go up to about 1e308",
            )),
        }
    }

    /// `OP NUMBER`; `what` says what else could have stood here.
    pub(crate) fn comparison(&mut self, what: &str) -> Result<Comparison, ParseError> {
        let Tok::Cmp(op) = self.peek().tok else {
            let hint = match &self.peek().tok {
                Tok::Word(w) if did_you_mean(w, UNITS).is_some() || UNITS.contains(&w.as_str()) => {
                    UNITS_HINT
                }
                _ => "compare with =, !=, <, <=, > or >= and a number, e.g. >= 3",
            };
            return Err(self.expected(what, hint));
        };
        let op_src = self.next().src;
        let value = self.number(&format!("a number after \"{op_src}\""))?;
        Ok(Comparison { op, value })
    }

    /// `key {. key | []}`; `what` names the path in the error.
    pub(crate) fn path(&mut self, what: &str) -> Result<PropertyPath, ParseError> {
        let mut steps = vec![PathStep::Key(self.key(what)?)];
        loop {
            if self.peek().tok == Tok::LBracket {
                self.next();
                self.expect(
                    &Tok::RBracket,
                    "\"]\" after \"[\"",
                    "a path marks an array with [] (any element), e.g. products[].category",
                )?;
                steps.push(PathStep::Each);
            } else if self.eat(&Tok::Dot) {
                steps.push(PathStep::Key(self.key("a property key after \".\"")?));
            } else {
                return Ok(PropertyPath(steps));
            }
        }
    }

    pub(crate) fn key(&mut self, what: &str) -> Result<String, ParseError> {
        let t = self.peek().clone();
        let key = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Key(k) => k.clone(),
            Tok::Str(_) => {
                return Err(self.expected(
                    what,
                    "property keys are written bare (link_url) or in back-quotes (`link url`); \
                     double quotes are for event names and text values",
                ));
            }
            _ => {
                return Err(self.expected(
                    what,
                    "a key is a word such as revenue; keys with other characters go in back-quotes: `order id`",
                ));
            }
        };
        if key.is_empty() || key.contains(['.', '[', ']']) {
            return Err(self.error_at(
                &t,
                format!("{} is not a property key", t.src),
                "a key is not empty and holds no \".\", \"[\" or \"]\": write nested keys as a.b and arrays as items[]",
            ));
        }
        self.next();
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_shapes() {
        for ok in ["0", "-3", "19.5", "1e6", "2.5E-7", "-0.0"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "1e", "90days", "1..2", "1e+", "0x10"] {
            assert!(!is_number(bad), "{bad}");
        }
    }
}
