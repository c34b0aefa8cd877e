//! `herald templates ...`: store message templates, list them, preview one for a real person.

use crate::cli::TemplatesCommand;
use crate::verbs::open;
use crate::verbs::segments::open_for_writing;
use anyhow::{Context, bail};
use herald_content::Channel;
use herald_core::Timestamp;
use herald_merchandising::{Merchandiser, Recommender};
use herald_messages::templates;
use herald_store::Store;
use herald_store_sqlite::Access;
use std::path::Path;

pub async fn run(command: TemplatesCommand) -> anyhow::Result<()> {
    match command {
        TemplatesCommand::Library => {
            print!("{}", herald_content::LIBRARY);
            Ok(())
        }
        TemplatesCommand::Apply {
            file,
            data,
            dry_run,
        } => apply(&file, &data.dir, dry_run).await,
        TemplatesCommand::List { data } => list(&data.dir).await,
        TemplatesCommand::Preview {
            name,
            id,
            data,
            channel,
        } => preview(&name, &id, &data.dir, channel.as_deref()).await,
    }
}

async fn apply(file: &Path, dir: &Path, dry_run: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))?;
    let parsed =
        herald_content::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let store = open_for_writing(dir, "PUT /api/v1/templates/NAME")?;
    let changes = templates::apply(store.as_ref(), &parsed, dry_run, Timestamp::now()).await?;
    for c in &changes {
        println!(
            "{} ({}) {}: version {}{}",
            c.name,
            c.channel,
            c.status,
            c.version,
            if dry_run { " (dry run)" } else { "" }
        );
    }
    store.close().await?;
    Ok(())
}

async fn list(dir: &Path) -> anyhow::Result<()> {
    let store = open(dir, Access::ReadOnly)?;
    for r in store.template_records().await?.iter().filter(|r| r.live) {
        println!("{}\t{}\t{}", r.name, r.channel, r.version);
    }
    Ok(())
}

async fn preview(name: &str, id: &str, dir: &Path, channel: Option<&str>) -> anyhow::Result<()> {
    let store = open(dir, Access::ReadOnly)?;
    let channel: Channel = match channel {
        Some(c) => c.parse().map_err(|_| {
            anyhow::anyhow!("`{c}` is not a channel: use email, sms, push or webhook")
        })?,
        None => {
            let set = templates::live(store.as_ref()).await?;
            let mut found = set.iter().filter(|t| t.name() == name).map(|t| t.channel());
            match (found.next(), found.next()) {
                (Some(only), None) => only,
                (Some(_), Some(_)) => Channel::Email,
                (None, _) => bail!(
                    "no template named `{name}` in {}; `herald templates list --data {}` shows them",
                    dir.display(),
                    dir.display()
                ),
            }
        }
    };
    // Recommendations come from the whole log; only templates that show them pay for it.
    let set = templates::live(store.as_ref()).await?;
    let shows = set.get(name, channel).is_some_and(|t| {
        t.mentions("recommendations") || t.mentions("offers") || t.mentions("journey.items")
    });
    let shop = if shows {
        let recommender = Recommender::load(store.as_ref(), Default::default(), &|_, _| {}).await?;
        Some(Merchandiser::new(store.clone(), recommender))
    } else {
        None
    };
    let rendered = templates::preview(
        store.as_ref(),
        name,
        channel,
        id,
        Default::default(),
        Default::default(),
        &crate::config::public_url(&crate::config::load_file(dir)?)?,
        shop.as_ref()
            .map(|s| s as &dyn herald_messages::merchandise::Merchandise),
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&rendered)?);
    Ok(())
}
