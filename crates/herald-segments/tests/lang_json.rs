//! The JSON form: errors with positions and hints, validation, lint, and the JSON Schema.

use herald_segments::ast::*;
use herald_segments::lang::{
    JSON_SCHEMA, from_json, lint, parse, parse_condition, to_json, validate,
};
use herald_segments::library::library;
use std::collections::HashSet;

fn err(json: &str) -> String {
    match from_json(json) {
        Ok(d) => panic!("expected an error for {json}, got {d:?}"),
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1 && !e.hint.is_empty(), "{e:?}");
            e.to_string()
        }
    }
}

const SEGMENT_B: &str = r#"{"type": "segment", "name": "b"}"#;

#[test]
fn a_single_object_or_an_array() {
    let one = from_json(&format!(r#"{{"name": "a", "condition": {SEGMENT_B}}}"#)).unwrap();
    let many = from_json(&format!(
        r#" [ {{"name": "a", "condition": {SEGMENT_B}}} ] "#
    ))
    .unwrap();
    assert_eq!(one, many);
    assert_eq!(one[0].condition, parse_condition("in segment b").unwrap());
    assert_eq!(from_json("[]").unwrap(), vec![]);
}

#[test]
fn unknown_field_with_and_without_a_suggestion() {
    assert_eq!(
        err(&format!(
            r#"{{"name": "a", "condition": {SEGMENT_B}, "colour": 1}}"#
        )),
        "line 1, column 62: unknown field `colour`, expected one of `name`, `description`, \
         `condition`; hint: the fields allowed here are: name, description, condition"
    );
    assert_eq!(
        err(&format!(
            r#"{{"name": "a", "descripton": "x", "condition": {SEGMENT_B}}}"#
        )),
        "line 1, column 15: unknown field `descripton`, expected one of `name`, `description`, \
         `condition`; hint: did you mean \"description\"?"
    );
}

#[test]
fn unknown_condition_type() {
    assert_eq!(
        err(r#"{"name": "a", "condition": {"type": "segmnt", "name": "b"}}"#),
        "line 1, column 37: unknown variant `segmnt`, expected one of `all`, `any`, `not`, \
         `at_least`, `metric`, `per_key`, `occurrence`, `sequence`, `trait`, `segment`; hint: \
         did you mean \"segment\"?"
    );
}

#[test]
fn wrong_types_and_bad_strings() {
    let metric = |window: &str, value: &str| {
        format!(
            r#"{{"name": "a", "condition": {{"type": "metric", "measure": "count", "events": {{"event": "E"}}, "window": {window}, "compare": {{"op": "ge", "value": {value}}}}}}}"#
        )
    };
    assert_eq!(
        err(&metric(r#""ever""#, r#""3""#)),
        "line 1, column 144: invalid type: string \"3\", expected f64; hint: check the value's \
         type: numbers without quotes; names, paths, spans (\"90 days\") and dates as strings; \
         lists in [ ]"
    );
    assert_eq!(
        err(&metric(r#"{"last": "3 dayz"}"#, "3")),
        "line 1, column 112: `3 dayz` is not a span; hint: write a whole number and a unit, \
         e.g. `90 days`, `1 hour`, `30 minutes`, `2 weeks`"
    );
    assert_eq!(
        err(&format!(r#"{{"name": "A b", "condition": {SEGMENT_B}}}"#)),
        "line 1, column 10: `A b` is not a segment name; hint: use lower-case letters, digits \
         and `_`, starting with a letter, at most 64 characters (e.g. `frequent_buyers`)"
    );
    assert_eq!(
        err(
            r#"{"name": "a", "condition": {"type": "trait", "path": "plan", "test": {"value": {"op": "eq", "value": {"x": 1}}}}}"#
        ),
        "line 1, column 113: data did not match any variant of untagged enum Literal; hint: a \
         value is a number, a string, true, false or a list of those"
    );
}

#[test]
fn missing_fields_and_broken_syntax() {
    assert_eq!(
        err(r#"{"name": "a"}"#),
        "line 1, column 13: missing field `condition`; hint: add the field \"condition\""
    );
    assert_eq!(
        err(&format!(r#"[{{"name": "a", "condition": {SEGMENT_B}}}"#)),
        "line 1, column 61: EOF while parsing a list; hint: the JSON ends early: close every { and ["
    );
    assert_eq!(
        err(&format!(r#"[{{"name": "a", "condition": {SEGMENT_B}}},]"#)),
        "line 1, column 63: trailing comma; hint: remove the comma before the closing bracket"
    );
    assert_eq!(
        err("  \n"),
        "line 2, column 1: expected a definition object {...} or an array [...] of them; hint: \
         a definition looks like {\"name\": \"recent_buyers\", \"condition\": {...}}"
    );
}

#[test]
fn errors_inside_later_elements_are_placed_in_the_whole_text() {
    let json = format!(
        "[\n  {{\"name\": \"a\", \"condition\": {SEGMENT_B}}},\n  {{\"name\": \"c\", \"condition\": {{\"type\": \"not\"}}}}\n]"
    );
    assert_eq!(
        err(&json),
        "line 3, column 45: missing field `condition`; hint: add the field \"condition\""
    );
}

#[test]
fn invalid_definitions_are_placed_at_their_object() {
    let json = format!(
        "[\n  {{\"name\": \"a\", \"condition\": {SEGMENT_B}}},\n  {{\"name\": \"a\", \"condition\": {SEGMENT_B}}}\n]"
    );
    assert_eq!(
        err(&json),
        "line 3, column 3: segment a: segment \"a\" is defined twice; hint: names must be unique; \
         rename one of the two"
    );
    assert_eq!(
        err(
            r#"{"name": "a", "condition": {"type": "trait", "path": "plan", "test": {"value": {"op": "in", "value": "x"}}}}"#
        ),
        "line 1, column 1: segment a: \"in\" needs a list of values; hint: write the value as a \
         list: [\"a\", \"b\"]"
    );
}

fn def(name: &str, condition: &str) -> Definition {
    Definition {
        name: SegmentName::parse(name).unwrap(),
        description: None,
        condition: parse_condition(condition).unwrap(),
    }
}

#[test]
fn validate_refuses_what_can_never_be_meant() {
    let ok = def("a", r#"count("E") >= 1"#);
    assert_eq!(validate(std::slice::from_ref(&ok)), Ok(()));

    let message = |defs: &[Definition]| validate(defs).unwrap_err().message;
    assert_eq!(
        message(&[ok.clone(), ok.clone()]),
        "segment \"a\" is defined twice"
    );
    assert_eq!(
        message(&[def("a", "in segment a")]),
        "segment \"a\" refers to itself"
    );
    assert_eq!(
        message(&[
            def("a", "in segment b"),
            def("b", "in segment c"),
            def("c", "not in segment a")
        ]),
        "segments refer to each other in a circle: a -> b -> c -> a"
    );
    // A reference to a segment outside the set is fine.
    assert_eq!(validate(&[def("a", "in segment elsewhere")]), Ok(()));

    let mut bad = ok.clone();
    bad.condition = Condition::AtLeast {
        n: 2,
        of: vec![ok.condition.clone()],
    };
    assert_eq!(
        message(&[bad]),
        "\"at least 2 of\" can never hold: the list has 1 conditions"
    );

    let days = |amount| Span {
        amount,
        unit: Unit::Days,
    };
    let mut bad = ok.clone();
    let Condition::Metric(m) = &mut bad.condition else {
        panic!()
    };
    m.window = Window::Between {
        from: days(7),
        to: days(7),
    };
    assert_eq!(
        message(&[bad]),
        "the window between 7 days ago and 7 days ago is empty"
    );

    let mut bad = ok.clone();
    let Condition::Metric(m) = &mut bad.condition else {
        panic!()
    };
    m.events.filters.push(Filter {
        path: PropertyPath::parse("x").unwrap(),
        op: FilterOp::Eq,
        value: None,
    });
    assert_eq!(message(&[bad]), "the operator Eq needs a value");

    let err = validate(&[ok.clone(), def("b", "in segment b")]).unwrap_err();
    assert_eq!((err.index, err.segment.as_str()), (1, "b"));
}

#[test]
fn lint_warns_once_per_definition_and_unknown_event() {
    let defs = parse(
        r#"segment a count("Order Complete") >= 1 and count("Order Complete") in last 7 days = 0
           segment b latest "Product Added" not followed by "Order Completed" and count(any) >= 1
           segment c trait plan = "x""#,
    )
    .unwrap();
    let known: HashSet<String> = ["Order Completed".to_owned()].into();
    let warnings = lint(&defs, &known);
    let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "segment a: no event named \"Order Complete\" has been seen; did you mean \"Order Completed\"?",
            "segment b: no event named \"Product Added\" has been seen; check the spelling",
        ]
    );
    assert_eq!(
        (warnings[1].segment.as_str(), warnings[1].event.as_str()),
        ("b", "Product Added")
    );
    assert!(lint(&library(), &HashSet::new()).len() > 20);
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(JSON_SCHEMA).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn the_library_validates_against_the_schema() {
    let v = validator();
    let all: serde_json::Value = serde_json::from_str(&to_json(&library())).unwrap();
    let errors: Vec<String> = v.iter_errors(&all).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // A single definition is a valid document too.
    assert!(v.is_valid(&all[0]));
}

#[test]
fn the_schema_refuses_what_serde_refuses() {
    let v = validator();
    let good: serde_json::Value = serde_json::from_str(&to_json(&library()[..1])).unwrap();
    type Mutation = (&'static str, fn(&mut serde_json::Value));
    let mutations: [Mutation; 7] = [
        ("unknown top-level field", |d| d[0]["colour"] = "red".into()),
        ("unknown condition field", |d| {
            d[0]["condition"]["colour"] = "red".into()
        }),
        ("bad name", |d| d[0]["name"] = "Frequent Buyers".into()),
        ("bad span", |d| {
            d[0]["condition"]["window"]["last"] = "3 months".into()
        }),
        ("string number", |d| {
            d[0]["condition"]["compare"]["value"] = "3".into()
        }),
        ("unknown type", |d| {
            d[0]["condition"]["type"] = "metrik".into()
        }),
        ("missing window", |d| {
            d[0]["condition"].as_object_mut().unwrap().remove("window");
        }),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(from_json(&doc.to_string()).is_err(), "serde accepts {what}");
        assert!(!v.is_valid(&doc), "the schema accepts {what}");
    }
}
