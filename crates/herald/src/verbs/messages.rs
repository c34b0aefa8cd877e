//! `herald messages list`: the outbox, where journeys hand messages to the message layer, with
//! each queued message's delivery.

use crate::cli::MessagesCommand;
use crate::verbs::open;
use anyhow::bail;
use herald_store::{DeliveryState, Store};
use herald_store_sqlite::Access;
use serde_json::json;

pub async fn run(command: MessagesCommand) -> anyhow::Result<()> {
    let MessagesCommand::List {
        data,
        profile,
        limit,
        after,
        state,
    } = command;
    let store = open(&data.dir, Access::ReadOnly)?;
    let state = match state.as_deref() {
        Some(s) => Some(DeliveryState::parse(s).ok_or_else(|| {
            anyhow::anyhow!("--state must be pending, delivered, suppressed or failed, not `{s}`")
        })?),
        None => None,
    };
    let profile = match profile {
        Some(id) => match store.resolve(&id).await? {
            Some(p) => Some(p),
            None => bail!("nobody is known as `{id}` in {}", data.dir.display()),
        },
        None => None,
    };
    let messages = match state {
        Some(s) => store.deliveries_in_state(s, after, limit).await?,
        None => store.outbox(after, limit, profile).await?,
    };
    let ids: std::collections::HashMap<_, _> = store
        .display_ids(messages.iter().map(|m| m.profile).collect())
        .await?
        .into_iter()
        .collect();
    for m in messages {
        let mut value = serde_json::to_value(&m)?;
        value["person"] = json!(ids.get(&m.profile));
        println!("{value}");
    }
    Ok(())
}
