//! Between the runner's plain data and the store's rows: states, instances, outbox messages,
//! actions and trait updates.

use crate::ConductorError;
use herald_core::{ProfileId, Timestamp};
use herald_journeys::runner::{Action, PersonState, Runner, What};
use herald_store::{
    InstanceRow, JourneyAction, JourneyCommit, JourneyState, OutboxMessage, OutboxStatus,
};
use serde_json::{Map, Value, json};

pub(crate) fn decode_state(
    profile: ProfileId,
    bytes: &[u8],
) -> Result<PersonState, ConductorError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ConductorError::Stored(format!("the journey state of profile {profile}: {e}")))
}

/// The row that persists a person's state (deleting it when nothing is left).
pub(crate) fn state_row(runner: &Runner, profile: ProfileId, state: &PersonState) -> JourneyState {
    if state.is_empty() {
        return JourneyState {
            profile,
            state: None,
            due: None,
            instances: Vec::new(),
        };
    }
    let ts = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    JourneyState {
        profile,
        state: Some(serde_json::to_vec(state).expect("journey states serialize")),
        due: runner.next_due(state),
        instances: state
            .instances
            .iter()
            .map(|i| InstanceRow {
                id: i.id.clone(),
                journey: i.journey.to_string(),
                version: i.version,
                step: i.step,
                key: i.key.clone(),
                entered_at: ts(i.entered),
                wake: i.wake.map(ts),
            })
            .collect(),
    }
}

/// Adds what the actions ask for to a commit: outbox messages, action rows, trait updates.
pub(crate) fn record_actions(commit: &mut JourneyCommit, actions: &[Action]) {
    let none = Map::new();
    for a in actions {
        let (name, detail) = match &a.what {
            What::Enter => ("enter", json!({})),
            What::Send {
                message_id,
                channel,
                template,
                class,
                trigger,
            } => {
                commit.messages.push(outbox(
                    a,
                    message_id,
                    channel.as_str(),
                    template.as_str(),
                    class.as_str(),
                    OutboxStatus::Queued,
                    None,
                    trigger,
                ));
                (
                    "send",
                    json!({"message_id": message_id, "channel": channel, "template": template}),
                )
            }
            What::Skip {
                message_id,
                channel,
                template,
                reason,
            } => {
                commit.messages.push(outbox(
                    a,
                    message_id,
                    channel.as_str(),
                    template.as_str(),
                    "marketing",
                    OutboxStatus::Skipped,
                    Some(reason.clone()),
                    &none,
                ));
                (
                    "skip",
                    json!({"message_id": message_id, "channel": channel, "template": template, "reason": reason}),
                )
            }
            What::Defer { until, reason } => ("defer", json!({"until": until, "reason": reason})),
            What::Branch { arm } => ("branch", json!({"arm": arm})),
            What::SetTrait { key, value } => {
                let mut traits = Map::new();
                traits.insert(key.clone(), value.clone());
                commit.traits.push((a.profile, traits, a.at));
                ("set_trait", json!({"key": key, "value": value}))
            }
            What::Webhook {
                message_id,
                url,
                trigger,
            } => {
                commit.messages.push(outbox(
                    a,
                    message_id,
                    "webhook",
                    url,
                    "transactional",
                    OutboxStatus::Queued,
                    None,
                    trigger,
                ));
                ("webhook", json!({"message_id": message_id, "url": url}))
            }
            What::Goal => ("goal", json!({})),
            What::Exit { reason } => ("exit", json!({"reason": reason})),
        };
        commit.actions.push(JourneyAction {
            at: a.at,
            journey: a.journey.to_string(),
            version: a.version,
            instance: a.instance.clone(),
            profile: a.profile,
            step: a.step,
            action: name.to_owned(),
            detail,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn outbox(
    a: &Action,
    id: &str,
    channel: &str,
    template: &str,
    class: &str,
    status: OutboxStatus,
    reason: Option<String>,
    trigger: &Map<String, Value>,
) -> OutboxMessage {
    OutboxMessage {
        seq: 0,
        id: id.to_owned(),
        profile: a.profile,
        journey: a.journey.to_string(),
        version: a.version,
        instance: a.instance.clone(),
        step: a.step.unwrap_or_default(),
        channel: channel.to_owned(),
        template: template.to_owned(),
        class: class.to_owned(),
        status,
        reason,
        context: json!({
            "key": a.key,
            "trigger": trigger,
        }),
        created_at: a.at,
        delivery: None,
    }
}

/// The properties of a track, page or screen call, or the traits of an identify.
pub(crate) fn properties_of(kind: herald_core::MessageKind, body: &str) -> Map<String, Value> {
    let key = match kind {
        herald_core::MessageKind::Identify => "traits",
        _ => "properties",
    };
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut m)) => match m.remove(key) {
            Some(Value::Object(p)) => p,
            _ => Map::new(),
        },
        _ => Map::new(),
    }
}
