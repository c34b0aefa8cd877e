//! The parser's small pieces: names, whole numbers, times of day, channels and classes.
//!
//! ```text
//! NAME    = a word of lower-case letters, digits and "_", starting with a letter (<= 64)
//! TIME    = HH:MM on a 24-hour clock
//! CHANNEL = "email" | "sms" | "push" | "webhook"
//! CLASS   = "marketing" | "transactional"
//! ```
//!
//! The segment lexer reads `09:00` (and `9:00`, `25:00`, `9am`) as one number-like token, so a
//! time is one token here and a bad one is reported whole, with what to write instead.

use super::error::ParseError;
use super::parser::Parser;
use crate::ast::{Channel, MessageClass, TimeOfDay};
use herald_segments::lang::syntax::Tok;

const NAME_RULE: &str = "names use lower-case letters, digits and \"_\", start with a letter and \
                         are at most 64 characters long";

impl Parser {
    pub(super) fn channel(&mut self) -> Result<Channel, ParseError> {
        if let Tok::Word(w) = &self.r.peek().tok
            && let Some(c) = Channel::parse(w)
        {
            self.r.next();
            return Ok(c);
        }
        Err(self.r.expected_near(
            "a channel (email, sms, push or webhook)",
            "channels are email, sms, push and webhook",
            &Channel::ALL.map(Channel::as_str),
        ))
    }

    pub(super) fn class(&mut self) -> Result<MessageClass, ParseError> {
        const CLASSES: &[&str] = &["marketing", "transactional"];
        let class = match &self.r.peek().tok {
            Tok::Word(w) if w == "marketing" => MessageClass::Marketing,
            Tok::Word(w) if w == "transactional" => MessageClass::Transactional,
            _ => {
                return Err(self.r.expected_near(
                    "a message class (marketing or transactional)",
                    "marketing messages obey caps, transactional ones do not",
                    CLASSES,
                ));
            }
        };
        self.r.next();
        Ok(class)
    }

    /// A name written as a bare word and checked by `parse` (journey and template names).
    pub(super) fn name<T>(
        &mut self,
        kind: &str,
        example: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<T, ParseError> {
        let what = format!("a {kind} name such as {example}");
        let what = what.as_str();
        let t = self.r.peek().clone();
        let found = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Str(s) | Tok::Key(s) => s.clone(),
            _ => return Err(self.r.expected(what, NAME_RULE)),
        };
        if let (Tok::Word(_), Ok(name)) = (&t.tok, parse(&found)) {
            self.r.next();
            return Ok(name);
        }
        let fixed: String = found
            .trim()
            .chars()
            .map(|c| match c {
                c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
                _ => '_',
            })
            .collect();
        let hint = match (parse(&fixed), &t.tok) {
            (Ok(_), Tok::Word(_)) => format!("{NAME_RULE}: {fixed}"),
            (Ok(_), _) => format!("names are not quoted; {NAME_RULE}: {fixed}"),
            (Err(_), _) => format!("{NAME_RULE}, e.g. {example}"),
        };
        let message = format!("{} is not a valid {kind} name", t.describe());
        Err(self.r.error_at(&t, message, &hint))
    }

    /// A whole number (counts and weights).
    pub(super) fn whole(&mut self, what: &str, hint: &str) -> Result<u32, ParseError> {
        let t = self.r.peek().clone();
        let Tok::Num(s) = &t.tok else {
            return Err(self.r.expected(what, hint));
        };
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self
                .r
                .error_at(&t, format!("expected {what}, found \"{s}\""), hint));
        }
        let n = s.parse().map_err(|_| {
            self.r.error_at(
                &t,
                format!("\"{s}\" is too large"),
                "the largest is 4294967295",
            )
        })?;
        self.r.next();
        Ok(n)
    }

    /// `HH:MM`, which the segment lexer reads as one number-like token.
    pub(super) fn time(&mut self, what: &str) -> Result<TimeOfDay, ParseError> {
        let t = self.r.peek().clone();
        let Tok::Num(s) = &t.tok else {
            return Err(self
                .r
                .expected(what, "write HH:MM on a 24-hour clock, e.g. 09:00"));
        };
        match TimeOfDay::parse(s) {
            Ok(time) => {
                self.r.next();
                Ok(time)
            }
            Err(_) => {
                Err(self
                    .r
                    .error_at(&t, format!("\"{s}\" is not a time of day"), &time_hint(s)))
            }
        }
    }
}

/// Why `s` is not `HH:MM`, and what to write instead.
fn time_hint(s: &str) -> String {
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if let Some((h, m)) = s.split_once(':')
        && digits(h)
        && digits(m)
    {
        let (hour, minute) = (
            h.parse::<u32>().unwrap_or(99),
            m.parse::<u32>().unwrap_or(99),
        );
        if h.len() == 1 && m.len() == 2 && minute <= 59 {
            return format!("write the hour with two digits: 0{h}:{m}");
        }
        if hour > 23 && minute <= 59 {
            return "hours go from 00 to 23 on a 24-hour clock; midnight is 00:00".into();
        }
        if minute > 59 {
            return "minutes go from 00 to 59".into();
        }
    }
    let lower = s.to_ascii_lowercase();
    if lower.ends_with("am") || lower.ends_with("pm") {
        return "use a 24-hour clock: 9am is 09:00 and 9pm is 21:00".into();
    }
    "write HH:MM on a 24-hour clock, e.g. 09:00 or 21:30".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_hints() {
        assert_eq!(time_hint("9:00"), "write the hour with two digits: 09:00");
        assert!(time_hint("25:00").starts_with("hours go from 00 to 23"));
        assert_eq!(time_hint("09:60"), "minutes go from 00 to 59");
        assert!(time_hint("9pm").starts_with("use a 24-hour clock"));
        assert!(time_hint("0900").starts_with("write HH:MM"));
    }
}
