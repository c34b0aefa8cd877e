//! Prints documents in the canonical text form, the style of `library.journeys`.
//!
//! Canonical means one spelling per tree, so `parse(print(doc)) == doc` for every valid
//! document. The choices that make it so:
//!
//! * The rules block comes first; then journeys in order, one blank line between blocks.
//! * Header lines are indented 2, in the order on, key, entry, class, goal, exit when; defaults
//!   (`entry every time`, `class marketing`) are left out. `do` and `end` are at column 1.
//! * Each block of steps is indented 2 more than the line that opens it; an empty `else` or
//!   `timeout` block is left out.
//! * `and` / `or` are written infix, with a group that is a member of another `and` / `or` or
//!   follows `not` in parentheses (the parser keeps parenthesised groups as written).
//! * Selectors, filters, paths, literals and trait conditions print as the segment language
//!   prints them; arm names are bare words when they lex as one, else quoted.

use crate::ast::{Arm, Cond, Document, Entry, ExitWhen, Journey, Rules, Step, Trigger};
use herald_segments::lang::syntax::{
    print_filter, print_key, print_literal, print_path, print_selector, print_string,
    print_trait_condition,
};
use std::fmt::Write;

/// Prints a document: the rules block, then the journeys, separated by blank lines.
pub fn print(doc: &Document) -> String {
    let mut blocks = Vec::new();
    if let Some(r) = &doc.rules {
        blocks.push(print_rules(r));
    }
    blocks.extend(doc.journeys.iter().map(print_journey));
    blocks.join("\n")
}

/// Prints a rules block, ending with a newline.
pub fn print_rules(r: &Rules) -> String {
    let mut out = String::from("rules\n");
    for c in &r.caps {
        let _ = writeln!(
            out,
            "  cap {} {} {} per {}",
            c.channel.as_str(),
            c.class.as_str(),
            c.count,
            c.per
        );
    }
    for q in &r.quiet_hours {
        let _ = writeln!(
            out,
            "  quiet hours {} {} to {}",
            q.channel.as_str(),
            q.from,
            q.to
        );
    }
    out.push_str("end\n");
    out
}

/// Prints one journey, ending with a newline.
pub fn print_journey(j: &Journey) -> String {
    let mut out = format!("journey {}", j.name);
    if let Some(d) = &j.description {
        out.push(' ');
        out.push_str(&print_string(d));
    }
    out.push('\n');
    let trigger = match &j.trigger {
        Trigger::Event { events } => print_selector(events),
        Trigger::Entered { segment } => format!("entering {segment}"),
        Trigger::Left { segment } => format!("leaving {segment}"),
        Trigger::Anniversary { path, at } => format!("anniversary of {} at {at}", print_path(path)),
        Trigger::Api => "api".into(),
    };
    let _ = writeln!(out, "  on {trigger}");
    if let Some(k) = &j.key {
        let _ = writeln!(out, "  key {}", print_path(k));
    }
    match j.entry {
        Entry::Once => out.push_str("  entry once\n"),
        Entry::OncePer { span } => {
            let _ = writeln!(out, "  entry once per {span}");
        }
        Entry::EveryTime => {}
    }
    if !j.class.is_default() {
        let _ = writeln!(out, "  class {}", j.class.as_str());
    }
    if let Some(g) = &j.goal {
        let _ = writeln!(
            out,
            "  goal {}{} within {}",
            print_selector(&g.events),
            same_key(g.same_key),
            g.within
        );
    }
    for e in &j.exit_when {
        let what = match e {
            ExitWhen::Entered { segment } => format!("entering {segment}"),
            ExitWhen::Left { segment } => format!("leaving {segment}"),
            ExitWhen::Event {
                events,
                same_key: s,
            } => {
                format!("{}{}", print_selector(events), same_key(*s))
            }
        };
        let _ = writeln!(out, "  exit when {what}");
    }
    out.push_str("do\n");
    steps(&j.steps, 2, &mut out);
    out.push_str("end\n");
    out
}

/// Prints one step (and the blocks inside it) at indentation 0, ending with a newline.
pub fn print_step(s: &Step) -> String {
    let mut out = String::new();
    step(s, 0, &mut out);
    out
}

/// Prints a branch condition on one line.
pub fn print_condition(c: &Cond) -> String {
    let mut out = String::new();
    condition(c, false, &mut out);
    out
}

fn same_key(same: bool) -> &'static str {
    if same { " same key" } else { "" }
}

fn line(out: &mut String, indent: usize, text: &str) {
    out.extend(std::iter::repeat_n(' ', indent));
    out.push_str(text);
    out.push('\n');
}

fn steps(list: &[Step], indent: usize, out: &mut String) {
    for s in list {
        step(s, indent, out);
    }
}

fn step(s: &Step, indent: usize, out: &mut String) {
    match s {
        Step::Send { channel, template } => {
            line(
                out,
                indent,
                &format!("send {} {template}", channel.as_str()),
            );
        }
        Step::Wait { duration } => line(out, indent, &format!("wait {duration}")),
        Step::WaitUntil { at, days } => {
            let mut text = format!("wait until {at}");
            if !days.is_empty() {
                let days: Vec<&str> = days.iter().map(|d| d.as_str()).collect();
                let _ = write!(text, " on {}", days.join(", "));
            }
            line(out, indent, &text);
        }
        Step::WaitFor {
            events,
            same_key: s,
            timeout,
            received,
            timed_out,
        } => {
            let head = format!(
                "wait for {}{} up to {timeout}",
                print_selector(events),
                same_key(*s)
            );
            line(out, indent, &head);
            steps(received, indent + 2, out);
            if !timed_out.is_empty() {
                line(out, indent, "timeout");
                steps(timed_out, indent + 2, out);
            }
            line(out, indent, "end");
        }
        Step::Branch {
            condition: c,
            then,
            otherwise,
        } => {
            line(out, indent, &format!("if {} then", print_condition(c)));
            steps(then, indent + 2, out);
            if !otherwise.is_empty() {
                line(out, indent, "else");
                steps(otherwise, indent + 2, out);
            }
            line(out, indent, "end");
        }
        Step::Split { arms } => {
            line(out, indent, "split");
            for a in arms {
                arm(a, indent + 2, out);
            }
            line(out, indent, "end");
        }
        Step::SetTrait { key, value } => {
            let text = format!("set trait {} = {}", print_key(key), print_literal(value));
            line(out, indent, &text);
        }
        Step::Webhook { url } => line(out, indent, &format!("webhook {}", print_string(url))),
        Step::Exit => line(out, indent, "exit"),
    }
}

fn arm(a: &Arm, indent: usize, out: &mut String) {
    if a.holdout {
        line(out, indent, &format!("holdout {}", a.weight));
        return;
    }
    let mut chars = a.name.chars();
    let bare = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let name = if bare {
        a.name.clone()
    } else {
        print_string(&a.name)
    };
    line(out, indent, &format!("arm {name} {}", a.weight));
    steps(&a.steps, indent + 2, out);
}

/// An `and` / `or` written infix.
fn is_infix(c: &Cond) -> bool {
    matches!(c, Cond::All { of } | Cond::Any { of } if of.len() >= 2)
}

/// Appends `c`; `operand`: it is a member of `and` / `or` or follows `not`.
fn condition(c: &Cond, operand: bool, out: &mut String) {
    match c {
        Cond::All { of } | Cond::Any { of } => {
            let op = if matches!(c, Cond::All { .. }) {
                " and "
            } else {
                " or "
            };
            // Fewer than two members is invalid (the text cannot spell it); printed bare.
            let paren = operand && is_infix(c);
            if paren {
                out.push('(');
            }
            for (i, item) in of.iter().enumerate() {
                if i > 0 {
                    out.push_str(op);
                }
                condition(item, true, out);
            }
            if paren {
                out.push(')');
            }
        }
        Cond::Not { condition: inner } => {
            out.push_str("not ");
            condition(inner, true, out);
        }
        Cond::InSegment { segment } => {
            let _ = write!(out, "in segment {segment}");
        }
        Cond::Trait(t) => out.push_str(&print_trait_condition(t)),
        Cond::Trigger(f) => {
            let _ = write!(out, "trigger {}", print_filter(f));
        }
        Cond::Engaged { template, how } => {
            let _ = write!(out, "{} {template}", how.as_str());
        }
        Cond::Event {
            events,
            same_key: s,
        } => {
            let _ = write!(
                out,
                "event({}){} since entry",
                print_selector(events),
                same_key(*s)
            );
        }
    }
}
