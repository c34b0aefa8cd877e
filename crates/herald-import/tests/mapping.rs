//! Reading and checking mappings: errors point into the mapping file and say what to do.

mod common;

use herald_import::{Mapping, MappingError};

const GOOD: &str = r#"
event = "Order Completed"
delimiter = ","
header = false
columns = ["customer", "day", "cds", "dollars"]
user_id = { column = "customer", type = "int" }

[timestamp]
column = "day"
format = "%Y%m%d"

[properties]
revenue = { column = "dollars", type = "float" }
quantity = { column = "cds", type = "int" }
"#;

/// The mapping's error, after checking that it points at `line`.
fn error_at(text: &str, line: usize) -> String {
    let error = Mapping::from_toml(text).expect_err("the mapping should be refused");
    let shown = error.to_string();
    let at = error
        .location()
        .unwrap_or_else(|| panic!("no location in: {shown}"));
    assert_eq!(at.line, line, "{shown}");
    assert!(shown.contains(&format!("line {line}, column")), "{shown}");
    assert!(shown.contains("\nhint: "), "{shown}");
    shown
}

#[test]
fn good_mappings_load() {
    let mapping = Mapping::from_toml(GOOD).unwrap();
    assert!(!mapping.has_header());
    assert_eq!(mapping.columns().unwrap().len(), 4);

    let sample = common::mapping("examples/cdnow.toml");
    assert_eq!(
        sample.columns().unwrap(),
        [
            "master_id",
            "sample_id",
            "date",
            "number_of_cds",
            "dollar_value"
        ]
    );
    let master = common::mapping("examples/cdnow_master.toml");
    assert!(master.has_header());
    assert!(master.columns().is_none());
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let text = GOOD.replace("header = false", "header = false\nevnt = \"Oops\"");
    let shown = error_at(&text, 5);
    assert!(shown.contains("unknown field `evnt`"), "{shown}");
    assert!(shown.contains("examples/cdnow.toml"), "{shown}");
    // The offending line is quoted and underlined.
    assert!(shown.contains("5 | evnt = \"Oops\"\n"), "{shown}");
    assert!(shown.contains("  | ^^^^"), "{shown}");

    // Nested tables refuse unknown keys too.
    let text = GOOD.replace("format = \"%Y%m%d\"", "format = \"%Y%m%d\"\nzone = \"UTC\"");
    let shown = error_at(&text, 11);
    assert!(shown.contains("unknown field `zone`"), "{shown}");
}

#[test]
fn unknown_columns_are_named_with_the_columns_there_are() {
    let text = GOOD.replace(
        "column = \"dollars\", type = \"float\"",
        "column = \"dollar\", type = \"float\"",
    );
    let shown = error_at(&text, 13);
    assert!(shown.contains("unknown column `dollar`"), "{shown}");
    assert!(
        shown.contains("`customer`, `day`, `cds`, `dollars`"),
        "{shown}"
    );
    let shown = error_at(&GOOD.replace("column = \"day\"", "column = \"date\""), 9);
    assert!(shown.contains("unknown column `date`"), "{shown}");
}

#[test]
fn bad_type_names_are_refused() {
    let shown = error_at(&GOOD.replace("\"float\"", "\"decimal\""), 13);
    assert!(shown.contains("unknown variant `decimal`"), "{shown}");
    assert!(shown.contains("`float`"), "{shown}");
    let shown = error_at(
        &GOOD.replace("type = \"int\" }\n\n", "type = \"uuid\" }\n\n"),
        6,
    );
    assert!(shown.contains("unknown variant `uuid`"), "{shown}");
    let shown = error_at(&format!("type = \"alias\"\n{GOOD}"), 1);
    assert!(shown.contains("unknown variant `alias`"), "{shown}");
}

#[test]
fn bad_formats_zones_and_delimiters_are_refused() {
    let shown = error_at(&GOOD.replace("%Y%m%d", "yyyy-mm-dd"), 10);
    assert!(shown.contains("unknown timestamp format"), "{shown}");
    assert!(shown.contains("rfc3339"), "{shown}");
    let shown = error_at(&GOOD.replace("%Y%m%d", "%H:%M"), 10);
    assert!(shown.contains("does not give a date"), "{shown}");
    let shown = error_at(&GOOD.replace("%Y%m%d", "%Y%m%d %Z"), 10);
    assert!(shown.contains("cannot be used"), "{shown}");
    let shown = error_at(
        &GOOD.replace(
            "format = \"%Y%m%d\"",
            "format = \"%Y%m%d\"\ntimezone = \"Mars/Olympus\"",
        ),
        11,
    );
    assert!(
        shown.contains("unknown time zone `Mars/Olympus`"),
        "{shown}"
    );
    let shown = error_at(
        &GOOD.replace("delimiter = \",\"", "delimiter = \"comma\""),
        3,
    );
    assert!(shown.contains("`comma` cannot separate columns"), "{shown}");
    // A known zone is fine.
    Mapping::from_toml(&GOOD.replace(
        "format = \"%Y%m%d\"",
        "format = \"%Y%m%d\"\ntimezone = \"Europe/Paris\"",
    ))
    .unwrap();
}

#[test]
fn incomplete_mappings_say_what_is_missing() {
    let shown = error_at(
        &GOOD.replace(
            "columns = [\"customer\", \"day\", \"cds\", \"dollars\"]\n",
            "",
        ),
        4,
    );
    assert!(shown.contains("needs `columns`"), "{shown}");
    let shown = error_at(
        &GOOD.replace("event = \"Order Completed\"\n", "type = \"track\"\n"),
        2,
    );
    assert!(shown.contains("needs `event`"), "{shown}");
    let shown = error_at(
        &GOOD.replace("event = ", "type = \"identify\"\nevent = "),
        3,
    );
    assert!(shown.contains("no event name"), "{shown}");
    let shown = error_at(
        &GOOD.replace(
            "columns = [\"customer\", \"day\"",
            "columns = [\"customer\", \"customer\"",
        ),
        5,
    );
    assert!(shown.contains("named twice"), "{shown}");

    let error = Mapping::from_toml(&GOOD.replace("user_id = ", "# user_id = ")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("needs `user_id` or `anonymous_id`")
    );
    let error = Mapping::from_toml(&GOOD.replace("[timestamp]", "[time]")).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `time`"),
        "{error}"
    );
    // TOML syntax errors get a location too.
    let shown = error_at(
        &GOOD.replace("event = \"Order Completed\"", "event = Order Completed"),
        2,
    );
    assert!(shown.contains("TOML"), "{shown}");
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, GOOD.replace("header", "headers")).unwrap();
    let shown = Mapping::load(&path).unwrap_err().to_string();
    assert!(
        shown.starts_with(&format!("mapping {}, line 4,", path.display())),
        "{shown}"
    );
    let missing = Mapping::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(matches!(missing, MappingError::Read { .. }), "{missing}");
}
