//! Prints syntax trees in the canonical text form.
//!
//! Canonical means: one spelling per tree, so `parse(print(x)) == x` for every valid tree. The
//! choices that make it so:
//!
//! * A window of `ever` is left out after a measure or a sequence event (it is the default) and
//!   written out only where a time test is required (`first(...) ever`, `trait t ever`).
//! * `and` / `or` with two or more members are written infix; a group that is a member of
//!   another `and` / `or` or follows `not` is parenthesised, since the parser keeps parenthesised
//!   groups as written (and would otherwise merge `a and (b and c)` into one list). With fewer
//!   than two members they are written `all of (a)` / `any of ()`.
//! * Numbers use Rust's shortest round-trip form (`500`, `19.5`, `1e300`); instants at UTC
//!   midnight print as dates, others as RFC 3339 in UTC.
//! * Property keys that are not plain words, or that are keywords, are back-quoted.
//!
//! Line breaks are only whitespace: a definition's top-level `and` / `or` goes one member per
//! line, and lists or sequences that would be too long are split.

use super::lexer::{is_word_char, is_word_start};
use super::parser::KEYWORDS;
use crate::ast::{
    CmpOp, Comparison, Condition, Definition, EventSelector, Filter, FilterOp, Literal, Measure,
    PathStep, Pick, PropertyPath, Sequence, TimePoint, TimeTest, TraitTest, Which, Window,
};
use std::fmt::Write;

/// Lines longer than this are split where the layout allows.
const WIDTH: usize = 100;

/// Prints definitions, separated by blank lines.
pub fn print(defs: &[Definition]) -> String {
    defs.iter()
        .map(print_definition)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints one definition: `segment NAME "description"`, then its condition indented on the
/// following lines, ending with a newline.
pub fn print_definition(def: &Definition) -> String {
    let mut out = format!("segment {}", def.name);
    if let Some(d) = &def.description {
        out.push(' ');
        out.push_str(&quote(d, '"'));
    }
    out.push_str("\n  ");
    layout(&def.condition, 2, &mut out, is_infix(&def.condition));
    out.push('\n');
    out
}

/// Prints a condition on one line.
pub fn print_condition(c: &Condition) -> String {
    let mut out = String::new();
    inline(c, false, &mut out);
    out
}

/// An `and` / `or` written infix (two or more members).
fn is_infix(c: &Condition) -> bool {
    matches!(c, Condition::All { of } | Condition::Any { of } if of.len() >= 2)
}

/// Appends `c` on one line. `operand`: `c` is a member of `and` / `or` or follows `not`.
fn inline(c: &Condition, operand: bool, out: &mut String) {
    match c {
        Condition::All { of } | Condition::Any { of } if of.len() >= 2 => {
            let op = if matches!(c, Condition::All { .. }) {
                " and "
            } else {
                " or "
            };
            if operand {
                out.push('(');
            }
            for (i, item) in of.iter().enumerate() {
                if i > 0 {
                    out.push_str(op);
                }
                inline(item, true, out);
            }
            if operand {
                out.push(')');
            }
        }
        Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
            out.push_str(&list_head(c));
            out.push('(');
            for (i, item) in of.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inline(item, false, out);
            }
            out.push(')');
        }
        Condition::Not { condition } => {
            out.push_str("not ");
            inline(condition, true, out);
        }
        Condition::Sequence(s) => {
            out.push_str(&sequence_head(s));
            out.push(' ');
            out.push_str(&sequence_tail(s));
        }
        Condition::Metric(m) => {
            measure(&m.measure, &m.events, out);
            window_suffix(&m.window, out);
            comparison(&m.compare, out);
        }
        Condition::PerKey(p) => {
            measure(&p.measure, &p.events, out);
            let _ = write!(out, " per {}", path(&p.key));
            window_suffix(&p.window, out);
            comparison(&p.compare, out);
        }
        Condition::Occurrence(o) => {
            out.push_str(match o.which {
                Which::First => "first(",
                Which::Last => "last(",
            });
            selector(&o.events, None, out);
            let _ = write!(out, ") {}", time_test(&o.time));
        }
        Condition::Trait(t) => {
            let _ = write!(out, "trait {} ", path(&t.path));
            match &t.test {
                TraitTest::Value { op, value } => out.push_str(&op_value(*op, value.as_ref())),
                TraitTest::Date(test) => out.push_str(&time_test(test)),
                TraitTest::Anniversary { within } => {
                    let _ = write!(out, "anniversary within {within}");
                }
            }
        }
        Condition::Segment { name } => {
            let _ = write!(out, "in segment {name}");
        }
    }
}

fn list_head(c: &Condition) -> String {
    match c {
        Condition::All { .. } => "all of ".into(),
        Condition::Any { .. } => "any of ".into(),
        Condition::AtLeast { n, .. } => format!("at least {n} of "),
        _ => String::new(),
    }
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Appends `c`, continuing on new lines at `indent` where it is too long (or, with `split`, as
/// soon as it is an infix group). Emits the same tokens as [`inline`] with `operand = false`.
fn layout(c: &Condition, indent: usize, out: &mut String, split: bool) {
    let one_line = print_condition(c);
    if !split && indent + one_line.chars().count() <= WIDTH {
        out.push_str(&one_line);
        return;
    }
    match c {
        Condition::All { of } | Condition::Any { of } if of.len() >= 2 => {
            let op = if matches!(c, Condition::All { .. }) {
                "and "
            } else {
                "or "
            };
            for (i, item) in of.iter().enumerate() {
                if i > 0 {
                    newline(out, indent);
                    out.push_str(op);
                }
                operand(item, indent, out);
            }
        }
        Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
            out.push_str(&list_head(c));
            out.push('(');
            for (i, item) in of.iter().enumerate() {
                newline(out, indent + 2);
                layout(item, indent + 2, out, false);
                if i + 1 < of.len() {
                    out.push(',');
                }
            }
            newline(out, indent);
            out.push(')');
        }
        Condition::Not { condition } => {
            out.push_str("not ");
            operand(condition, indent, out);
        }
        Condition::Sequence(s) => {
            out.push_str(&sequence_head(s));
            newline(out, indent + 2);
            out.push_str(&sequence_tail(s));
        }
        _ => out.push_str(&one_line),
    }
}

/// A member of `and` / `or` or the operand of `not`: groups in parentheses.
fn operand(c: &Condition, indent: usize, out: &mut String) {
    if !is_infix(c) {
        return layout(c, indent, out, false);
    }
    let one_line = print_condition(c);
    if indent + one_line.chars().count() + 6 <= WIDTH {
        out.push('(');
        out.push_str(&one_line);
        out.push(')');
    } else {
        out.push('(');
        newline(out, indent + 2);
        layout(c, indent + 2, out, true);
        newline(out, indent);
        out.push(')');
    }
}

fn measure(m: &Measure, events: &EventSelector, out: &mut String) {
    let (word, p) = match m {
        Measure::Count => ("count", None),
        Measure::Sum(p) => ("sum", Some(p)),
        Measure::Avg(p) => ("avg", Some(p)),
        Measure::Min(p) => ("min", Some(p)),
        Measure::Max(p) => ("max", Some(p)),
        Measure::Distinct(p) => ("distinct", Some(p)),
    };
    out.push_str(word);
    out.push('(');
    selector(events, p, out);
    out.push(')');
}

/// `"Event".path where f and g` (without parentheses).
pub(crate) fn selector(sel: &EventSelector, p: Option<&PropertyPath>, out: &mut String) {
    match &sel.event {
        Some(e) => out.push_str(&quote(e, '"')),
        None => out.push_str("any"),
    }
    if let Some(p) = p {
        out.push('.');
        out.push_str(&path(p));
    }
    for (i, f) in sel.filters.iter().enumerate() {
        out.push_str(if i == 0 { " where " } else { " and " });
        out.push_str(&filter(f));
    }
}

fn window_suffix(w: &Window, out: &mut String) {
    if *w != Window::Ever {
        out.push(' ');
        out.push_str(&window(w));
    }
}

fn comparison(c: &Comparison, out: &mut String) {
    let _ = write!(out, " {} {}", cmp(c.op), number(c.value));
}

fn sequence_event(sel: &EventSelector) -> String {
    let mut s = String::new();
    selector(sel, None, &mut s);
    if sel.filters.is_empty() {
        s
    } else {
        format!("({s})")
    }
}

/// Up to (not including) `followed by`.
fn sequence_head(s: &Sequence) -> String {
    let mut out = match s.pick {
        Pick::Latest => "latest ".to_owned(),
        Pick::Any => "any ".to_owned(),
    };
    out.push_str(&sequence_event(&s.first));
    window_suffix(&s.window, &mut out);
    if let Some(o) = s.older_than {
        let _ = write!(out, " older than {o}");
    }
    out
}

/// From `[not] followed by` on.
fn sequence_tail(s: &Sequence) -> String {
    let mut out = if s.followed {
        "followed by "
    } else {
        "not followed by "
    }
    .to_owned();
    out.push_str(&sequence_event(&s.second));
    if let Some(p) = &s.same {
        let _ = write!(out, " on {}", path(p));
    }
    if let Some(w) = s.within {
        let _ = write!(out, " within {w}");
    }
    out
}

pub(crate) fn window(w: &Window) -> String {
    match w {
        Window::Ever => "ever".into(),
        Window::Last(s) => format!("in last {s}"),
        Window::Between { from, to } => format!("between {from} ago and {to} ago"),
        Window::Since(t) => format!("since {}", instant(t)),
        Window::Calendar {
            years_ago,
            from,
            to,
        } => {
            let year = match years_ago {
                0 => "this year".to_owned(),
                1 => "last year".to_owned(),
                n => format!("{n} years ago"),
            };
            format!("between {from} and {to} of {year}")
        }
    }
}

fn time_test(t: &TimeTest) -> String {
    match t {
        TimeTest::Before(p) => format!("before {}", time_point(p)),
        TimeTest::After(p) => format!("after {}", time_point(p)),
        TimeTest::Within(w) => window(w),
    }
}

fn time_point(p: &TimePoint) -> String {
    match p {
        TimePoint::Now => "now".into(),
        TimePoint::Ago(s) => format!("{s} ago"),
        TimePoint::FromNow(s) => format!("{s} from now"),
        TimePoint::At(t) => instant(t),
    }
}

/// A UTC-midnight instant as its date, anything else as RFC 3339 in UTC.
fn instant(t: &jiff::Timestamp) -> String {
    if t.as_nanosecond().rem_euclid(86_400_000_000_000) == 0 {
        t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
    } else {
        t.to_string()
    }
}

fn cmp(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

pub(crate) fn filter(f: &Filter) -> String {
    format!("{} {}", path(&f.path), op_value(f.op, f.value.as_ref()))
}

/// An operator and its value (`= "trial"`, `in [1, 2]`, `exists`).
fn op_value(op: FilterOp, value: Option<&Literal>) -> String {
    let word = op.as_str();
    match (op, value) {
        (FilterOp::Exists | FilterOp::NotExists, _) | (_, None) => word.to_owned(),
        (_, Some(v)) => format!("{word} {}", literal(v)),
    }
}

pub(crate) fn literal(v: &Literal) -> String {
    match v {
        Literal::Bool(b) => b.to_string(),
        Literal::Number(n) => number(*n),
        Literal::Text(s) => quote(s, '"'),
        Literal::List(items) => {
            format!(
                "[{}]",
                items.iter().map(literal).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// The shortest text that parses back to exactly `v`: Rust's `Display` for f64 is exact but
/// never uses an exponent, so very large or small magnitudes switch to `{:e}` to stay short.
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

pub(crate) fn path(p: &PropertyPath) -> String {
    let mut out = String::new();
    for (i, step) in p.0.iter().enumerate() {
        match step {
            PathStep::Key(k) => {
                if i > 0 {
                    out.push('.');
                }
                let bare = k.starts_with(is_word_start)
                    && k.chars().all(is_word_char)
                    && !KEYWORDS.contains(&k.as_str());
                if bare {
                    out.push_str(k)
                } else {
                    out.push_str(&quote(k, '`'))
                }
            }
            PathStep::Each => out.push_str("[]"),
        }
    }
    out
}

/// `s` between `q`s, escaping what the lexer would otherwise read differently.
pub(crate) fn quote(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            // Controls, and the invisible or direction-changing characters that could make the
            // text read differently from what it means.
            c if c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_short_and_exact() {
        for (v, s) in [
            (500.0, "500"),
            (19.5, "19.5"),
            (-3.0, "-3"),
            (1e300, "1e300"),
            (2.5e-7, "2.5e-7"),
            (0.1, "0.1"),
        ] {
            assert_eq!(number(v), s);
            assert_eq!(s.parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn quoting_escapes_quotes_backslashes_and_controls() {
        assert_eq!(quote("a\"b\\c\nd\u{7}", '"'), "\"a\\\"b\\\\c\\nd\\u{7}\"");
        assert_eq!(quote("a`b", '`'), "`a\\`b`");
    }
}
