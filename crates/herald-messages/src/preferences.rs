//! What people choose: one-click unsubscribe, the preference centre, consent set through the
//! API, and the mail system's feedback (bounces and complaints) that decides for them.
//!
//! Every change is recorded with its source and time, raises an event of the person
//! (`Unsubscribed`, `Subscribed`, `Email Bounced`, `Email Marked as Spam`) and takes effect at
//! once: the dispatcher checks consent and the suppression list when it sends, not when the
//! journey queued the message.

use crate::{MessagesError, events};
use herald_channels::email::feedback::{BounceKind, Feedback};
use herald_core::consent::{Consent, ConsentKey};
use herald_core::{Channel, ProfileId, Timestamp};
use herald_store::{ConsentChange, MessageCommit, OutboxMessage, Profile, Store, Suppression};
use serde::Serialize;
use serde_json::{Value, json};

async fn profile_of(store: &dyn Store, id: ProfileId) -> Result<Profile, MessagesError> {
    store
        .profiles_by_id(vec![id])
        .await?
        .pop()
        .ok_or_else(|| MessagesError::NotFound("this person is no longer known".into()))
}

/// Records consent changes of one person from `source`, with their events.
pub async fn set_consent(
    store: &dyn Store,
    profile: ProfileId,
    changes: &[(ConsentKey, bool)],
    source: &str,
    about: Option<&OutboxMessage>,
    now: Timestamp,
) -> Result<(), MessagesError> {
    let person = profile_of(store, profile).await?;
    let mut commit = MessageCommit::default();
    for (key, subscribed) in changes {
        commit.consent.push(ConsentChange {
            profile,
            consent: Consent {
                channel: key.channel,
                topic: key.topic.clone(),
                subscribed: *subscribed,
                source: source.to_owned(),
                at: now,
            },
        });
        let mut props = about.map(events::about).unwrap_or_default();
        props.insert("channel".into(), json!(key.channel));
        if !key.topic.is_empty() {
            props.insert("topic".into(), json!(key.topic));
        }
        props.insert("source".into(), json!(source));
        let name = if *subscribed {
            "Subscribed"
        } else {
            "Unsubscribed"
        };
        let id = format!(
            "{}.{}.{}.{}",
            name.to_ascii_lowercase(),
            profile,
            key,
            now.as_millisecond()
        );
        commit
            .events
            .extend(events::track(&person, name, props, &id, now));
    }
    store.commit_messages(commit).await?;
    Ok(())
}

/// One-click unsubscribe (RFC 8058) from the message's channel, for all its marketing.
pub async fn unsubscribe(
    store: &dyn Store,
    message: &OutboxMessage,
    now: Timestamp,
) -> Result<(), MessagesError> {
    let channel = Channel::parse(&message.channel).unwrap_or(Channel::Email);
    set_consent(
        store,
        message.profile,
        &[(ConsentKey::channel(channel), false)],
        "unsubscribe_link",
        Some(message),
        now,
    )
    .await
}

/// What the preference centre shows one person.
#[derive(Clone, Debug, Serialize)]
pub struct Preferences {
    /// `email`, `sms`, `push` with whether marketing may be sent.
    pub channels: Vec<Choice>,
    /// Email topics (one per journey that sends marketing email) with whether they may be
    /// sent.
    pub topics: Vec<Choice>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Choice {
    pub key: String,
    pub label: String,
    pub subscribed: bool,
}

/// The person's current choices, with consent defaults filled in.
pub async fn preferences(
    store: &dyn Store,
    profile: ProfileId,
    topics: &[String],
) -> Result<Preferences, MessagesError> {
    let recorded: std::collections::BTreeMap<ConsentKey, Consent> = store
        .consent(profile)
        .await?
        .into_iter()
        .map(|c| (c.key(), c))
        .collect();
    let allowed = |channel: Channel, topic: Option<&str>| {
        herald_core::consent::check(
            channel,
            topic,
            herald_core::consent::MessageClass::Marketing,
            &recorded,
        )
        .is_ok()
    };
    let channels = [Channel::Email, Channel::Sms, Channel::Push]
        .into_iter()
        .map(|c| Choice {
            key: c.as_str().to_owned(),
            label: match c {
                Channel::Email => "Email",
                Channel::Sms => "Text messages (SMS)",
                _ => "Push notifications",
            }
            .to_owned(),
            subscribed: allowed(c, None),
        })
        .collect();
    let topics = topics
        .iter()
        .map(|t| Choice {
            key: format!("email:{t}"),
            label: t.replace('_', " "),
            subscribed: allowed(Channel::Email, Some(t)),
        })
        .collect();
    Ok(Preferences { channels, topics })
}

/// What applying feedback did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FeedbackReport {
    pub bounces: usize,
    pub hard: usize,
    pub complaints: usize,
    /// Reports about messages Herald does not know (another sender's, or erased people's).
    pub unmatched: usize,
}

/// Herald's message id in a `Message-ID` it made (`<id@domain>`).
pub fn message_id_of(rfc_id: &str) -> &str {
    let id = rfc_id.trim().trim_start_matches('<').trim_end_matches('>');
    id.rsplit_once('@').map_or(id, |(local, _)| local)
}

/// Applies a delivery status notification or an abuse report: hard bounces and complaints
/// suppress the address; complaints also unsubscribe the person from marketing email.
pub async fn apply_feedback(
    store: &dyn Store,
    feedback: &Feedback,
    now: Timestamp,
) -> Result<FeedbackReport, MessagesError> {
    let mut report = FeedbackReport::default();
    let mut commit = MessageCommit::default();
    match feedback {
        Feedback::Bounces(bounces) => {
            for b in bounces {
                report.bounces += 1;
                let hard = b.kind == BounceKind::Hard;
                if hard {
                    report.hard += 1;
                    commit.suppress.push(Suppression {
                        channel: "email".into(),
                        address: b.recipient.to_ascii_lowercase(),
                        reason: "hard_bounce".into(),
                        detail: Some(format!(
                            "{} {}",
                            b.status,
                            b.diagnostic.clone().unwrap_or_default()
                        )),
                        at: now,
                    });
                }
                let message = match &b.original_message_id {
                    Some(id) => store.outbox_message(message_id_of(id)).await?,
                    None => None,
                };
                let Some(message) = message else {
                    report.unmatched += 1;
                    continue;
                };
                let Some(person) = store.profiles_by_id(vec![message.profile]).await?.pop() else {
                    report.unmatched += 1;
                    continue;
                };
                let mut props = events::about(&message);
                props.insert(
                    "bounce_type".into(),
                    json!(if hard { "hard" } else { "soft" }),
                );
                props.insert("status".into(), json!(b.status));
                props.insert(
                    "reason".into(),
                    b.diagnostic.clone().map_or(Value::Null, Value::String),
                );
                props.insert("email".into(), json!(b.recipient));
                commit.events.extend(events::track(
                    &person,
                    "Email Bounced",
                    props,
                    &format!("bounce.{}.{}", message.id, b.status),
                    now,
                ));
            }
        }
        Feedback::Complaint(c) => {
            report.complaints += 1;
            let message = match &c.original_message_id {
                Some(id) => store.outbox_message(message_id_of(id)).await?,
                None => None,
            };
            let address = c.original_recipient.clone().map(|a| a.to_ascii_lowercase());
            let person = match &message {
                Some(m) => store.profiles_by_id(vec![m.profile]).await?.pop(),
                None => None,
            };
            let address = address.or_else(|| {
                person
                    .as_ref()
                    .and_then(|p| crate::compose::email_address(&p.traits))
            });
            if let Some(address) = address {
                commit.suppress.push(Suppression {
                    channel: "email".into(),
                    address,
                    reason: "complaint".into(),
                    detail: Some(c.feedback_type.clone()),
                    at: now,
                });
            }
            match (message, person) {
                (Some(message), Some(person)) => {
                    commit.consent.push(ConsentChange {
                        profile: person.id,
                        consent: Consent {
                            channel: Channel::Email,
                            topic: String::new(),
                            subscribed: false,
                            source: "complaint".into(),
                            at: now,
                        },
                    });
                    let mut props = events::about(&message);
                    props.insert("feedback_type".into(), json!(c.feedback_type));
                    commit.events.extend(events::track(
                        &person,
                        "Email Marked as Spam",
                        props,
                        &format!("complaint.{}", message.id),
                        now,
                    ));
                }
                _ => report.unmatched += 1,
            }
        }
    }
    store.commit_messages(commit).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_come_out_of_rfc_ids() {
        assert_eq!(
            super::message_id_of("<j.welcome.1.7.2@mail.shop.example>"),
            "j.welcome.1.7.2"
        );
        assert_eq!(super::message_id_of("plain"), "plain");
    }
}
