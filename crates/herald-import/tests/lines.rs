//! Reading files into numbered messages and rejections, without a store.

use herald_core::parse::{MAX_EVENT_BYTES, RejectCode};
use herald_import::{Format, ImportError, Lines, Mapping, Parsed};
use serde_json::{Value, json};

fn read(text: &str, format: Format) -> Vec<Parsed> {
    Lines::new(text.as_bytes(), format)
        .collect::<Result<_, _>>()
        .unwrap()
}

/// (line, Ok(body) or Err(reject code)) for each item.
fn outline(items: &[Parsed]) -> Vec<(u64, Result<Value, RejectCode>)> {
    items
        .iter()
        .map(|p| {
            let result = match &p.message {
                Ok(m) => Ok(serde_json::from_str(&m.body).unwrap()),
                Err(r) => Err(r.code),
            };
            (p.line, result)
        })
        .collect()
}

fn codes(items: &[Parsed]) -> Vec<(u64, Option<RejectCode>)> {
    items
        .iter()
        .map(|p| (p.line, p.message.as_ref().err().map(|r| r.code)))
        .collect()
}

const NDJSON: &str = concat!(
    r#"{"type":"track","userId":"u1","event":"Signed Up","timestamp":"2024-01-01T00:00:00Z"}"#,
    "\n\n",
    "{\"type\":\"track\",\"userId\":\n",
    r#"{"type":"track","event":"No One","timestamp":"2024-01-01T00:00:00Z"}"#,
    "\n   \n",
    r#"{"type":"track","userId":"u1","event":"Late","timestamp":"yesterday"}"#,
    "\n",
    r#"{"type":"identify","anonymousId":"a1","traits":{"plan":"pro"},"messageId":"m-7"}"#,
    "\n",
    r#"{"type":"track","userId":"u2","event":"No Time"}"#,
    "\n",
);

#[test]
fn ndjson_lines_are_judged_one_by_one_with_file_line_numbers() {
    let items = read(NDJSON, Format::Ndjson);
    assert_eq!(
        codes(&items),
        vec![
            (1, None),
            (3, Some(RejectCode::InvalidJson)),
            (4, Some(RejectCode::MissingId)),
            (6, Some(RejectCode::BadTimestamp)),
            (7, None),
            (8, None),
        ]
    );
    let first = items[0].message.as_ref().unwrap();
    assert_eq!(first.timestamp.to_string(), "2024-01-01T00:00:00Z");
    assert!(first.message_id.as_str().starts_with("import-"));
    assert_eq!(
        items[4].message.as_ref().unwrap().message_id.as_str(),
        "m-7"
    );
    let malformed = items[1].message.as_ref().unwrap_err();
    assert!(malformed.message.contains("malformed JSON"), "{malformed}");
    // Without a time of its own, an event happened when it was imported.
    let undated = items[5].message.as_ref().unwrap();
    assert_eq!(undated.timestamp, undated.received_at);

    // Message ids of lines without one are the same on every read.
    let again = read(NDJSON, Format::Ndjson);
    assert_eq!(
        again[0].message.as_ref().unwrap().message_id,
        first.message_id
    );
    assert_ne!(
        items[5].message.as_ref().unwrap().message_id,
        first.message_id
    );
}

#[test]
fn ndjson_handles_crlf_bom_long_and_non_utf8_lines() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(b"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}\r\n");
    bytes
        .extend_from_slice(format!("{{\"pad\":\"{}\"}}\n", "x".repeat(MAX_EVENT_BYTES)).as_bytes());
    bytes.extend_from_slice(b"{\"type\":\"track\",\"userId\":\"\xFF\",\"event\":\"E\"}\n");
    bytes.extend_from_slice(b"{\"type\":\"track\",\"userId\":\"v\",\"event\":\"E\"}");
    let items: Vec<Parsed> = Lines::new(&bytes[..], Format::Ndjson)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        codes(&items),
        vec![
            (1, None),
            (2, Some(RejectCode::EventTooLarge)),
            (3, Some(RejectCode::InvalidJson)),
            (4, None),
        ]
    );
}

#[test]
fn read_errors_end_the_lines() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let reader = std::io::BufReader::new(std::io::Read::chain(
        &b"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}\n"[..],
        Failing,
    ));
    let mut lines = Lines::new(reader, Format::Ndjson);
    assert!(lines.next().unwrap().unwrap().message.is_ok());
    let error = lines.next().unwrap().unwrap_err();
    assert!(
        matches!(error, ImportError::Read { line: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("disk on fire"));
    assert!(lines.next().is_none());
}

const ORDERS: &str = r#"
event = "Order Completed"
user_id = { column = "customer id", type = "int" }
anonymous_id = { column = "device" }

[timestamp]
column = "when"
format = "%Y-%m-%d %H:%M"
timezone = "Europe/Paris"

[properties]
revenue = { column = "amount", type = "float" }
quantity = { column = "items", type = "int" }
gift = { column = "gift", type = "bool" }
note = { column = "note" }
"#;

#[test]
fn csv_rows_become_segment_messages() {
    let csv = "\u{feff}customer id,device,when,amount,items,gift,note\r\n\
               0042,,2024-05-01 14:30,19.99,2,yes,\"hello, world\"\r\n\
               \r\n\
               ,d-9,2024-01-15 09:00,5,1,no,\r\n";
    let items = read(csv, Format::Mapped(Mapping::from_toml(ORDERS).unwrap()));
    let outline = outline(&items);
    assert_eq!(outline.len(), 2, "{items:#?}");
    let (line, body) = &outline[0];
    let body = body.as_ref().unwrap();
    assert_eq!(*line, 2);
    assert_eq!(body["type"], "track");
    assert_eq!(body["event"], "Order Completed");
    assert_eq!(body["userId"], "42");
    assert!(body.get("anonymousId").is_none(), "empty ids are absent");
    assert_eq!(
        body["timestamp"], "2024-05-01T12:30:00Z",
        "Paris is UTC+2 in May"
    );
    assert_eq!(
        body["properties"],
        json!({"revenue": 19.99, "quantity": 2, "gift": true, "note": "hello, world"})
    );
    assert!(body["messageId"].as_str().unwrap().starts_with("import-"));
    let (line, body) = &outline[1];
    let body = body.as_ref().unwrap();
    assert_eq!(*line, 4);
    assert_eq!(body["anonymousId"], "d-9");
    assert_eq!(
        body["timestamp"], "2024-01-15T08:00:00Z",
        "UTC+1 in January"
    );
    assert_eq!(
        body["properties"],
        json!({"revenue": 5.0, "quantity": 1, "gift": false}),
        "an empty cell leaves its property out"
    );
    let message = items[1].message.as_ref().unwrap();
    assert_eq!(message.anonymous_id.as_ref().unwrap().as_str(), "d-9");
}

#[test]
fn bad_rows_are_rejected_and_reading_goes_on() {
    let csv = "customer id,device,when,amount,items,gift,note\n\
               1,,2024-05-01 14:30,19.99,2,yes,\n\
               2,,2024-05-01 14:30,19.99\n\
               3,,2024-05-01 14:30,19.99,2,yes,,extra\n\
               x4,,2024-05-01 14:30,19.99,2,yes,\n\
               5,,2024-05-01 14:30,cheap,2,yes,\n\
               6,,2024-05-01 14:30,1,2.5,yes,\n\
               7,,2024-05-01 14:30,1,2,maybe,\n\
               8,,2024-13-01 14:30,1,2,yes,\n\
               9,,,1,2,yes,\n\
               ,,2024-05-01 14:30,1,2,yes,\n\
               1,,1960-05-01 14:30,1,2,yes,\n\
               12,,2024-05-01 14:30,1,2,yes,\n";
    let items = read(csv, Format::Mapped(Mapping::from_toml(ORDERS).unwrap()));
    use RejectCode::*;
    assert_eq!(
        codes(&items),
        vec![
            (2, None),
            (3, Some(MissingField)),
            (4, Some(WrongType)),
            (5, Some(WrongType)),
            (6, Some(WrongType)),
            (7, Some(WrongType)),
            (8, Some(WrongType)),
            (9, Some(BadTimestamp)),
            (10, Some(BadTimestamp)),
            (11, Some(MissingId)),
            (12, Some(BadTimestamp)),
            (13, None),
        ]
    );
    let why = |i: usize| items[i].message.as_ref().unwrap_err().message.clone();
    assert!(
        why(1).contains("has 4 columns but the mapping expects 7"),
        "{}",
        why(1)
    );
    assert!(
        why(3).contains("column `customer id` must be an integer id, got `x4`"),
        "{}",
        why(3)
    );
    assert!(
        why(4).contains("column `amount` (property `revenue`) must be a number, got `cheap`"),
        "{}",
        why(4)
    );
    assert!(why(7).contains("`2024-13-01 14:30`"), "{}", why(7));
    assert!(why(8).contains("column `when` is empty"), "{}", why(8));
}

#[test]
fn whitespace_tables_take_names_from_the_header_or_the_mapping() {
    let mapping = |header: &str| {
        Mapping::from_toml(&format!(
            "event = \"E\"\ndelimiter = \"whitespace\"\n{header}\nuser_id = {{ column = \"id\" }}\n\
             [timestamp]\ncolumn = \"t\"\nformat = \"unix_seconds\"\n"
        ))
        .unwrap()
    };
    let text = "  id   t\n\n a\t1700000000  \n b 1700000001\n";
    let from_header = read(text, Format::Mapped(mapping("")));
    assert_eq!(codes(&from_header), vec![(3, None), (4, None)]);
    let declared = read(
        text,
        Format::Mapped(mapping("columns = [\"id\", \"t\"]\nheader = true")),
    );
    assert_eq!(codes(&declared), codes(&from_header));
    let no_header = read(
        text,
        Format::Mapped(mapping("columns = [\"id\", \"t\"]\nheader = false")),
    );
    assert_eq!(
        codes(&no_header),
        vec![(1, Some(RejectCode::BadTimestamp)), (3, None), (4, None)]
    );
}

#[test]
fn a_header_without_a_mapped_column_stops_with_the_mapping_location() {
    let mapping = Mapping::from_toml(
        "event = \"E\"\nuser_id = { column = \"customer\" }\n\
         [timestamp]\ncolumn = \"t\"\nformat = \"rfc3339\"\n",
    )
    .unwrap();
    let mut lines = Lines::new(
        &b"id,t\n1,2024-01-01T00:00:00Z\n"[..],
        Format::Mapped(mapping),
    );
    let error = lines.next().unwrap().unwrap_err();
    let shown = error.to_string();
    assert!(shown.contains("line 2, column"), "{shown}");
    assert!(
        shown.contains("header line has no column `customer`"),
        "{shown}"
    );
    assert!(shown.contains("`id`, `t`"), "{shown}");
    assert!(lines.next().is_none());
}

#[test]
fn quoted_values_may_span_lines_and_rows_keep_their_first_line() {
    let mapping = Mapping::from_toml(
        "event = \"E\"\ndelimiter = \";\"\nuser_id = { column = \"id\" }\n\
         [timestamp]\ncolumn = \"t\"\nformat = \"unix_millis\"\n\
         [properties]\nnote = { column = \"note\" }\n",
    )
    .unwrap();
    let text = "id;t;note\n\
                a;1700000000000;\"first\nsecond; still \"\"note\"\"\"\n\
                b;1700000000000;plain\n\
                c;1700000000000;\"never closed\n\
                d;1700000000000;x\n";
    let items = read(text, Format::Mapped(mapping));
    let outline = outline(&items);
    assert_eq!(outline.len(), 3, "{items:#?}");
    assert_eq!(outline[0].0, 2);
    assert_eq!(
        outline[0].1.as_ref().unwrap()["properties"]["note"],
        "first\nsecond; still \"note\""
    );
    assert_eq!(outline[1].0, 4);
    assert_eq!(outline[2], (5, Err(RejectCode::InvalidJson)));
    let why = &items[2].message.as_ref().unwrap_err().message;
    assert!(why.contains("opened on line 5 is never closed"), "{why}");
}
