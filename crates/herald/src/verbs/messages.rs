//! `herald messages list`: the outbox, where journeys hand messages to the message layer.

use crate::cli::MessagesCommand;
use crate::verbs::open;
use anyhow::bail;
use herald_store::Store;
use herald_store_sqlite::Access;
use serde_json::json;

pub async fn run(command: MessagesCommand) -> anyhow::Result<()> {
    let MessagesCommand::List {
        data,
        profile,
        limit,
        after,
    } = command;
    let store = open(&data.dir, Access::ReadOnly)?;
    let profile = match profile {
        Some(id) => match store.resolve(&id).await? {
            Some(p) => Some(p),
            None => bail!("nobody is known as `{id}` in {}", data.dir.display()),
        },
        None => None,
    };
    let messages = store.outbox(after, limit, profile).await?;
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
