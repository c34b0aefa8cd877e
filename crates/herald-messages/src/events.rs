//! The events the message layer raises about a person (`Email Delivered`, `Unsubscribed`,
//! `Email Bounced`, ...), built as ordinary Segment-spec track calls so that segments and
//! journeys see them like any other behaviour.

use herald_core::{Message, Timestamp};
use herald_store::Profile;
use serde_json::{Map, Value, json};

/// A track call of `profile` (by its `userId`, else its first `anonymousId`), or `None` for a
/// profile with neither. `message_id` makes the event idempotent: appending it twice under the
/// same source stores it once.
pub fn track(
    profile: &Profile,
    event: &str,
    properties: Map<String, Value>,
    message_id: &str,
    at: Timestamp,
) -> Option<Message> {
    identified(
        profile,
        json!({
            "type": "track",
            "event": event,
            "properties": properties,
            "messageId": message_id,
            "timestamp": at.to_string(),
        }),
        at,
    )
}

/// An identify call of `profile` setting `traits`.
pub fn identify(
    profile: &Profile,
    traits: Map<String, Value>,
    message_id: &str,
    at: Timestamp,
) -> Option<Message> {
    identified(
        profile,
        json!({
            "type": "identify",
            "traits": traits,
            "messageId": message_id,
            "timestamp": at.to_string(),
        }),
        at,
    )
}

fn identified(profile: &Profile, mut body: Value, at: Timestamp) -> Option<Message> {
    match (&profile.user_id, profile.anonymous_ids.first()) {
        (Some(user), _) => body["userId"] = json!(user),
        (None, Some(anonymous)) => body["anonymousId"] = json!(anonymous),
        (None, None) => return None,
    }
    let id = body["messageId"].as_str().unwrap_or_default().to_owned();
    // Only ids and values Herald made itself go in, so a rejection is a bug worth hearing of.
    match herald_core::parse::parse_line(&body.to_string(), at, &mut || id.clone()) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "an event of the message layer was rejected");
            None
        }
    }
}

/// Properties naming a message, as the email spec has them: `email_id`, `campaign_id` (the
/// journey), `campaign_name` (the template).
pub fn email_spec(message: &herald_store::OutboxMessage) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("email_id".into(), json!(message.id));
    p.insert("campaign_id".into(), json!(message.journey));
    p.insert("campaign_name".into(), json!(message.template));
    p
}

/// [`email_spec`] and the message's `channel`, for events about any channel's messages.
pub fn about(message: &herald_store::OutboxMessage) -> Map<String, Value> {
    let mut p = email_spec(message);
    p.insert("channel".into(), json!(message.channel));
    p
}
