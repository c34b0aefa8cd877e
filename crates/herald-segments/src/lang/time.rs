//! The parser's pieces about time: spans, windows, instants, time points and time tests.
//!
//! ```text
//! time_test  = "before" time_point | "after" time_point | window
//! window     = "ever" | "in" "last" span | "between" span "ago" "and" span "ago"
//!            | "since" INSTANT | "between" MM-DD "and" MM-DD "of" year
//! year       = "this" "year" | "last" "year" | INT ("year" | "years") "ago"
//! time_point = "now" | span "ago" | span "from" "now" | INSTANT
//! span       = INT UNIT            (minute(s), hour(s), day(s), week(s))
//! INSTANT    = YYYY-MM-DD (UTC midnight) | RFC 3339 with an offset
//! ```

use super::error::ParseError;
use super::lexer::Tok;
use super::parser::Parser;
use super::terms::{UNITS, UNITS_HINT};
use crate::ast::{MonthDay, Span, TimePoint, TimeTest, Unit, Window};

fn is_month_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
}

/// A date (`2025-01-01`, UTC midnight) or an RFC 3339 instant with an offset.
pub(crate) fn parse_instant(s: &str) -> Option<jiff::Timestamp> {
    if s.len() == 10 {
        let date: jiff::civil::Date = s.parse().ok()?;
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    s.parse().ok()
}

impl Parser {
    /// A whole number and a unit.
    pub(crate) fn span(&mut self, what: &str) -> Result<Span, ParseError> {
        let t = self.peek().clone();
        let Tok::Num(s) = &t.tok else {
            return Err(self.expected(what, "a span is a whole number and a unit, e.g. 90 days"));
        };
        let amount = if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u32>().map_err(|_| {
                self.error_at(
                    &t,
                    format!("\"{s}\" is too large"),
                    "a span is at most 4294967295 units",
                )
            })?
        } else {
            let hint = if s
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .starts_with(char::is_alphabetic)
            {
                "put a space between the number and the unit: 90 days"
            } else {
                "a span is a whole number of minutes, hours, days or weeks"
            };
            return Err(self.error_at(&t, format!("expected {what}, found \"{s}\""), hint));
        };
        self.next();
        let u = self.peek().clone();
        let unit = match &u.tok {
            Tok::Word(w) => Unit::parse(w),
            _ => None,
        };
        let Some(unit) = unit else {
            let hint = match &u.tok {
                Tok::Word(w) if w.starts_with("month") || w.starts_with("year") => {
                    "months and years vary in length: use days or weeks, e.g. 365 days"
                }
                Tok::Word(w) if w.starts_with("sec") => "the smallest unit is minutes",
                _ => UNITS_HINT,
            };
            return Err(self.expected_near("a unit (minutes, hours, days or weeks)", hint, UNITS));
        };
        self.next();
        Ok(Span { amount, unit })
    }

    /// An optional window; `None` when the next token starts none.
    pub(crate) fn window(&mut self) -> Result<Option<Window>, ParseError> {
        if self.eat_word("ever") {
            return Ok(Some(Window::Ever));
        }
        if self.at_word("in") {
            if self.peek_at(1).is_word("last") {
                self.next();
                self.next();
                return Ok(Some(Window::Last(self.span("a span such as 90 days")?)));
            }
            if matches!(self.peek_at(1).tok, Tok::Num(_)) {
                self.next();
                return Err(self.expected("\"last\" after \"in\"", "write: in last 90 days"));
            }
            return Ok(None);
        }
        if self.eat_word("since") {
            return Ok(Some(Window::Since(
                self.instant("a date such as 2025-01-01 after \"since\"")?,
            )));
        }
        if !self.eat_word("between") {
            return Ok(None);
        }
        let start = self.peek().clone();
        if matches!(&start.tok, Tok::Num(s) if is_month_day(s)) {
            return self.calendar().map(Some);
        }
        let from = self.span("a span such as 180 days, or a month and day such as 11-15")?;
        self.expect_word("ago", "\"ago\"", || {
            "write: between 180 days ago and 90 days ago".into()
        })?;
        self.expect_word("and", "\"and\"", || {
            "write: between 180 days ago and 90 days ago".into()
        })?;
        let to = self.span("a span such as 90 days")?;
        self.expect_word("ago", "\"ago\"", || {
            "write: between 180 days ago and 90 days ago".into()
        })?;
        if from.millis() <= to.millis() {
            return Err(self.error_at(
                &start,
                format!("the window between {from} ago and {to} ago is empty"),
                "write the earlier time first: between 180 days ago and 90 days ago",
            ));
        }
        Ok(Some(Window::Between { from, to }))
    }

    /// After `between`: `MM-DD and MM-DD of (this year | last year | N years ago)`.
    pub(crate) fn calendar(&mut self) -> Result<Window, ParseError> {
        let start = self.peek().clone();
        let from = self.month_day()?;
        self.expect_word("and", "\"and\"", || {
            "write: between 11-15 and 12-31 of last year".into()
        })?;
        let to = self.month_day()?;
        let hint = || "write \"of this year\", \"of last year\" or \"of 2 years ago\"".to_owned();
        self.expect_word("of", "\"of\" and a year", hint)?;
        let years_ago = if self.eat_word("this") {
            self.expect_word("year", "\"year\"", hint)?;
            0
        } else if self.eat_word("last") {
            self.expect_word("year", "\"year\"", hint)?;
            1
        } else {
            let n = match &self.peek().tok {
                Tok::Num(s) => s.parse::<u32>().ok(),
                _ => None,
            };
            let Some(n) = n else {
                return Err(
                    self.expected("\"this year\", \"last year\" or \"N years ago\"", &hint())
                );
            };
            self.next();
            if !self.eat_word("years") {
                self.expect_word("year", "\"years\"", hint)?;
            }
            self.expect_word("ago", "\"ago\"", hint)?;
            n
        };
        if from > to {
            return Err(self.error_at(
                &start,
                format!("the calendar window {from} to {to} ends before it starts"),
                "a calendar window lies within one year; for a range across New Year join two \
                 windows with or",
            ));
        }
        Ok(Window::Calendar {
            years_ago,
            from,
            to,
        })
    }

    pub(crate) fn month_day(&mut self) -> Result<MonthDay, ParseError> {
        let t = self.peek().clone();
        let Tok::Num(s) = &t.tok else {
            return Err(self.expected("a month and day such as 12-31", "write MM-DD, e.g. 11-15"));
        };
        let md = MonthDay::parse(s).map_err(|_| {
            self.error_at(
                &t,
                format!("\"{s}\" is not a month and day"),
                "write MM-DD, e.g. 11-15",
            )
        })?;
        self.next();
        Ok(md)
    }

    pub(crate) fn instant(&mut self, what: &str) -> Result<jiff::Timestamp, ParseError> {
        let t = self.peek().clone();
        let hint = "write a date (2025-01-01, meaning UTC midnight) or an RFC 3339 instant with \
                    an offset (2025-01-01T09:30:00Z)";
        let Tok::Num(s) = &t.tok else {
            return Err(self.expected(what, hint));
        };
        let ts = parse_instant(s).ok_or_else(|| {
            self.error_at(&t, format!("\"{s}\" is not a date or an instant"), hint)
        })?;
        self.next();
        Ok(ts)
    }

    pub(crate) fn time_point(&mut self) -> Result<TimePoint, ParseError> {
        if self.eat_word("now") {
            return Ok(TimePoint::Now);
        }
        let looks_like_instant = matches!(&self.peek().tok, Tok::Num(s) if s.contains([':', 'T', 't']) || s[1..].contains('-'));
        if looks_like_instant {
            return Ok(TimePoint::At(self.instant("a date")?));
        }
        let what = "a time such as 30 days ago, 7 days from now, now or 2025-01-01";
        if !matches!(self.peek().tok, Tok::Num(_)) {
            return Err(self.expected(what, "e.g. before 365 days ago"));
        }
        let span = self.span(what)?;
        if self.eat_word("ago") {
            Ok(TimePoint::Ago(span))
        } else if self.eat_word("from") {
            self.expect_word("now", "\"now\" after \"from\"", || {
                "write: 7 days from now".into()
            })?;
            Ok(TimePoint::FromNow(span))
        } else {
            Err(self.expected_near(
                &format!("\"ago\" or \"from now\" after \"{span}\""),
                "write: 30 days ago, or 7 days from now",
                &["ago", "from"],
            ))
        }
    }

    pub(crate) fn time_test(&mut self) -> Result<Option<TimeTest>, ParseError> {
        if self.eat_word("before") {
            return Ok(Some(TimeTest::Before(self.time_point()?)));
        }
        if self.eat_word("after") {
            return Ok(Some(TimeTest::After(self.time_point()?)));
        }
        Ok(self.window()?.map(TimeTest::Within))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert_eq!(
            parse_instant("2025-01-01").unwrap().as_second(),
            1_735_689_600
        );
        assert_eq!(
            parse_instant("2025-01-01T01:00:00+01:00")
                .unwrap()
                .as_second(),
            1_735_689_600
        );
        assert!(parse_instant("2025-02-30").is_none());
        assert!(
            parse_instant("2025-01-01T00:00:00").is_none(),
            "an instant needs an offset"
        );
    }
}
