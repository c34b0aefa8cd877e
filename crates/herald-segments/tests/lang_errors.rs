//! Golden tests of error messages: each mistake is reported at the offending token (1-based
//! line and column) with what was expected and a hint.

use herald_segments::lang::{ParseError, parse, parse_condition};

fn err(text: &str) -> String {
    match parse(text) {
        Ok(defs) => panic!("expected an error for {text:?}, got {defs:?}"),
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1 && !e.hint.is_empty(), "{e:?}");
            e.to_string()
        }
    }
}

/// Wraps a condition in a definition header on line 1; the condition is on line 2, column 3.
fn err_in(condition: &str) -> String {
    err(&format!("segment a\n  {condition}"))
}

#[test]
fn fields_and_display_agree() {
    let e = parse("segment a\n  count(\"Order Completed\") in last 90 daze >= 3").unwrap_err();
    assert_eq!(
        e,
        ParseError {
            line: 2,
            column: 39,
            message: "expected a unit (minutes, hours, days or weeks), found \"daze\"".into(),
            hint: "did you mean \"days\"? units are minutes, hours, days, weeks".into(),
        }
    );
    assert_eq!(
        e.to_string(),
        "line 2, column 39: expected a unit (minutes, hours, days or weeks), found \"daze\"; \
         hint: did you mean \"days\"? units are minutes, hours, days, weeks"
    );
}

#[test]
fn unknown_keyword_suggests_the_closest() {
    assert_eq!(
        err_in(r#"cnt("Order Completed") >= 3"#),
        "line 2, column 3: expected a condition, found \"cnt\"; hint: did you mean \"count\"? a \
         condition starts with count, sum, avg, min, max, distinct, first, last, latest, any, \
         trait, in segment, not, at least, all of, any of or \"(\""
    );
}

#[test]
fn bad_unit() {
    assert_eq!(
        err_in(r#"count("Order Completed") daze >= 3"#),
        "line 2, column 28: expected a window such as \"in last 90 days\" or a comparison such as \
         \">= 3\", found \"daze\"; hint: units are minutes, hours, days, weeks"
    );
    assert_eq!(
        err_in(r#"count("E") in last 3 months >= 1"#),
        "line 2, column 24: expected a unit (minutes, hours, days or weeks), found \"months\"; \
         hint: months and years vary in length: use days or weeks, e.g. 365 days"
    );
}

#[test]
fn number_glued_to_unit() {
    assert_eq!(
        err_in(r#"count("E") in last 90days >= 1"#),
        "line 2, column 22: expected a span such as 90 days, found \"90days\"; hint: put a space \
         between the number and the unit: 90 days"
    );
}

#[test]
fn missing_comparison() {
    assert_eq!(
        err_in(r#"count("Order Completed") in last 90 days"#),
        "line 2, column 43: expected a comparison such as \">= 3\", found the end of the text; \
         hint: compare with =, !=, <, <=, > or >= and a number, e.g. >= 3"
    );
}

#[test]
fn unterminated_string_points_at_its_opening_quote() {
    assert_eq!(
        err_in(r#"count("Order Completed) >= 3"#),
        "line 2, column 9: this string is not closed: \" missing on this line; hint: add the \
         closing \"; inside it, write a line break as \\n"
    );
}

#[test]
fn bad_numbers() {
    assert_eq!(
        err_in(r#"count("E") >= 3x"#),
        "line 2, column 17: \"3x\" is not a number; hint: put a space between a number and a \
         word: 90 days"
    );
    assert_eq!(
        err_in(r#"count("E") >= 1."#),
        "line 2, column 17: \"1.\" is not a number; hint: numbers are written like 3, -2, 19.5 or 1e6"
    );
    assert_eq!(
        err_in(r#"count("E") >= "3""#),
        "line 2, column 17: expected a number after \">=\", found the string \"3\"; hint: a \
         measure is a number; compare it with a number without quotes"
    );
    assert_eq!(
        err("segment a count(\"E\") >= 1e999"),
        "line 1, column 25: \"1e999\" is too large; hint: numbers go up to about 1e308"
    );
}

#[test]
fn bad_paths() {
    assert_eq!(
        err_in(r#"count("E" where link..url = 1) >= 1"#),
        "line 2, column 24: expected a property key after \".\", found \".\"; hint: a key is a \
         word such as revenue; keys with other characters go in back-quotes: `order id`"
    );
    assert_eq!(
        err_in(r#"count("E" where `a.b` = 1) >= 1"#),
        "line 2, column 19: `a.b` is not a property key; hint: a key is not empty and holds no \
         \".\", \"[\" or \"]\": write nested keys as a.b and arrays as items[]"
    );
    assert_eq!(
        err_in(r#"count("E" where x[0] = 1) >= 1"#),
        "line 2, column 21: expected \"]\" after \"[\", found \"0\"; hint: a path marks an array \
         with [] (any element), e.g. products[].category"
    );
    assert_eq!(
        err_in(r#"count("E" where "plan" = 1) >= 1"#),
        "line 2, column 19: expected a property to filter on, such as link_url, found the string \
         \"plan\"; hint: property keys are written bare (link_url) or in back-quotes (`link \
         url`); double quotes are for event names and text values"
    );
}

#[test]
fn bad_segment_names() {
    assert_eq!(
        err("segment Frequent-Buyers\n  count(\"E\") >= 1"),
        "line 1, column 9: \"Frequent-Buyers\" is not a valid segment name; hint: names use \
         lower-case letters, digits and \"_\", start with a letter and are at most 64 \
         characters long: frequent_buyers"
    );
    assert_eq!(
        err("segment \"frequent buyers\"\n  count(\"E\") >= 1"),
        "line 1, column 9: the string \"frequent buyers\" is not a valid segment name; hint: \
         names are not quoted; names use lower-case letters, digits and \"_\", start with a \
         letter and are at most 64 characters long: frequent_buyers"
    );
}

#[test]
fn duplicate_name_points_at_the_second() {
    assert_eq!(
        err("segment a\n  count(\"E\") >= 1\n\nsegment a\n  count(\"E\") >= 2"),
        "line 4, column 9: segment \"a\" is already defined at line 1; hint: names must be \
         unique within a file; rename one of the two"
    );
}

#[test]
fn unbalanced_parentheses() {
    assert_eq!(
        err_in(r#"(count("E") >= 1 and count("F") >= 1"#),
        "line 2, column 39: expected \")\" to close the \"(\" at line 2, column 3, found the end \
         of the text; hint: every \"(\" needs a matching \")\""
    );
    assert_eq!(
        err_in(r#"count("E") >= 1)"#),
        "line 2, column 18: expected \"and\", \"or\" or the next \"segment\", found \")\"; hint: \
         this \")\" has no matching \"(\""
    );
}

#[test]
fn at_least_more_than_the_list() {
    assert_eq!(
        err_in(r#"at least 5 of (count("E") >= 1, count("F") >= 1)"#),
        "line 2, column 12: \"at least 5 of\" can never hold: the list has 2 conditions; hint: \
         lower the number or add conditions to the list"
    );
}

#[test]
fn wrong_case_keywords() {
    assert_eq!(
        err_in(r#"count("E") >= 1 AND count("F") >= 1"#),
        "line 2, column 19: expected \"and\", \"or\" or the next \"segment\", found \"AND\"; hint: \
         keywords are lower-case: write \"and\""
    );
    assert_eq!(
        err_in(r#"COUNT("E") >= 1"#),
        "line 2, column 3: expected a condition, found \"COUNT\"; hint: keywords are lower-case: \
         write \"count\""
    );
    assert_eq!(
        err("Segment a count(\"E\") >= 1"),
        "line 1, column 1: expected the next definition, starting with \"segment\", found \
         \"Segment\"; hint: keywords are lower-case: write \"segment\""
    );
}

#[test]
fn trailing_garbage() {
    assert_eq!(
        err_in(r#"count("E") >= 1 count("F") >= 1"#),
        "line 2, column 19: expected \"and\", \"or\" or the next \"segment\", found \"count\"; \
         hint: a definition holds one condition: join conditions with \"and\" / \"or\", and \
         start the next definition with \"segment NAME\""
    );
    assert_eq!(
        err_in(r#"trait plan = "trial" segmnt b trait plan = "x""#),
        "line 2, column 24: expected \"and\", \"or\" or the next \"segment\", found \"segmnt\"; \
         hint: did you mean \"segment\"? a definition holds one condition: join conditions with \
         \"and\" / \"or\", and start the next definition with \"segment NAME\""
    );
    assert_eq!(
        parse_condition(r#"count("E") >= 1 )"#)
            .unwrap_err()
            .to_string(),
        "line 1, column 17: expected \"and\", \"or\" or the end of the text, found \")\"; hint: \
         this \")\" has no matching \"(\""
    );
}

#[test]
fn empty_file_and_missing_condition() {
    let empty = "line 1, column 1: expected a definition such as: segment frequent_buyers \
                 count(\"Order Completed\") >= 3, found the end of the text; hint: the file is \
                 empty; each definition starts with \"segment\" and a name";
    assert_eq!(err(""), empty);
    assert_eq!(err("# only a comment\n").replace("line 2", "line 1"), empty);
    assert_eq!(
        err("segment a"),
        "line 1, column 10: expected a condition, found the end of the text; hint: a condition \
         starts with count, sum, avg, min, max, distinct, first, last, latest, any, trait, in \
         segment, not, at least, all of, any of or \"(\""
    );
    assert_eq!(
        err_in(r#"count("E") in last 7 days >= 1 and"#),
        "line 2, column 37: expected a condition, found the end of the text; hint: a condition \
         starts with count, sum, avg, min, max, distinct, first, last, latest, any, trait, in \
         segment, not, at least, all of, any of or \"(\""
    );
}

#[test]
fn self_reference_and_circles() {
    assert_eq!(
        err("segment a\n  in segment a"),
        "line 2, column 14: segment \"a\" refers to itself; hint: a segment cannot be defined in \
         terms of itself"
    );
    assert_eq!(
        err("segment a\n  in segment b\nsegment b\n  not in segment a"),
        "line 4, column 18: segments refer to each other in a circle: a -> b -> a; hint: a \
         segment cannot depend on itself, directly or through other segments"
    );
}

#[test]
fn unquoted_event_and_text_values() {
    assert_eq!(
        err_in("count(Order Completed) >= 1"),
        "line 2, column 9: expected an event name in double quotes, or \"any\", found \"Order\"; \
         hint: write event names in double quotes, e.g. \"Order Completed\""
    );
    assert_eq!(
        err_in(r#"count("E" where plan = trial) >= 1"#),
        "line 2, column 26: expected a value, found \"trial\"; hint: text values go in double \
         quotes: \"trial\""
    );
    assert_eq!(
        err_in("count('E') >= 1"),
        "line 2, column 9: unexpected character \"'\"; hint: strings are written in double \
         quotes: \"Order Completed\""
    );
}

#[test]
fn operators_from_other_languages() {
    assert_eq!(
        err_in(r#"count("E" where plan == "x") >= 1"#),
        "line 2, column 24: unexpected \"==\"; hint: equality is a single \"=\""
    );
    assert_eq!(
        err_in(r#"count("E") >= 1 && count("F") >= 1"#),
        "line 2, column 19: unexpected character \"&\"; hint: write \"and\" to join conditions"
    );
    assert_eq!(
        err_in(r#"count("E" where plan = "a" or plan = "b") >= 1"#),
        "line 2, column 30: expected \")\" to close count(...), found \"or\"; hint: filters can \
         only be joined with \"and\"; for alternatives use in [\"a\", \"b\"] or join two \
         conditions with or"
    );
}

#[test]
fn windows_that_are_empty_or_malformed() {
    assert_eq!(
        err_in(r#"count("E") in 90 days >= 1"#),
        "line 2, column 17: expected \"last\" after \"in\", found \"90\"; hint: write: in last 90 days"
    );
    assert_eq!(
        err_in(r#"count("E") between 90 days ago and 180 days ago >= 1"#),
        "line 2, column 22: the window between 90 days ago and 180 days ago is empty; hint: \
         write the earlier time first: between 180 days ago and 90 days ago"
    );
    assert_eq!(
        err_in(r#"count("E") between 12-01 and 01-31 of last year >= 1"#),
        "line 2, column 22: the calendar window 12-01 to 01-31 ends before it starts; hint: a \
         calendar window lies within one year; for a range across New Year join two windows \
         with or"
    );
    assert_eq!(
        err_in(r#"count("E") between 11-31 and 12-31 of last year >= 1"#),
        "line 2, column 22: \"11-31\" is not a month and day; hint: write MM-DD, e.g. 11-15"
    );
    assert_eq!(
        err_in(r#"count("E") since 2025-13-01 >= 1"#),
        "line 2, column 20: \"2025-13-01\" is not a date or an instant; hint: write a date \
         (2025-01-01, meaning UTC midnight) or an RFC 3339 instant with an offset \
         (2025-01-01T09:30:00Z)"
    );
}

#[test]
fn measures_with_and_without_properties() {
    assert_eq!(
        err_in(r#"sum("Order Completed") >= 1"#),
        "line 2, column 24: expected \".\" and a property after the event, found \")\"; hint: \
         sum needs a property: sum(\"Order Completed\".revenue)"
    );
    assert_eq!(
        err_in(r#"count("Order Completed".revenue) >= 1"#),
        "line 2, column 26: expected \")\" or \"where\" (count takes no property), found \".\"; \
         hint: count(...) counts events; for the number of distinct values write \
         distinct(\"Order Completed\".product_id)"
    );
}

#[test]
fn sequences_occurrences_and_traits() {
    assert_eq!(
        err_in(r#"latest "A" where x = 1 not followed by "B""#),
        "line 2, column 14: expected a window, \"older than\", \"followed by\" or the end of the \
         sequence, found \"where\"; hint: in a sequence an event with filters goes in \
         parentheses: (\"Product Added\" where price > 10)"
    );
    assert_eq!(
        err_in(r#"latest "A" in last 7 days older than 1 hour followd by "B""#),
        "line 2, column 47: expected \"followed by\" or \"not followed by\", found \"followd\"; \
         hint: did you mean \"followed\"? e.g. latest \"Product Added\" in last 7 days older \
         than 1 hour not followed by \"Order Completed\""
    );
    assert_eq!(
        err_in(r#"first("E") befor 365 days ago"#),
        "line 2, column 14: expected \"before\", \"after\" or a window such as \"in last 30 \
         days\", found \"befor\"; hint: did you mean \"before\"? e.g. first(\"Order Completed\") \
         before 365 days ago"
    );
    assert_eq!(
        err_in(r#"first("E") before 365 days"#),
        "line 2, column 29: expected \"ago\" or \"from now\" after \"365 days\", found the end of \
         the text; hint: write: 30 days ago, or 7 days from now"
    );
    assert_eq!(
        err_in(r#"trait plan is "trial""#),
        "line 2, column 14: expected a test of the trait \"plan\", found \"is\"; hint: e.g. = \
         \"trial\", exists, before 30 days ago, in last 30 days or anniversary within 7 days; \
         operators are =, !=, <, <=, >, >=, in [...], contains, starts with, exists or not exists"
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}trait a exists{}", "(".repeat(200), ")".repeat(200));
    let e = parse_condition(&deep).unwrap_err();
    assert_eq!((e.line, e.column), (1, 65), "{e}");
    assert!(e.message.contains("nested more than 64 levels"), "{e}");
    let deep_not = format!("{}trait a exists", "not ".repeat(100));
    assert!(parse_condition(&deep_not).is_err());
    let deep_list = format!("trait a in {}1{}", "[".repeat(100), "]".repeat(100));
    assert!(parse_condition(&deep_list).is_err());
}
