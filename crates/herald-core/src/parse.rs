//! From raw JSON to validated [`Message`]s, with the Segment HTTP API's rules and limits.
//!
//! Parsing is two-level so that one bad event never costs the others: a batch is first split into
//! its events as raw JSON slices, then each slice is checked on its own and either becomes a
//! [`Message`] or a [`Rejection`] naming its index, a code and what to fix. Fields are read
//! individually from the raw slice so an error can name the field and what was expected.

use crate::ids::{AnonymousId, IdError, MessageId, UserId};
use crate::message::{Message, MessageKind};
use crate::time::{Timestamp, TimestampError, corrected_timestamp, parse_timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Largest single event, in bytes of JSON (Segment's limit).
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Largest request body after decompression, in bytes (Segment's limit).
pub const MAX_REQUEST_BYTES: usize = 500 * 1024;
/// Most events in one batch (Segment's limit).
pub const MAX_BATCH_EVENTS: usize = 2_500;
/// Deepest nesting of objects and arrays inside one event. Raw slices are skipped over without
/// recursion, so depth is checked explicitly before anything walks the event as a tree.
pub const MAX_EVENT_DEPTH: usize = 32;

/// Machine-readable reason for refusing an event or a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// Not JSON, not UTF-8, nested too deep, or not an object where one is required.
    InvalidJson,
    /// The request body is over [`MAX_REQUEST_BYTES`].
    BodyTooLarge,
    /// One event is over [`MAX_EVENT_BYTES`].
    EventTooLarge,
    /// A batch holds more than [`MAX_BATCH_EVENTS`] events; the extra ones are refused.
    TooManyEvents,
    /// Neither `userId` nor `anonymousId`.
    MissingId,
    /// A field the message type needs is absent (`event`, `previousId`, `groupId`, `batch`).
    MissingField,
    /// A field has the wrong JSON type or an invalid value.
    WrongType,
    /// A timestamp that is not RFC 3339 with an offset.
    BadTimestamp,
    /// `type` is not one of identify, track, page, screen, group, alias.
    UnknownType,
}

impl RejectCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::InvalidJson => "invalid_json",
            RejectCode::BodyTooLarge => "body_too_large",
            RejectCode::EventTooLarge => "event_too_large",
            RejectCode::TooManyEvents => "too_many_events",
            RejectCode::MissingId => "missing_id",
            RejectCode::MissingField => "missing_field",
            RejectCode::WrongType => "wrong_type",
            RejectCode::BadTimestamp => "bad_timestamp",
            RejectCode::UnknownType => "unknown_type",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event (or a whole request) was refused, in words a developer can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

impl Rejection {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

/// How an event's time is decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeMode {
    /// Live traffic: correct the device's clock by Segment's rule.
    #[default]
    Live,
    /// Files of past events: `timestamp` (else `originalTimestamp`, else the line's `receivedAt`) is
    /// taken as it is, since no live clocks can be compared.
    Historical,
}

/// What a request says about all of its events: when it arrived and when the sender sent it, and
/// batch-level `context`/`integrations` that apply to every event lacking its own.
#[derive(Clone, Debug, Default)]
pub struct Envelope<'a> {
    pub mode: TimeMode,
    pub received_at: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub context: Option<&'a RawValue>,
    pub integrations: Option<&'a RawValue>,
}

/// The fields Herald reads from a message; everything else is kept verbatim in the body.
#[derive(Deserialize)]
struct RawFields<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(rename = "messageId", borrow, default)]
    message_id: Option<&'a RawValue>,
    #[serde(rename = "userId", borrow, default)]
    user_id: Option<&'a RawValue>,
    #[serde(rename = "anonymousId", borrow, default)]
    anonymous_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(rename = "previousId", borrow, default)]
    previous_id: Option<&'a RawValue>,
    #[serde(rename = "groupId", borrow, default)]
    group_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    traits: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    integrations: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(rename = "originalTimestamp", borrow, default)]
    original_timestamp: Option<&'a RawValue>,
    #[serde(rename = "sentAt", borrow, default)]
    sent_at: Option<&'a RawValue>,
    #[serde(rename = "receivedAt", borrow, default)]
    received_at: Option<&'a RawValue>,
    #[serde(rename = "writeKey", borrow, default)]
    write_key: Option<&'a RawValue>,
}

/// The top level of a `/v1/batch` body.
#[derive(Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow, default)]
    batch: Option<&'a RawValue>,
    #[serde(rename = "writeKey", borrow, default)]
    write_key: Option<&'a RawValue>,
    #[serde(rename = "sentAt", borrow, default)]
    sent_at: Option<&'a RawValue>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    integrations: Option<&'a RawValue>,
}

/// A parsed batch request: its write key (if in the body) and one result per event, in order.
#[derive(Debug)]
pub struct Batch {
    pub write_key: Option<String>,
    pub items: Vec<Result<Message, Rejection>>,
}

/// A parsed single-event request (`/v1/track` and friends).
#[derive(Debug)]
pub struct Single {
    pub write_key: Option<String>,
    pub message: Message,
}

fn json_error(e: serde_json::Error) -> Rejection {
    let what = if e.is_eof() {
        "the JSON ends early".to_owned()
    } else if e.to_string().contains("recursion limit") {
        "the JSON is nested too deeply (at most 128 levels)".to_owned()
    } else {
        e.to_string()
    };
    Rejection::new(RejectCode::InvalidJson, format!("malformed JSON: {what}"))
}

fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

fn string_field(raw: Option<&RawValue>, field: &str) -> Result<Option<String>, Rejection> {
    let Some(raw) = raw else { return Ok(None) };
    serde_json::from_str::<String>(raw.get())
        .map(Some)
        .map_err(|_| {
            Rejection::new(
                RejectCode::WrongType,
                format!("`{field}` must be a string, got {}", describe(raw)),
            )
        })
}

/// Ids may be strings or integers (some SDKs send numeric ids); both become strings. An empty
/// string counts as absent, as in Segment.
fn id_field(raw: Option<&RawValue>, field: &str) -> Result<Option<String>, Rejection> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    let value = if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()
    } else if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') && !text.is_empty() {
        Some(text.to_owned())
    } else {
        None
    };
    match value {
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => Ok(Some(v)),
        None => Err(Rejection::new(
            RejectCode::WrongType,
            format!(
                "`{field}` must be a string (or an integer), got {}",
                describe(raw)
            ),
        )),
    }
}

fn id_error(field: &str, e: IdError) -> Rejection {
    Rejection::new(RejectCode::WrongType, format!("`{field}` {e}"))
}

fn timestamp_field(raw: Option<&RawValue>, field: &str) -> Result<Option<Timestamp>, Rejection> {
    let Some(text) = string_field(raw, field)? else {
        return Ok(None);
    };
    parse_timestamp(&text)
        .map(Some)
        .map_err(|e: TimestampError| {
            Rejection::new(RejectCode::BadTimestamp, format!("`{field}`: {e}"))
        })
}

fn object_field<'a>(
    raw: Option<&'a RawValue>,
    field: &str,
) -> Result<Option<&'a RawValue>, Rejection> {
    match raw {
        Some(raw) if !is_object(raw) => Err(Rejection::new(
            RejectCode::WrongType,
            format!("`{field}` must be an object, got {}", describe(raw)),
        )),
        other => Ok(other),
    }
}

/// Deepest nesting of `{}`/`[]` in well-formed JSON text, ignoring brackets inside strings.
fn nesting_depth(json: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in json.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn describe(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Parses and validates one message.
///
/// `path_kind` is the type implied by the endpoint (`/v1/track`); in a batch each event names its
/// own `type`. `make_id` supplies a message id when the sender gave none.
pub fn parse_message(
    raw: &RawValue,
    path_kind: Option<MessageKind>,
    envelope: &Envelope<'_>,
    make_id: &mut dyn FnMut() -> String,
) -> Result<Message, Rejection> {
    let text = raw.get();
    if text.len() > MAX_EVENT_BYTES {
        return Err(Rejection::new(
            RejectCode::EventTooLarge,
            format!(
                "the event is {} bytes; at most {MAX_EVENT_BYTES} are allowed",
                text.len()
            ),
        ));
    }
    if !is_object(raw) {
        return Err(Rejection::new(
            RejectCode::InvalidJson,
            format!("each event must be a JSON object, got {}", describe(raw)),
        ));
    }
    if nesting_depth(text) > MAX_EVENT_DEPTH {
        return Err(Rejection::new(
            RejectCode::InvalidJson,
            format!(
                "the event is nested too deeply (at most {MAX_EVENT_DEPTH} levels of objects and arrays)"
            ),
        ));
    }
    let fields: RawFields<'_> = serde_json::from_str(text).map_err(json_error)?;

    let kind = match string_field(fields.kind, "type")? {
        Some(t) => match MessageKind::parse(&t) {
            Some(kind) if path_kind.is_none_or(|p| p == kind) => kind,
            Some(kind) => {
                return Err(Rejection::new(
                    RejectCode::WrongType,
                    format!(
                        "`type` is `{}` but this endpoint takes `{}` calls",
                        kind.as_str(),
                        path_kind.map(MessageKind::as_str).unwrap_or_default()
                    ),
                ));
            }
            None => {
                return Err(Rejection::new(
                    RejectCode::UnknownType,
                    format!(
                        "unknown `type` `{t}`: use identify, track, page, screen, group or alias"
                    ),
                ));
            }
        },
        None => match path_kind {
            Some(kind) => kind,
            None => {
                return Err(Rejection::new(
                    RejectCode::MissingField,
                    "`type` is required in a batch: identify, track, page, screen, group or alias",
                ));
            }
        },
    };

    let user_id = id_field(fields.user_id, "userId")?
        .map(UserId::parse)
        .transpose()
        .map_err(|e| id_error("userId", e))?;
    let anonymous_id = id_field(fields.anonymous_id, "anonymousId")?
        .map(AnonymousId::parse)
        .transpose()
        .map_err(|e| id_error("anonymousId", e))?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(Rejection::new(
            RejectCode::MissingId,
            "a message needs `userId` or `anonymousId`",
        ));
    }

    let message_id = match id_field(fields.message_id, "messageId")? {
        Some(id) => MessageId::parse(id).map_err(|e| id_error("messageId", e))?,
        None => MessageId::parse(make_id()).map_err(|e| id_error("messageId", e))?,
    };

    let name = match kind {
        MessageKind::Track => {
            let event = string_field(fields.event, "event")?.filter(|e| !e.is_empty());
            Some(event.ok_or_else(|| {
                Rejection::new(
                    RejectCode::MissingField,
                    "a track call needs a non-empty `event` name",
                )
            })?)
        }
        MessageKind::Page | MessageKind::Screen => string_field(fields.name, "name")?,
        _ => None,
    };
    let previous_id = match kind {
        MessageKind::Alias => {
            let previous = id_field(fields.previous_id, "previousId")?;
            if previous.is_none() {
                return Err(Rejection::new(
                    RejectCode::MissingField,
                    "an alias call needs `previousId`",
                ));
            }
            if user_id.is_none() {
                return Err(Rejection::new(
                    RejectCode::MissingField,
                    "an alias call needs `userId`, the id `previousId` becomes",
                ));
            }
            previous
        }
        _ => None,
    };
    let group_id = match kind {
        MessageKind::Group => Some(id_field(fields.group_id, "groupId")?.ok_or_else(|| {
            Rejection::new(RejectCode::MissingField, "a group call needs `groupId`")
        })?),
        _ => None,
    };

    let traits_raw = object_field(fields.traits, "traits")?;
    object_field(fields.properties, "properties")?;
    let own_context = object_field(fields.context, "context")?;
    let own_integrations = object_field(fields.integrations, "integrations")?;
    let traits = match (kind, traits_raw) {
        (MessageKind::Identify | MessageKind::Group, Some(raw)) => {
            Some(serde_json::from_str::<Map<String, Value>>(raw.get()).map_err(json_error)?)
        }
        _ => None,
    };

    let ts_field = timestamp_field(fields.timestamp, "timestamp")?;
    let original_field = timestamp_field(fields.original_timestamp, "originalTimestamp")?;
    let sent_at = match timestamp_field(fields.sent_at, "sentAt")? {
        Some(ts) => Some(ts),
        None => envelope.sent_at,
    };
    let line_received_at = timestamp_field(fields.received_at, "receivedAt")?;
    let (timestamp, received_at, original_timestamp) = match envelope.mode {
        TimeMode::Live => {
            // Segment-processed data carries the device time as `originalTimestamp`; SDKs send it
            // as `timestamp`.
            let original = original_field.or(ts_field);
            let received_at = envelope.received_at.unwrap_or_else(Timestamp::now);
            (
                corrected_timestamp(received_at, sent_at, original),
                received_at,
                original,
            )
        }
        TimeMode::Historical => {
            let received_at = line_received_at
                .or(envelope.received_at)
                .unwrap_or_else(Timestamp::now);
            let timestamp = ts_field.or(original_field).unwrap_or(received_at);
            (timestamp, received_at, original_field.or(ts_field))
        }
    };

    // Batch-level context and integrations apply to events without their own. Only then is the
    // body re-serialised; otherwise it is stored exactly as sent.
    let inherit_context = own_context.is_none() && envelope.context.is_some();
    let inherit_integrations = own_integrations.is_none() && envelope.integrations.is_some();
    let has_write_key = fields.write_key.is_some();
    let body: Box<str> = if inherit_context || inherit_integrations || has_write_key {
        let mut map: Map<String, Value> = serde_json::from_str(text).map_err(json_error)?;
        // The write key is a credential: it is never stored with the event.
        map.remove("writeKey");
        if inherit_context && let Some(ctx) = envelope.context {
            map.insert(
                "context".into(),
                serde_json::from_str(ctx.get()).map_err(json_error)?,
            );
        }
        if inherit_integrations && let Some(int) = envelope.integrations {
            map.insert(
                "integrations".into(),
                serde_json::from_str(int.get()).map_err(json_error)?,
            );
        }
        serde_json::to_string(&map)
            .expect("a JSON map serialises")
            .into_boxed_str()
    } else {
        text.into()
    };

    Ok(Message {
        kind,
        message_id,
        user_id,
        anonymous_id,
        name,
        previous_id,
        group_id,
        traits,
        timestamp,
        received_at,
        original_timestamp,
        sent_at,
        body,
    })
}

/// Parses a `/v1/batch` (or `/v1/import`) body. Only a body that cannot be read as a whole is
/// refused as a whole; bad events are reported one by one and the rest kept.
pub fn parse_batch(
    body: &str,
    received_at: Timestamp,
    make_id: &mut dyn FnMut() -> String,
) -> Result<Batch, Rejection> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(body_too_large(body.len()));
    }
    let top: &RawValue = serde_json::from_str(body).map_err(json_error)?;
    if !is_object(top) {
        return Err(Rejection::new(
            RejectCode::InvalidJson,
            format!(
                "a batch must be a JSON object with a `batch` array, got {}",
                describe(top)
            ),
        ));
    }
    let raw: RawBatch<'_> = serde_json::from_str(top.get()).map_err(json_error)?;
    let write_key = string_field(raw.write_key, "writeKey")?;
    let Some(events) = raw.batch else {
        return Err(Rejection::new(
            RejectCode::MissingField,
            "a batch needs a `batch` array of events",
        ));
    };
    let events: Vec<&RawValue> = serde_json::from_str(events.get()).map_err(|_| {
        Rejection::new(
            RejectCode::WrongType,
            format!(
                "`batch` must be an array of events, got {}",
                describe(events)
            ),
        )
    })?;
    let envelope = Envelope {
        mode: TimeMode::Live,
        received_at: Some(received_at),
        sent_at: timestamp_field(raw.sent_at, "sentAt")?,
        context: object_field(raw.context, "context")?,
        integrations: object_field(raw.integrations, "integrations")?,
    };
    let items = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            if i >= MAX_BATCH_EVENTS {
                Err(Rejection::new(
                    RejectCode::TooManyEvents,
                    format!("a batch holds at most {MAX_BATCH_EVENTS} events; send the rest in another batch"),
                ))
            } else {
                parse_message(event, None, &envelope, make_id)
            }
        })
        .collect();
    Ok(Batch { write_key, items })
}

/// Parses the body of a single-event endpoint such as `/v1/track`.
pub fn parse_single(
    body: &str,
    kind: MessageKind,
    received_at: Timestamp,
    make_id: &mut dyn FnMut() -> String,
) -> Result<Single, Rejection> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(Rejection::new(
            RejectCode::EventTooLarge,
            format!(
                "the event is {} bytes; at most {MAX_EVENT_BYTES} are allowed",
                body.len()
            ),
        ));
    }
    let raw: &RawValue = serde_json::from_str(body).map_err(json_error)?;
    if !is_object(raw) {
        return Err(Rejection::new(
            RejectCode::InvalidJson,
            format!("the body must be a JSON object, got {}", describe(raw)),
        ));
    }
    let fields: RawFields<'_> = serde_json::from_str(raw.get()).map_err(json_error)?;
    let write_key = string_field(fields.write_key, "writeKey")?;
    let envelope = Envelope {
        received_at: Some(received_at),
        ..Envelope::default()
    };
    let message = parse_message(raw, Some(kind), &envelope, make_id)?;
    Ok(Single { write_key, message })
}

/// Parses one line of an NDJSON file: a message that names its own `type`, trusted for its time
/// (see [`TimeMode::Historical`]).
pub fn parse_line(
    line: &str,
    received_at: Timestamp,
    make_id: &mut dyn FnMut() -> String,
) -> Result<Message, Rejection> {
    let raw: &RawValue = serde_json::from_str(line).map_err(json_error)?;
    let envelope = Envelope {
        mode: TimeMode::Historical,
        received_at: Some(received_at),
        ..Envelope::default()
    };
    parse_message(raw, None, &envelope, make_id)
}

pub fn body_too_large(len: usize) -> Rejection {
    Rejection::new(
        RejectCode::BodyTooLarge,
        format!(
            "the request body is over {len} bytes, the most this endpoint takes (after decompression): split it into smaller batches"
        ),
    )
}

#[cfg(test)]
mod tests;
