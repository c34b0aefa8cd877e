//! Checks on parsed definitions that need no engine: [`validate`] refuses definitions that can
//! never be meant (the text parser refuses the same things with exact positions, so this is
//! what guards the JSON form), and [`lint`] warns about likely mistakes that are still allowed.

use super::error::{ValidationError, Warning, did_you_mean};
use crate::ast::{
    Condition, Definition, EventSelector, Filter, FilterOp, Literal, PathStep, PropertyPath,
    TraitCondition, TraitTest, Window,
};
use std::collections::{HashMap, HashSet};

/// Refuses: duplicate names, `in segment` of itself or in a circle, `at least N of` a shorter
/// list, empty `between` windows, operators with a missing or extra value (`in` takes a list,
/// `exists` none), and paths that the JSON form cannot spell.
pub fn validate(defs: &[Definition]) -> Result<(), ValidationError> {
    let mut seen = HashSet::new();
    for (index, def) in defs.iter().enumerate() {
        let fail = |message: String, hint: &str| ValidationError {
            index,
            segment: def.name.clone(),
            message,
            hint: hint.to_owned(),
        };
        if !seen.insert(&def.name) {
            return Err(fail(
                format!("segment \"{}\" is defined twice", def.name),
                "names must be unique; rename one of the two",
            ));
        }
        check_condition(&def.condition, def).map_err(|(m, h)| fail(m, h))?;
    }
    if let Some(cycle) = find_cycle(defs) {
        let last = cycle[cycle.len() - 1];
        let names: Vec<&str> = cycle.iter().map(|&i| defs[i].name.as_str()).collect();
        return Err(ValidationError {
            index: last,
            segment: defs[last].name.clone(),
            message: format!(
                "segments refer to each other in a circle: {} -> {}",
                names.join(" -> "),
                names[0]
            ),
            hint: "a segment cannot depend on itself, directly or through other segments".into(),
        });
    }
    Ok(())
}

pub(crate) type Problem = (String, &'static str);

fn check_condition(c: &Condition, def: &Definition) -> Result<(), Problem> {
    match c {
        Condition::All { of } | Condition::Any { of } => {
            of.iter().try_for_each(|c| check_condition(c, def))
        }
        Condition::Not { condition } => check_condition(condition, def),
        Condition::AtLeast { n, of } => {
            if *n as usize > of.len() {
                return Err((
                    format!(
                        "\"at least {n} of\" can never hold: the list has {} conditions",
                        of.len()
                    ),
                    "lower the number or add conditions to the list",
                ));
            }
            of.iter().try_for_each(|c| check_condition(c, def))
        }
        Condition::Metric(m) => {
            check_selector(&m.events)?;
            check_window(&m.window)
        }
        Condition::PerKey(p) => {
            check_selector(&p.events)?;
            check_path(&p.key)?;
            check_window(&p.window)
        }
        Condition::Occurrence(o) => {
            check_selector(&o.events)?;
            match &o.time {
                crate::ast::TimeTest::Within(w) => check_window(w),
                _ => Ok(()),
            }
        }
        Condition::Sequence(s) => {
            check_selector(&s.first)?;
            check_selector(&s.second)?;
            s.same.as_ref().map_or(Ok(()), check_path)?;
            check_window(&s.window)
        }
        Condition::Trait(t) => check_trait(t),
        Condition::Segment { name } if *name == def.name => Err((
            format!("segment \"{name}\" refers to itself"),
            "a segment cannot be defined in terms of itself",
        )),
        Condition::Segment { .. } => Ok(()),
    }
}

pub(crate) fn check_trait(t: &TraitCondition) -> Result<(), Problem> {
    check_path(&t.path)?;
    match &t.test {
        TraitTest::Value { op, value } => check_op_value(*op, value.as_ref()),
        TraitTest::Date(crate::ast::TimeTest::Within(w)) => check_window(w),
        _ => Ok(()),
    }
}

pub(crate) fn check_selector(sel: &EventSelector) -> Result<(), Problem> {
    sel.filters.iter().try_for_each(check_filter)
}

pub(crate) fn check_filter(f: &Filter) -> Result<(), Problem> {
    check_path(&f.path)?;
    check_op_value(f.op, f.value.as_ref())
}

fn check_op_value(op: FilterOp, value: Option<&Literal>) -> Result<(), Problem> {
    match (op, value) {
        (FilterOp::Exists | FilterOp::NotExists, None) => Ok(()),
        (FilterOp::Exists | FilterOp::NotExists, Some(_)) => Err((
            format!("\"{op:?}\" takes no value"),
            "remove the value of exists / not_exists",
        )),
        (FilterOp::In, Some(Literal::List(_))) => Ok(()),
        (FilterOp::In, _) => Err((
            "\"in\" needs a list of values".into(),
            "write the value as a list: [\"a\", \"b\"]",
        )),
        (_, None) => Err((
            format!("the operator {op:?} needs a value"),
            "add a value to compare with",
        )),
        (_, Some(_)) => Ok(()),
    }
}

fn check_path(path: &PropertyPath) -> Result<(), Problem> {
    let ok = matches!(path.0.first(), Some(PathStep::Key(_)))
        && path.0.iter().all(|s| match s {
            PathStep::Key(k) => !k.is_empty() && !k.contains(['.', '[', ']']),
            PathStep::Each => true,
        });
    if ok {
        Ok(())
    } else {
        Err((
            format!("\"{path}\" is not a property path"),
            "a path starts with a key; keys are not empty and hold no \".\", \"[\" or \"]\"",
        ))
    }
}

fn check_window(w: &Window) -> Result<(), Problem> {
    match w {
        Window::Between { from, to } if from.millis() <= to.millis() => Err((
            format!("the window between {from} ago and {to} ago is empty"),
            "the first span must be the longer one: between 180 days ago and 90 days ago",
        )),
        Window::Calendar { from, to, .. } if from > to => Err((
            format!("the calendar window {from} to {to} ends before it starts"),
            "a calendar window lies within one year; for a range across New Year join two windows with or",
        )),
        _ => Ok(()),
    }
}

/// A circle of `in segment` references among `defs`, as definition indexes in reference order
/// (each refers to the next, the last to the first). References to segments not in `defs` are
/// ignored: they are checked where all segments are known.
pub(crate) fn find_cycle(defs: &[Definition]) -> Option<Vec<usize>> {
    let index: HashMap<&str, usize> = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = defs
        .iter()
        .map(|d| {
            let mut out = Vec::new();
            segment_refs(&d.condition, &mut |n| {
                if let Some(&j) = index.get(n) {
                    out.push(j);
                }
            });
            out
        })
        .collect();
    // Depth-first search with colours; the grey stack is the current path.
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    fn visit(
        v: usize,
        edges: &[Vec<usize>],
        colour: &mut [Colour],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        colour[v] = Colour::Grey;
        stack.push(v);
        for &w in &edges[v] {
            match colour[w] {
                Colour::Grey => {
                    let start = stack.iter().position(|&x| x == w).unwrap_or(0);
                    return Some(stack[start..].to_vec());
                }
                Colour::White => {
                    if let Some(c) = visit(w, edges, colour, stack) {
                        return Some(c);
                    }
                }
                Colour::Black => {}
            }
        }
        stack.pop();
        colour[v] = Colour::Black;
        None
    }
    let mut colour = vec![Colour::White; defs.len()];
    (0..defs.len()).find_map(|v| {
        if colour[v] == Colour::White {
            visit(v, &edges, &mut colour, &mut Vec::new())
        } else {
            None
        }
    })
}

fn segment_refs<'a>(c: &'a Condition, f: &mut impl FnMut(&'a str)) {
    match c {
        Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
            of.iter().for_each(|c| segment_refs(c, f));
        }
        Condition::Not { condition } => segment_refs(condition, f),
        Condition::Segment { name } => f(name.as_str()),
        _ => {}
    }
}

/// Calls `f` with every event selector in `c`.
fn selectors<'a>(c: &'a Condition, f: &mut impl FnMut(&'a EventSelector)) {
    match c {
        Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
            of.iter().for_each(|c| selectors(c, f));
        }
        Condition::Not { condition } => selectors(condition, f),
        Condition::Metric(m) => f(&m.events),
        Condition::PerKey(p) => f(&p.events),
        Condition::Occurrence(o) => f(&o.events),
        Condition::Sequence(s) => {
            f(&s.first);
            f(&s.second);
        }
        Condition::Trait(_) | Condition::Segment { .. } => {}
    }
}

/// One warning per definition and event name that is not in `known_events` (names seen in the
/// event log, say): unknown names are allowed, since the events may simply not have arrived
/// yet, but a typo ("Order Complete") would silently match nothing.
pub fn lint(defs: &[Definition], known_events: &HashSet<String>) -> Vec<Warning> {
    let mut known: Vec<&str> = known_events.iter().map(String::as_str).collect();
    known.sort_unstable();
    let mut out = Vec::new();
    for def in defs {
        let mut seen = HashSet::new();
        selectors(&def.condition, &mut |sel| {
            if let Some(event) = &sel.event
                && !known_events.contains(event)
                && seen.insert(event.clone())
            {
                let message = match did_you_mean(event, &known) {
                    Some(close) => format!(
                        "no event named \"{event}\" has been seen; did you mean \"{close}\"?"
                    ),
                    None => format!("no event named \"{event}\" has been seen; check the spelling"),
                };
                out.push(Warning {
                    segment: def.name.clone(),
                    event: event.clone(),
                    message,
                });
            }
        });
    }
    out
}
