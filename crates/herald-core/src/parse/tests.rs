use super::*;
use crate::time::parse_timestamp;

fn now() -> Timestamp {
    parse_timestamp("2024-05-01T12:00:00Z").unwrap()
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("gen-{n}")
    }
}

fn batch(body: &str) -> Result<Batch, Rejection> {
    parse_batch(body, now(), &mut ids())
}

fn single(kind: MessageKind, body: &str) -> Result<Message, Rejection> {
    parse_single(body, kind, now(), &mut ids()).map(|s| s.message)
}

fn code(r: Result<Message, Rejection>) -> RejectCode {
    r.expect_err("should be refused").code
}

#[test]
fn track_is_parsed_and_kept_verbatim() {
    let body = r#"{"userId":"u1","event":"Order Completed","properties":{"revenue":12.5},"messageId":"m1","timestamp":"2024-05-01T11:00:00Z"}"#;
    let m = single(MessageKind::Track, body).unwrap();
    assert_eq!(m.kind, MessageKind::Track);
    assert_eq!(m.user_id.unwrap().as_str(), "u1");
    assert_eq!(m.name.as_deref(), Some("Order Completed"));
    assert_eq!(m.message_id.as_str(), "m1");
    assert_eq!(
        m.timestamp,
        parse_timestamp("2024-05-01T11:00:00Z").unwrap()
    );
    assert_eq!(&*m.body, body);
}

#[test]
fn batch_keeps_good_events_and_reports_bad_ones() {
    let b = batch(
        r#"{"batch":[
            {"type":"track","userId":"u1","event":"A"},
            {"type":"track","event":"B"},
            {"type":"track","userId":"u1"},
            {"type":"shout","userId":"u1"},
            {"type":"identify","anonymousId":"a1","traits":{"email":"x@y.z"}},
            {"type":"track","userId":{"id":1},"event":"C"},
            {"type":"track","userId":"u1","event":"D","timestamp":"last tuesday"},
            {"type":"alias","userId":"u1"},
            {"type":"group","userId":"u1"},
            {"type":"page","userId":"u1","properties":[1]},
            17
        ]}"#,
    )
    .unwrap();
    let codes: Vec<Option<RejectCode>> = b
        .items
        .iter()
        .map(|r| r.as_ref().err().map(|e| e.code))
        .collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some(RejectCode::MissingId),
            Some(RejectCode::MissingField),
            Some(RejectCode::UnknownType),
            None,
            Some(RejectCode::WrongType),
            Some(RejectCode::BadTimestamp),
            Some(RejectCode::MissingField),
            Some(RejectCode::MissingField),
            Some(RejectCode::WrongType),
            Some(RejectCode::InvalidJson),
        ]
    );
    let identify = b.items[4].as_ref().unwrap();
    assert_eq!(identify.traits.as_ref().unwrap()["email"], "x@y.z");
    assert!(
        identify.message_id.as_str().starts_with("gen-"),
        "a missing messageId is generated"
    );
}

#[test]
fn whole_request_refusals() {
    assert_eq!(
        batch("{not json").unwrap_err().code,
        RejectCode::InvalidJson
    );
    assert_eq!(batch("[]").unwrap_err().code, RejectCode::InvalidJson);
    assert_eq!(
        batch(r#"{"writeKey":"k"}"#).unwrap_err().code,
        RejectCode::MissingField
    );
    assert_eq!(
        batch(r#"{"batch":{"a":1}}"#).unwrap_err().code,
        RejectCode::WrongType
    );
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(batch(&deep).unwrap_err().code, RejectCode::InvalidJson);
    // A deeply nested event is refused alone.
    let b = batch(&format!(
        r#"{{"batch":[{{"type":"track","userId":"u","event":"e","properties":{{"x":{deep},"s":"[[[["}}}},{{"type":"track","userId":"u","event":"ok"}}]}}"#
    ))
    .unwrap();
    let err = b.items[0].as_ref().unwrap_err();
    assert_eq!(err.code, RejectCode::InvalidJson);
    assert!(err.message.contains("nested too deeply"), "{}", err.message);
    assert!(b.items[1].is_ok());
    assert_eq!(nesting_depth(r#"{"a":"[[[[\"[[","b":[{}]}"#), 3);
    let huge = format!(
        r#"{{"batch":[],"pad":"{}"}}"#,
        "x".repeat(MAX_REQUEST_BYTES)
    );
    assert_eq!(batch(&huge).unwrap_err().code, RejectCode::BodyTooLarge);
}

#[test]
fn oversize_event_is_refused_alone() {
    let big = "x".repeat(MAX_EVENT_BYTES);
    let body = format!(
        r#"{{"batch":[{{"type":"track","userId":"u","event":"big","properties":{{"p":"{big}"}}}},{{"type":"track","userId":"u","event":"small"}}]}}"#
    );
    let b = batch(&body).unwrap();
    assert_eq!(
        b.items[0].as_ref().unwrap_err().code,
        RejectCode::EventTooLarge
    );
    assert!(b.items[1].is_ok());
}

#[test]
fn too_many_events_refuses_only_the_excess() {
    let event = r#"{"type":"track","userId":"u","event":"e"}"#;
    let body = format!(
        r#"{{"batch":[{}]}}"#,
        vec![event; MAX_BATCH_EVENTS + 2].join(",")
    );
    let b = batch(&body).unwrap();
    assert!(b.items[..MAX_BATCH_EVENTS].iter().all(Result::is_ok));
    assert!(
        b.items[MAX_BATCH_EVENTS..]
            .iter()
            .all(|r| r.as_ref().unwrap_err().code == RejectCode::TooManyEvents)
    );
}

#[test]
fn batch_sent_at_corrects_skew_and_context_is_inherited() {
    let b = batch(
        r#"{"sentAt":"2024-05-01T13:00:10Z","context":{"library":{"name":"x"}},"writeKey":"wk",
            "batch":[{"type":"track","userId":"u","event":"e","timestamp":"2024-05-01T13:00:00Z"}]}"#,
    )
    .unwrap();
    assert_eq!(b.write_key.as_deref(), Some("wk"));
    let m = b.items[0].as_ref().unwrap();
    // received 12:00:00, device says sent 13:00:10 an event of 13:00:00 -> 11:59:50.
    assert_eq!(
        m.timestamp,
        parse_timestamp("2024-05-01T11:59:50Z").unwrap()
    );
    assert!(m.body.contains(r#""library""#));
}

#[test]
fn write_key_never_stays_in_the_body() {
    let m = single(
        MessageKind::Identify,
        r#"{"writeKey":"secret","userId":"u","traits":{}}"#,
    )
    .unwrap();
    assert!(!m.body.contains("secret"));
}

#[test]
fn endpoint_type_must_agree() {
    assert_eq!(
        code(single(
            MessageKind::Track,
            r#"{"type":"identify","userId":"u"}"#
        )),
        RejectCode::WrongType
    );
    assert!(
        single(
            MessageKind::Track,
            r#"{"type":"track","userId":"u","event":"e"}"#
        )
        .is_ok()
    );
}

#[test]
fn numeric_ids_become_strings_and_empty_ids_count_as_missing() {
    let m = single(MessageKind::Track, r#"{"userId":42,"event":"e"}"#).unwrap();
    assert_eq!(m.user_id.unwrap().as_str(), "42");
    assert_eq!(
        code(single(MessageKind::Track, r#"{"userId":"","event":"e"}"#)),
        RejectCode::MissingId
    );
    assert_eq!(
        code(single(MessageKind::Track, r#"{"userId":true,"event":"e"}"#)),
        RejectCode::WrongType
    );
    assert_eq!(
        code(single(MessageKind::Track, r#"{"userId":1.5,"event":"e"}"#)),
        RejectCode::WrongType
    );
}

#[test]
fn alias_needs_both_ids() {
    assert_eq!(
        code(single(MessageKind::Alias, r#"{"previousId":"a"}"#)),
        RejectCode::MissingId
    );
    assert_eq!(
        code(single(
            MessageKind::Alias,
            r#"{"anonymousId":"x","previousId":"a"}"#
        )),
        RejectCode::MissingField
    );
    assert_eq!(
        code(single(MessageKind::Alias, r#"{"userId":"u"}"#)),
        RejectCode::MissingField
    );
    let m = single(MessageKind::Alias, r#"{"userId":"u","previousId":"a"}"#).unwrap();
    assert_eq!(m.previous_id.as_deref(), Some("a"));
}

#[test]
fn historical_lines_keep_their_time() {
    let line = r#"{"type":"track","userId":"u","event":"e","timestamp":"2019-01-01T00:00:00Z","sentAt":"2019-01-01T00:00:05Z","receivedAt":"2019-01-01T00:00:06Z"}"#;
    let m = parse_line(line, now(), &mut ids()).unwrap();
    assert_eq!(
        m.timestamp,
        parse_timestamp("2019-01-01T00:00:00Z").unwrap()
    );
    assert_eq!(
        m.received_at,
        parse_timestamp("2019-01-01T00:00:06Z").unwrap()
    );
}

#[test]
fn invalid_utf8_and_non_object_bodies() {
    // serde_json on &str can't see invalid UTF-8; the HTTP layer converts bytes first. Here: arrays.
    assert_eq!(
        single(MessageKind::Track, "[1]").unwrap_err().code,
        RejectCode::InvalidJson
    );
    assert_eq!(
        single(MessageKind::Track, "").unwrap_err().code,
        RejectCode::InvalidJson
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever arrives, parsing answers with a message or a rejection and never panics.
        #[test]
        fn never_panics(body in ".{0,400}") {
            let _ = parse_batch(&body, now(), &mut ids());
            let _ = parse_single(&body, MessageKind::Track, now(), &mut ids());
        }

        #[test]
        fn any_track_with_a_user_round_trips(user in "[a-zA-Z0-9_@.-]{1,40}", event in "[A-Za-z ]{1,30}") {
            let body = serde_json::json!({"type": "track", "userId": user, "event": event}).to_string();
            let mut make = ids();
            let m = parse_single(&body, MessageKind::Track, now(), &mut make).unwrap().message;
            let got = m.user_id.unwrap();
            prop_assert_eq!(got.as_str(), user.as_str());
            prop_assert_eq!(m.name.unwrap(), event);
        }
    }
}
