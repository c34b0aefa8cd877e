//! Checks on documents that need no runner: [`validate`] refuses what can never be meant (the
//! text parser refuses the same, with positions, so this is what guards the JSON form), and
//! [`lint`] warns about names that may be typos.
//!
//! The rule that needs more than a look at one step is engagement: `opened welcome_1` asks about
//! a message this instance sent, so some `send ... welcome_1` must come before the condition on
//! every path to it. The steps are walked in order, carrying the templates sent on every path so
//! far (the meet of the branches; nothing is carried past `exit` or a holdout).

use super::error::{Unknown, ValidationError, Warning};
use crate::ast::{Cond, Document, ExitWhen, Goal, Journey, Rules, Step, Trigger};
use herald_segments::ast::{EventSelector, SegmentName};
use herald_segments::lang::syntax::{
    Invalid, check_event_filter, check_event_selector, check_trait_condition, did_you_mean,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Refuses: duplicate journey names; `same key` in a journey without `key`; `opened` / `clicked`
/// / `delivered T` unless a `send ... T` comes before it on every path; splits with fewer than
/// two arms, a total weight of 0, duplicate or empty arm names, or a holdout that has steps or
/// another name; `and` / `or` of fewer than two conditions (the text cannot spell them);
/// `set trait` with an empty key; webhook URLs that are not http(s); caps of 0; a second cap for
/// the same channel and class, or second quiet hours for a channel; journeys without steps; and
/// filters or trait tests that the segment language refuses.
///
/// Every error is reported, rules first, then journeys in order.
pub fn validate(doc: &Document) -> Result<(), Vec<ValidationError>> {
    let mut errors = Vec::new();
    if let Some(r) = &doc.rules {
        rules(r, &mut errors);
    }
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, j) in doc.journeys.iter().enumerate() {
        if let Some(&i) = first.get(j.name.as_str()) {
            errors.push(ValidationError {
                index: Some(index),
                journey: Some(j.name.clone()),
                path: String::new(),
                message: format!(
                    "journey \"{}\" is defined twice (journeys[{i}] and journeys[{index}])",
                    j.name
                ),
                hint: "names must be unique; rename one of the two".into(),
            });
        } else {
            first.insert(j.name.as_str(), index);
        }
        journey(index, j, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks the rules block, appending to `out`.
pub(super) fn rules(r: &Rules, out: &mut Vec<ValidationError>) {
    let mut push = |path: String, message: String, hint: &str| {
        out.push(ValidationError {
            index: None,
            journey: None,
            path,
            message,
            hint: hint.to_owned(),
        })
    };
    let mut caps = HashMap::new();
    for (i, cap) in r.caps.iter().enumerate() {
        let (channel, class) = (cap.channel.as_str(), cap.class.as_str());
        if cap.count == 0 {
            push(
                format!("caps[{i}]"),
                format!("a cap of 0 {class} messages on {channel} blocks them all"),
                "allow at least 1 message, or remove the journeys' sends on this channel",
            );
        }
        if let Some(j) = caps.insert((channel, class), i) {
            push(
                format!("caps[{i}]"),
                format!("a second cap for {channel} {class} messages (the first is caps[{j}])"),
                "keep one cap per channel and class",
            );
        }
    }
    let mut quiet = HashMap::new();
    for (i, q) in r.quiet_hours.iter().enumerate() {
        let channel = q.channel.as_str();
        if let Some(j) = quiet.insert(channel, i) {
            push(
                format!("quiet_hours[{i}]"),
                format!("second quiet hours for {channel} (the first are quiet_hours[{j}])"),
                "keep one quiet-hours line per channel",
            );
        }
    }
}

/// Checks one journey (not its name's uniqueness), appending to `out`.
pub(super) fn journey(index: usize, j: &Journey, out: &mut Vec<ValidationError>) {
    let mut c = Checker {
        index,
        journey: j,
        out,
    };
    let no_key = j.key.is_none();
    match &j.trigger {
        Trigger::Event { events } => c.selector("trigger", events, false),
        Trigger::Entered { .. }
        | Trigger::Left { .. }
        | Trigger::Anniversary { .. }
        | Trigger::Api => {}
    }
    if let Some(Goal {
        events, same_key, ..
    }) = &j.goal
    {
        c.selector("goal", events, *same_key && no_key);
    }
    for (i, e) in j.exit_when.iter().enumerate() {
        if let ExitWhen::Event { events, same_key } = e {
            c.selector(&format!("exit_when[{i}]"), events, *same_key && no_key);
        }
    }
    if j.steps.is_empty() {
        c.push(
            "steps",
            format!("journey \"{}\" has no steps", j.name),
            "add steps between \"do\" and \"end\", e.g. send email welcome_1",
        );
    }
    c.steps(&j.steps, "steps", Some(BTreeSet::new()));
}

/// Templates sent on every path so far; `None` when no path gets here (after `exit`).
type Sent<'a> = Option<BTreeSet<&'a str>>;

fn meet<'a>(a: Sent<'a>, b: Sent<'a>) -> Sent<'a> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
    }
}

struct Checker<'a, 'o> {
    index: usize,
    journey: &'a Journey,
    out: &'o mut Vec<ValidationError>,
}

impl<'a> Checker<'a, '_> {
    fn push(&mut self, path: &str, message: String, hint: &str) {
        self.out.push(ValidationError {
            index: Some(self.index),
            journey: Some(self.journey.name.clone()),
            path: path.to_owned(),
            message,
            hint: hint.to_owned(),
        });
    }

    fn invalid(&mut self, path: &str, e: Invalid) {
        self.push(path, e.message, &e.hint);
    }

    fn same_key_without_key(&mut self, path: &str) {
        self.push(
            path,
            "\"same key\" needs the journey's key".into(),
            "add a key naming the trigger event's property (text: key cart_id), or remove \
             \"same key\"",
        );
    }

    /// `same_key_bad`: the selector says `same key` but the journey has no key.
    fn selector(&mut self, path: &str, sel: &EventSelector, same_key_bad: bool) {
        if let Err(e) = check_event_selector(sel) {
            self.invalid(path, e);
        }
        if same_key_bad {
            self.same_key_without_key(path);
        }
    }

    /// Checks `steps` (step `i` at `{at}[i]`) entered with `sent`, returning what is sent on
    /// every path through them.
    fn steps(&mut self, steps: &'a [Step], at: &str, mut sent: Sent<'a>) -> Sent<'a> {
        for (i, step) in steps.iter().enumerate() {
            let path = format!("{at}[{i}]");
            sent = self.step(step, &path, sent);
        }
        sent
    }

    fn step(&mut self, step: &'a Step, path: &str, sent: Sent<'a>) -> Sent<'a> {
        let no_key = self.journey.key.is_none();
        match step {
            Step::Send { template, .. } => sent.map(|mut s| {
                s.insert(template.as_str());
                s
            }),
            Step::Wait { .. } | Step::WaitUntil { .. } => sent,
            Step::Exit => None,
            Step::WaitFor {
                events,
                same_key,
                received,
                timed_out,
                ..
            } => {
                self.selector(path, events, *same_key && no_key);
                let a = self.steps(received, &format!("{path}.received"), sent.clone());
                let b = self.steps(timed_out, &format!("{path}.timed_out"), sent);
                meet(a, b)
            }
            Step::Branch {
                condition,
                then,
                otherwise,
            } => {
                self.condition(condition, path, sent.as_ref());
                let a = self.steps(then, &format!("{path}.then"), sent.clone());
                let b = self.steps(otherwise, &format!("{path}.otherwise"), sent);
                meet(a, b)
            }
            Step::Split { arms } => {
                self.split(arms, path);
                let mut after: Sent<'a> = None;
                for (i, arm) in arms.iter().enumerate() {
                    if !arm.holdout {
                        let at = format!("{path}.arms[{i}].steps");
                        after = meet(after, self.steps(&arm.steps, &at, sent.clone()));
                    }
                }
                after
            }
            Step::SetTrait { key, .. } => {
                if key.is_empty() {
                    self.push(
                        path,
                        "\"set trait\" needs a trait name".into(),
                        "name the trait to set, e.g. set trait email_sunset = true",
                    );
                }
                sent
            }
            Step::Webhook { url } => {
                if !is_http_url(url) {
                    self.push(
                        path,
                        format!("\"{url}\" is not an http(s) URL"),
                        "write the full URL, starting with https:// (or http://) and a host, e.g. \
                         https://example.com/hook",
                    );
                }
                sent
            }
        }
    }

    fn split(&mut self, arms: &[crate::ast::Arm], path: &str) {
        if arms.len() < 2 {
            self.push(
                path,
                format!(
                    "a split needs at least two arms, this one has {}",
                    arms.len()
                ),
                "add an arm (arm b 50 ...) or a holdout (holdout 10), or remove the split",
            );
        }
        if arms.iter().map(|a| u64::from(a.weight)).sum::<u64>() == 0 {
            self.push(
                path,
                "the split's weights add up to 0, so no arm can be chosen".into(),
                "give at least one arm a weight above 0",
            );
        }
        let mut names = HashSet::new();
        for (i, arm) in arms.iter().enumerate() {
            let at = format!("{path}.arms[{i}]");
            if arm.name.is_empty() {
                self.push(
                    &at,
                    "an arm without a name".into(),
                    "name every arm, e.g. arm a 50",
                );
            } else if !names.insert(arm.name.as_str()) {
                self.push(
                    &at,
                    format!("two arms are named \"{}\"", arm.name),
                    "arms are reported by name: give each a different one",
                );
            }
            if arm.holdout && (arm.name != "holdout" || !arm.steps.is_empty()) {
                self.push(
                    &at,
                    "a holdout arm is named \"holdout\" and has no steps".into(),
                    "its people leave the journey at once; for an arm with steps set holdout to \
                     false (text: holdout 10 for the holdout, arm NAME 10 for an arm)",
                );
            }
        }
    }

    /// Checks a branch's condition at `path`; `sent` is what every path to it has sent.
    fn condition(&mut self, c: &Cond, path: &str, sent: Option<&BTreeSet<&'a str>>) {
        let no_key = self.journey.key.is_none();
        match c {
            Cond::All { of } | Cond::Any { of } => {
                if of.len() < 2 {
                    let word = if matches!(c, Cond::All { .. }) {
                        "all"
                    } else {
                        "any"
                    };
                    self.push(
                        path,
                        format!(
                            "\"{word}\" needs two or more conditions, this one has {}",
                            of.len()
                        ),
                        "\"all\" and \"any\" join two or more conditions; write a single \
                         condition on its own",
                    );
                }
                of.iter().for_each(|c| self.condition(c, path, sent));
            }
            Cond::Not { condition } => self.condition(condition, path, sent),
            Cond::InSegment { .. } => {}
            Cond::Trait(t) => {
                if let Err(e) = check_trait_condition(t) {
                    self.invalid(path, e);
                }
            }
            Cond::Trigger(f) => {
                if let Err(e) = check_event_filter(f) {
                    self.invalid(path, e);
                }
            }
            Cond::Engaged { template, how } => {
                if let Some(sent) = sent
                    && !sent.contains(template.as_str())
                {
                    self.push(
                        path,
                        format!(
                            "\"{} {template}\" asks about a message this journey may not have \
                             sent: no \"send ... {template}\" comes before it on every path",
                            how.as_str()
                        ),
                        &format!(
                            "send {template} earlier on every path to this condition, or test \
                             another template"
                        ),
                    );
                }
            }
            Cond::Event { events, same_key } => {
                self.selector(path, events, *same_key && no_key);
            }
        }
    }
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !url.contains(char::is_whitespace)
    })
}

/// An event selector or a segment a journey names.
enum Named<'a> {
    Events(&'a EventSelector),
    Segment(&'a SegmentName),
}

/// Calls `f` with every event selector and segment of `j`, in document order.
fn named<'a>(j: &'a Journey, f: &mut impl FnMut(Named<'a>)) {
    match &j.trigger {
        Trigger::Event { events } => f(Named::Events(events)),
        Trigger::Entered { segment } | Trigger::Left { segment } => f(Named::Segment(segment)),
        Trigger::Anniversary { .. } | Trigger::Api => {}
    }
    if let Some(g) = &j.goal {
        f(Named::Events(&g.events));
    }
    for e in &j.exit_when {
        match e {
            ExitWhen::Entered { segment } | ExitWhen::Left { segment } => {
                f(Named::Segment(segment))
            }
            ExitWhen::Event { events, .. } => f(Named::Events(events)),
        }
    }
    fn walk<'a>(list: &'a [Step], f: &mut impl FnMut(Named<'a>)) {
        for s in list {
            match s {
                Step::WaitFor {
                    events,
                    received,
                    timed_out,
                    ..
                } => {
                    f(Named::Events(events));
                    walk(received, f);
                    walk(timed_out, f);
                }
                Step::Branch {
                    condition,
                    then,
                    otherwise,
                } => {
                    cond(condition, f);
                    walk(then, f);
                    walk(otherwise, f);
                }
                Step::Split { arms } => arms.iter().for_each(|a| walk(&a.steps, f)),
                _ => {}
            }
        }
    }
    fn cond<'a>(c: &'a Cond, f: &mut impl FnMut(Named<'a>)) {
        match c {
            Cond::All { of } | Cond::Any { of } => of.iter().for_each(|c| cond(c, f)),
            Cond::Not { condition } => cond(condition, f),
            Cond::InSegment { segment } => f(Named::Segment(segment)),
            Cond::Event { events, .. } => f(Named::Events(events)),
            Cond::Trait(_) | Cond::Trigger(_) | Cond::Engaged { .. } => {}
        }
    }
    walk(&j.steps, f);
}

/// One warning per journey and event name not in `known_events` (names seen in the event log),
/// and per segment not in `known_segments`. Unknown events are allowed, since they may not have
/// arrived yet, but a typo ("Order Complete") would silently never match; whether an unknown
/// segment is an error is the caller's choice (it must exist when the journey is applied).
pub fn lint(doc: &Document, known_events: &[String], known_segments: &[String]) -> Vec<Warning> {
    let known_e: Vec<&str> = known_events.iter().map(String::as_str).collect();
    let known_s: Vec<&str> = known_segments.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for j in &doc.journeys {
        let mut found: Vec<Unknown> = Vec::new();
        named(j, &mut |n| match n {
            Named::Events(sel) => {
                if let Some(e) = &sel.event
                    && !known_e.contains(&e.as_str())
                {
                    found.push(Unknown::Event(e.clone()));
                }
            }
            Named::Segment(s) => {
                if !known_s.contains(&s.as_str()) {
                    found.push(Unknown::Segment(s.clone()));
                }
            }
        });
        let mut seen = HashSet::new();
        for unknown in found {
            let (what, name, known) = match &unknown {
                Unknown::Event(e) => ("event", e.as_str(), &known_e),
                Unknown::Segment(s) => ("segment", s.as_str(), &known_s),
            };
            if !seen.insert((what, name.to_owned())) {
                continue;
            }
            let message = match (what, did_you_mean(name, known)) {
                ("event", Some(close)) => {
                    format!("no event named \"{name}\" has been seen; did you mean \"{close}\"?")
                }
                ("event", None) => {
                    format!("no event named \"{name}\" has been seen; check the spelling")
                }
                (_, Some(close)) => {
                    format!("there is no segment \"{name}\"; did you mean \"{close}\"?")
                }
                _ => format!(
                    "there is no segment \"{name}\"; define it before applying this journey"
                ),
            };
            out.push(Warning {
                journey: j.name.clone(),
                unknown,
                message,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(is_http_url("https://example.com/hook"));
        assert!(is_http_url("http://localhost:8080"));
        for bad in [
            "ftp://x",
            "https://",
            "example.com",
            "https://a b",
            "HTTPS://x",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
