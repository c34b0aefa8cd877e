//! Golden tests of errors and warnings: each mistake in the text is reported at the offending
//! token (1-based line and column) with what was expected and a hint; JSON mistakes at their
//! place in the JSON; validation errors name the journey and the step.

use super::*;
use crate::ast::{Arm, Cond, Document, Step};

fn err(text: &str) -> String {
    match parse(text) {
        Ok(doc) => panic!("expected an error for {text:?}, got {doc:?}"),
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1 && !e.hint.is_empty(), "{e:?}");
            e.to_string()
        }
    }
}

/// A journey `a` triggered by "X", with `steps` from line 4 on (each indented 2).
fn err_in_steps(steps: &str) -> String {
    err(&format!("journey a\n  on \"X\"\ndo\n{steps}end\n"))
}

fn json_err(json: &str) -> String {
    match from_json(json) {
        Ok(doc) => panic!("expected an error for {json}, got {doc:?}"),
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1 && !e.hint.is_empty(), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn fields_and_display_agree() {
    let e = parse("journey a\n  on \"X\"\ndo\n  sned email welcome_1\nend\n").unwrap_err();
    assert_eq!(
        e,
        ParseError {
            line: 4,
            column: 3,
            message: "expected a step or \"end\" (the journey at line 1 is open), found \"sned\""
                .into(),
            hint: "did you mean \"send\"? a step starts with send, wait, if, split, set, webhook \
                   or exit"
                .into(),
        }
    );
}

#[test]
fn missing_end() {
    assert_eq!(
        err("journey a\n  on \"X\"\ndo\n  send email x\n\njourney b\n  on api\ndo\n  exit\nend\n"),
        "line 6, column 1: expected a step or \"end\" (the journey at line 1 is open), found \
         \"journey\"; hint: add \"end\" to close the journey at line 1"
    );
    assert_eq!(
        err("journey a\n  on \"X\"\ndo\n  if trait phone exists then\n    exit\n"),
        "line 6, column 1: expected a step, \"else\" or \"end\" (the \"if\" at line 4 is open), \
         found the end of the text; hint: add \"end\" to close the \"if\" at line 4"
    );
    assert_eq!(
        err("journey a\n  on \"X\"\ndo\n  exit\nend\nend\n"),
        "line 6, column 1: expected \"journey\" or \"rules\", found \"end\"; hint: this \"end\" \
         closes nothing: remove it, or check the \"end\"s above"
    );
}

#[test]
fn unknown_step() {
    assert_eq!(
        err_in_steps("  split\n    arm a 1\n      delay 2 days\n    arm b 1\n  end\n"),
        "line 6, column 7: expected a step, \"arm\", \"holdout\" or \"end\" (the \"split\" at \
         line 4 is open), found \"delay\"; hint: a step starts with send, wait, if, split, set, \
         webhook or exit"
    );
    assert_eq!(
        err_in_steps("  SEND email x\n"),
        "line 4, column 3: expected a step or \"end\" (the journey at line 1 is open), found \
         \"SEND\"; hint: keywords are lower-case: write \"send\""
    );
    assert_eq!(
        err_in_steps("  exit when \"Unsubscribed\"\n"),
        "line 4, column 3: \"exit when\" inside the steps; hint: exit conditions go in the \
         header, before \"do\"; as a step, \"exit\" stands alone (put it in an if to exit on a \
         condition)"
    );
}

#[test]
fn bad_times() {
    assert_eq!(
        err_in_steps("  wait until 25:00\n"),
        "line 4, column 14: \"25:00\" is not a time of day; hint: hours go from 00 to 23 on a \
         24-hour clock; midnight is 00:00"
    );
    assert_eq!(
        err_in_steps("  wait until 9:00\n"),
        "line 4, column 14: \"9:00\" is not a time of day; hint: write the hour with two \
         digits: 09:00"
    );
    assert_eq!(
        err("rules\n  quiet hours sms 9pm to 08:00\nend\n"),
        "line 2, column 19: \"9pm\" is not a time of day; hint: use a 24-hour clock: 9am is \
         09:00 and 9pm is 21:00"
    );
    assert_eq!(
        err_in_steps("  wait 09:00\n"),
        "line 4, column 8: expected a span such as 2 days, found \"09:00\"; hint: to wait until \
         a time of day write: wait until 09:00"
    );
}

#[test]
fn same_key_without_key() {
    assert_eq!(
        err("journey a\n  on \"X\"\n  goal \"Y\" same key within 2 days\ndo\n  exit\nend\n"),
        "line 3, column 12: \"same key\" needs the journey's key; hint: add a header line naming \
         the trigger event's property, e.g. key cart_id, or remove \"same key\""
    );
    // The key may come after the goal.
    parse(
        "journey a\n  on \"X\"\n  goal \"Y\" same key within 2 days\n  key id\ndo\n  exit\nend\n",
    )
    .unwrap();
}

#[test]
fn wrong_channel_and_names() {
    assert_eq!(
        err_in_steps("  send mail welcome_1\n"),
        "line 4, column 8: expected a channel (email, sms, push or webhook), found \"mail\"; \
         hint: did you mean \"email\"? channels are email, sms, push and webhook"
    );
    assert_eq!(
        err_in_steps("  send email Welcome-1\n"),
        "line 4, column 14: \"Welcome-1\" is not a valid template name; hint: names use \
         lower-case letters, digits and \"_\", start with a letter and are at most 64 characters \
         long: welcome_1"
    );
    assert_eq!(
        err("journey a\n  on \"X\"\ndo\n  exit\nend\n\njourney a\n  on api\ndo\n  exit\nend\n"),
        "line 7, column 9: journey \"a\" is already defined at line 1; hint: names must be unique \
         within a file; rename one of the two"
    );
}

#[test]
fn header_mistakes() {
    assert_eq!(
        err("journey a\n  on \"X\"\n  send email x\nend\n"),
        "line 3, column 3: expected a header line (on, key, entry, class, goal, exit when) or \
         \"do\", found \"send\"; hint: the steps start after a line with just \"do\": add it \
         before this line"
    );
    assert_eq!(
        err("journey a\ndo\n  exit\nend\n"),
        "line 2, column 1: journey \"a\" has no trigger; hint: add a line before \"do\" saying \
         what starts it, e.g. on \"Signed Up\", on entering inactive_subscribers or on api"
    );
    assert_eq!(
        err("journey a\n  on Signed Up\ndo\n  exit\nend\n"),
        "line 2, column 6: expected what starts the journey, found \"Signed\"; hint: event \
         names go in double quotes: on \"Signed ...\""
    );
    assert_eq!(
        err("journey a\n  on \"X\"\n  entry twice\ndo\n  exit\nend\n"),
        "line 3, column 9: expected \"once\", \"once per\" and a span, or \"every time\", found \
         \"twice\"; hint: write: entry once, entry once per 30 days or entry every time"
    );
    assert_eq!(
        err("journey a\n  on \"X\"\n  entry once\n  entry once\ndo\n  exit\nend\n"),
        "line 4, column 3: a second \"entry\" line; the first is at line 3; hint: a journey has \
         at most one \"entry\" line: remove one of the two"
    );
}

#[test]
fn condition_mistakes() {
    assert_eq!(
        err_in_steps("  if trait plan = pro then\n    exit\n  end\n"),
        "line 4, column 19: expected a value, found \"pro\"; hint: text values go in double \
         quotes: \"pro\""
    );
    assert_eq!(
        err_in_steps("  if trait phone exists\n    exit\n  end\n"),
        "line 5, column 5: expected \"then\" after the condition, found \"exit\"; hint: write: if \
         CONDITION then ... end; join conditions with and / or"
    );
    assert_eq!(
        err_in_steps("  if opend welcome_1 then\n    exit\n  end\n"),
        "line 4, column 6: expected a condition, found \"opend\"; hint: did you mean \"opened\"? \
         a condition is in segment NAME, trait ..., trigger PROPERTY ..., opened / clicked / \
         delivered TEMPLATE, event(\"Name\") since entry, not ..., or one in parentheses"
    );
}

#[test]
fn refusals_point_at_the_step() {
    assert_eq!(
        err_in_steps("  send email a\n  if opened a and clicked b then\n    exit\n  end\n"),
        "line 5, column 3: \"clicked b\" asks about a message this journey may not have sent: no \
         \"send ... b\" comes before it on every path; hint: send b earlier on every path to this \
         condition, or test another template"
    );
    // Sent on both branches counts; sent on one does not.
    parse(
        "journey a\n  on api\ndo\n  if trait x exists then\n    send email b\n  else\n    \
         send sms b\n  end\n  if opened b then\n    exit\n  end\nend\n",
    )
    .unwrap();
    assert!(
        err_in_steps(
            "  if trait x exists then\n    send email b\n  end\n  if opened b then\n    exit\n  end\n"
        )
        .starts_with("line 7, column 3: \"opened b\"")
    );
    assert_eq!(
        err_in_steps("  split\n    arm a 1\n    arm a 2\n  end\n"),
        "line 6, column 5: two arms are named \"a\"; hint: arms are reported by name: give each a \
         different one"
    );
    assert_eq!(
        err_in_steps("  webhook \"ftp://example.com\"\n"),
        "line 4, column 3: \"ftp://example.com\" is not an http(s) URL; hint: write the full URL, \
         starting with https:// (or http://) and a host, e.g. https://example.com/hook"
    );
    assert_eq!(
        err("rules\n  cap sms marketing 2 per 7 days\n  cap sms marketing 0 per 1 day\nend\n"),
        "line 3, column 3: a cap of 0 marketing messages on sms blocks them all; hint: allow at \
         least 1 message, or remove the journeys' sends on this channel"
    );
}

fn journey(steps: Vec<Step>) -> Document {
    let mut doc = parse("journey a\n  on api\ndo\n  exit\nend\n").unwrap();
    doc.journeys[0].steps = steps;
    doc
}

#[test]
fn validation_names_the_journey_and_the_path() {
    let holdout_with_steps = Step::Split {
        arms: vec![
            Arm {
                name: "a".into(),
                weight: 1,
                holdout: false,
                steps: vec![],
            },
            Arm {
                name: "holdout".into(),
                weight: 1,
                holdout: true,
                steps: vec![Step::Exit],
            },
        ],
    };
    let single_all = Cond::All {
        of: vec![Cond::InSegment {
            segment: herald_segments::SegmentName::parse("s").unwrap(),
        }],
    };
    let doc = journey(vec![
        Step::Exit,
        Step::Branch {
            condition: single_all,
            then: vec![holdout_with_steps],
            otherwise: vec![Step::SetTrait {
                key: String::new(),
                value: herald_segments::ast::Literal::Bool(true),
            }],
        },
    ]);
    let errors: Vec<String> = validate(&doc)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "journey a, steps[1]: \"all\" needs two or more conditions, this one has 1; hint: \
             \"all\" and \"any\" join two or more conditions; write a single condition on its own",
            "journey a, steps[1].then[0].arms[1]: a holdout arm is named \"holdout\" and has no \
             steps; hint: its people leave the journey at once; for an arm with steps set holdout \
             to false (text: holdout 10 for the holdout, arm NAME 10 for an arm)",
            "journey a, steps[1].otherwise[0]: \"set trait\" needs a trait name; hint: name the \
             trait to set, e.g. set trait email_sunset = true",
        ]
    );
    let empty = journey(vec![]);
    assert_eq!(
        validate(&empty).unwrap_err()[0].to_string(),
        "journey a, steps: journey \"a\" has no steps; hint: add steps between \"do\" and \"end\", \
         e.g. send email welcome_1"
    );
}

#[test]
fn json_errors_carry_positions_and_hints() {
    assert_eq!(
        json_err(r#"{"journeys": [{"name": "a", "trigger": "api", "stepz": ["exit"]}]}"#),
        "line 1, column 47: unknown field `stepz`, expected one of `name`, `description`, \
         `trigger`, `key`, `entry`, `class`, `goal`, `exit_when`, `steps`; hint: did you mean \
         \"steps\"?"
    );
    assert_eq!(
        json_err(
            r#"{"journeys": [{"name": "a", "trigger": "api", "steps": [
  {"split": {"arms": [{"name": "a", "weight": "10"}]}}]}]}"#
        ),
        "line 2, column 47: invalid type: string \"10\", expected u32; hint: check the value's \
         type: numbers without quotes; names, paths, spans (\"90 days\") and dates as strings; \
         lists in [ ]"
    );
    assert_eq!(
        json_err(r#"{"journeys": [{"name": "a", "trigger": "api", "steps": [{"sned": {}}]}]}"#),
        "line 1, column 58: unknown variant `sned`, expected one of `send`, `wait`, \
         `wait_until`, `wait_for`, `branch`, `split`, `set_trait`, `webhook`, `exit`; hint: did \
         you mean \"send\"?"
    );
    assert_eq!(
        json_err(
            r#"{"journeys": [{"name": "a", "trigger": "api", "steps": [{"wait_until": {"at": "9:00"}}]}]}"#
        ),
        "line 1, column 79: `9:00` is not a time of day; hint: write HH:MM on a 24-hour clock, \
         e.g. `09:00` or `21:30`"
    );
    assert_eq!(
        json_err("[]"),
        "line 1, column 1: expected a journey document {...}; hint: a document looks like \
         {\"journeys\": [{\"name\": \"welcome\", \"trigger\": \"api\", \"steps\": [...]}]}, with \
         an optional \"rules\" object"
    );
}

#[test]
fn json_validation_errors_point_at_the_part() {
    let json = r#"{
  "rules": {"caps": [{"channel": "email", "class": "marketing", "count": 1, "per": "7 days"}],
            "quiet_hours": [{"channel": "sms", "from": "21:00", "to": "08:00"},
                            {"channel": "sms", "from": "22:00", "to": "07:00"}]}
}"#;
    assert_eq!(
        json_err(json),
        "line 4, column 29: rules, quiet_hours[1]: second quiet hours for sms (the first are \
         quiet_hours[0]); hint: keep one quiet-hours line per channel"
    );
    let json = r#"{"journeys": [
  {"name": "a", "trigger": "api", "steps": ["exit"]},
  {"name": "a", "trigger": "api", "steps": ["exit"]}]}"#;
    assert_eq!(
        json_err(json),
        "line 3, column 3: journey a: journey \"a\" is defined twice (journeys[0] and \
         journeys[1]); hint: names must be unique; rename one of the two"
    );
}

#[test]
fn lint_warns_about_unknown_events_and_segments() {
    let doc = parse(
        "journey a\n  on \"Order Complete\"\n  exit when entering recent_buyer\ndo\n  if \
         event(\"Order Complete\") since entry or in segment vips then\n    exit\n  end\nend\n",
    )
    .unwrap();
    let events = ["Order Completed".to_owned()];
    let segments = ["recent_buyers".to_owned(), "vips".to_owned()];
    let warnings: Vec<String> = lint(&doc, &events, &segments)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        warnings,
        [
            "journey a: no event named \"Order Complete\" has been seen; did you mean \"Order \
             Completed\"?",
            "journey a: there is no segment \"recent_buyer\"; did you mean \"recent_buyers\"?",
        ]
    );
    let w = &lint(&doc, &[], &[])[1];
    assert_eq!(
        w.unknown,
        Unknown::Segment(herald_segments::SegmentName::parse("recent_buyer").unwrap())
    );
    assert!(lint(&crate::library::library(), &[], &[]).len() > 8);
}
