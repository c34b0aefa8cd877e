//! Property tests: random valid documents survive text and JSON exactly, the printer is
//! canonical, the JSON agrees with the schema, and no input makes the parser panic.

use super::arbitrary::{condition, document};
use super::*;
use proptest::prelude::*;

fn schema() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(JSON_SCHEMA).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn text_round_trips(doc in document()) {
        let text = print(&doc);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &doc, "{}", text);
        // Canonical: printing what was parsed gives the same text.
        prop_assert_eq!(print(&back), text);
    }

    #[test]
    fn conditions_print_on_one_line(c in condition(true)) {
        let text = print_condition(&c);
        prop_assert!(!text.contains('\n'), "{}", text);
    }

    #[test]
    fn json_round_trips_and_matches_the_schema(doc in document()) {
        let json = to_json(&doc);
        let back = from_json(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(&back, &doc);
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let errors: Vec<String> = schema().iter_errors(&value).map(|e| e.to_string()).collect();
        prop_assert!(errors.is_empty(), "{:?}\n{}", errors, json);
    }

    #[test]
    fn parser_never_panics_on_damaged_text(
        doc in document(),
        cut in any::<prop::sample::Index>(),
        len in 0usize..6,
    ) {
        // Deleting a few characters anywhere yields text that must parse or fail cleanly.
        let text = print(&doc);
        let chars: Vec<char> = text.chars().collect();
        let at = cut.index(chars.len() + 1);
        let damaged: String = chars[..at.min(chars.len())]
            .iter()
            .chain(chars[(at + len).min(chars.len())..].iter())
            .collect();
        if let Err(e) = parse(&damaged) {
            prop_assert!(e.line >= 1 && e.column >= 1 && !e.hint.is_empty(), "{:?}", e);
        }
    }

    #[test]
    fn parser_never_panics_on_any_text(text in "(?s).{0,200}") {
        let _ = parse(&text);
        let _ = from_json(&text);
    }
}
