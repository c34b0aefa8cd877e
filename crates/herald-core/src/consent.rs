//! Consent: whether a person may be sent a message on a channel, and on a topic of it.
//!
//! Consent is recorded per person, channel and topic (the empty topic stands for the whole
//! channel), each with its source (`identify`, `api`, `unsubscribe_link`, `preference_centre`,
//! `complaint`) and time; the newest record for a key wins, so a person who unsubscribes by link
//! and later ticks a box in the customer's own app is subscribed again.
//!
//! What counts when nothing was recorded follows the law and custom of each channel: marketing
//! email may go to anyone with an address until they opt out (CAN-SPAM), marketing SMS needs an
//! explicit opt-in (TCPA), and push needs nothing more than the device's own permission, which a
//! push token already proves. Transactional messages (receipts, password resets) do not need
//! marketing consent at all; only suppression (hard bounces, complaints) stops them.
//!
//! Identify calls carry consent in two traits: `unsubscribed` (a boolean for all marketing
//! email, the convention of Customer.io and others) and `subscriptions`, an object from
//! `channel` or `channel:topic` to a boolean, e.g. `{"sms": true, "email:newsletter": false}`.

use crate::Channel;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A channel and, optionally, one of its topics.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ConsentKey {
    pub channel: Channel,
    /// Empty: the whole channel.
    pub topic: String,
}

impl ConsentKey {
    pub fn channel(channel: Channel) -> ConsentKey {
        ConsentKey {
            channel,
            topic: String::new(),
        }
    }

    /// Parses `channel` or `channel:topic`.
    pub fn parse(s: &str) -> Option<ConsentKey> {
        let (channel, topic) = s.split_once(':').unwrap_or((s, ""));
        let topic = topic.trim();
        if topic.len() > 64 || topic.contains(char::is_control) {
            return None;
        }
        Some(ConsentKey {
            channel: Channel::parse(channel.trim())?,
            topic: topic.to_owned(),
        })
    }
}

impl std::fmt::Display for ConsentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.topic.is_empty() {
            f.write_str(self.channel.as_str())
        } else {
            write!(f, "{}:{}", self.channel, self.topic)
        }
    }
}

/// The consent traits an identify carries, by key; traits that are not about consent, and
/// values that are not booleans, are ignored.
pub fn from_traits(traits: &Map<String, Value>) -> BTreeMap<ConsentKey, bool> {
    let mut out = BTreeMap::new();
    if let Some(Value::Bool(unsubscribed)) = traits.get("unsubscribed") {
        out.insert(ConsentKey::channel(Channel::Email), !unsubscribed);
    }
    if let Some(Value::Object(subscriptions)) = traits.get("subscriptions") {
        for (key, value) in subscriptions {
            if let (Some(key), Value::Bool(subscribed)) = (ConsentKey::parse(key), value) {
                out.insert(key, *subscribed);
            }
        }
    }
    out
}

/// The consent keys whose value differs between two versions of a person's traits: an identify
/// records consent only when it changes it, so an app that repeats `unsubscribed: false` on
/// every identify does not undo an unsubscribe made by link.
pub fn changed(before: &Map<String, Value>, after: &Map<String, Value>) -> Vec<(ConsentKey, bool)> {
    let old = from_traits(before);
    from_traits(after)
        .into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .collect()
}

/// Whether a message is marketing (needs consent) or transactional (does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageClass {
    Marketing,
    Transactional,
}

impl MessageClass {
    pub fn parse(s: &str) -> MessageClass {
        if s == "transactional" {
            MessageClass::Transactional
        } else {
            MessageClass::Marketing
        }
    }
}

/// The decision for one message: `Err` holds the reason it may not be sent.
///
/// `recorded` maps the person's recorded keys to their value; a topic's own record overrides
/// its channel's, so someone unsubscribed from all email stays unsubscribed from each topic
/// unless they opted back in to that topic explicitly afterwards (newest wins within a key, and
/// a topic record newer than the channel record is what a preference centre writes).
pub fn check(
    channel: Channel,
    topic: Option<&str>,
    class: MessageClass,
    recorded: &BTreeMap<ConsentKey, Consent>,
) -> Result<(), String> {
    if class == MessageClass::Transactional || channel == Channel::Webhook {
        return Ok(());
    }
    let whole = recorded.get(&ConsentKey::channel(channel));
    let specific = topic.filter(|t| !t.is_empty()).and_then(|t| {
        recorded.get(&ConsentKey {
            channel,
            topic: t.to_owned(),
        })
    });
    let deciding = match (whole, specific) {
        (Some(w), Some(s)) if s.at >= w.at => Some(s),
        (Some(w), _) => Some(w),
        (None, s) => s,
    };
    match deciding {
        Some(c) if c.subscribed => Ok(()),
        Some(c) => Err(format!(
            "unsubscribed from {}{} ({}, {})",
            channel,
            if c.topic.is_empty() {
                String::new()
            } else {
                format!(":{}", c.topic)
            },
            c.source,
            c.at
        )),
        None if channel == Channel::Sms => {
            Err("no opt-in for marketing SMS (subscriptions.sms)".to_owned())
        }
        None => Ok(()),
    }
}

/// One recorded consent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Consent {
    pub channel: Channel,
    pub topic: String,
    pub subscribed: bool,
    /// `identify`, `api`, `unsubscribe_link`, `preference_centre`, `complaint`.
    pub source: String,
    pub at: crate::Timestamp,
}

impl Consent {
    pub fn key(&self) -> ConsentKey {
        ConsentKey {
            channel: self.channel,
            topic: self.topic.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn consent(key: &str, subscribed: bool, at: &str) -> (ConsentKey, Consent) {
        let k = ConsentKey::parse(key).unwrap();
        (
            k.clone(),
            Consent {
                channel: k.channel,
                topic: k.topic,
                subscribed,
                source: "api".into(),
                at: at.parse().unwrap(),
            },
        )
    }

    #[test]
    fn reads_consent_traits() {
        let t = map(json!({
            "unsubscribed": true,
            "subscriptions": {"sms": true, "email:newsletter": false, "fax": true, "push": "yes"},
            "plan": "pro"
        }));
        let got: Vec<(String, bool)> = from_traits(&t)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(
            got,
            vec![
                ("email".into(), false),
                ("email:newsletter".into(), false),
                ("sms".into(), true)
            ]
        );
    }

    #[test]
    fn only_changes_are_recorded() {
        let before = map(json!({"unsubscribed": false}));
        assert!(changed(&before, &map(json!({"unsubscribed": false, "x": 1}))).is_empty());
        assert_eq!(
            changed(&before, &map(json!({"unsubscribed": true}))),
            vec![(ConsentKey::channel(Channel::Email), false)]
        );
    }

    #[test]
    fn defaults_follow_the_channel() {
        let none = BTreeMap::new();
        let m = MessageClass::Marketing;
        assert!(check(Channel::Email, None, m, &none).is_ok());
        assert!(check(Channel::Push, None, m, &none).is_ok());
        assert!(check(Channel::Sms, None, m, &none).is_err());
        assert!(check(Channel::Sms, None, MessageClass::Transactional, &none).is_ok());
    }

    #[test]
    fn newest_of_channel_and_topic_decides() {
        let m = MessageClass::Marketing;
        let rec: BTreeMap<_, _> = [consent("email", false, "2026-01-01T00:00:00Z")].into();
        let err = check(Channel::Email, Some("news"), m, &rec).unwrap_err();
        assert!(err.contains("unsubscribed from email"), "{err}");
        assert!(check(Channel::Email, None, MessageClass::Transactional, &rec).is_ok());

        let rec: BTreeMap<_, _> = [
            consent("email", false, "2026-01-01T00:00:00Z"),
            consent("email:news", true, "2026-02-01T00:00:00Z"),
        ]
        .into();
        assert!(check(Channel::Email, Some("news"), m, &rec).is_ok());
        assert!(check(Channel::Email, Some("deals"), m, &rec).is_err());

        let rec: BTreeMap<_, _> = [
            consent("email", true, "2026-03-01T00:00:00Z"),
            consent("email:news", false, "2026-02-01T00:00:00Z"),
        ]
        .into();
        // Subscribing to all email after leaving a topic brings the topic back.
        assert!(check(Channel::Email, Some("news"), m, &rec).is_ok());
        let rec: BTreeMap<_, _> = [consent("sms", true, "2026-03-01T00:00:00Z")].into();
        assert!(check(Channel::Sms, None, m, &rec).is_ok());
    }

    #[test]
    fn keys_parse_and_print() {
        assert_eq!(
            ConsentKey::parse("email:news").unwrap().to_string(),
            "email:news"
        );
        assert_eq!(ConsentKey::parse("push").unwrap().to_string(), "push");
        assert!(ConsentKey::parse("fax").is_none());
    }
}
