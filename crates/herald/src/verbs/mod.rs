//! One module per verb.

mod catalog;
mod demo;
mod export;
mod generate;
mod import;
mod init;
mod journeys;
mod messages;
mod offers;
mod recommend;
mod segments;
mod serve;
mod templates;

use crate::cli::Command;
use herald_store::Store;
use herald_store_sqlite::{Access, SqliteStore};
use std::path::Path;
use std::sync::Arc;

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init {
            data,
            write_key,
            write_key_file,
            admin_token,
            admin_token_file,
        } => init::run(
            &data.dir,
            init::secret(write_key, write_key_file)?,
            init::secret(admin_token, admin_token_file)?,
        ),
        Command::Serve { data, listen } => serve::run(&data.dir, listen).await,
        Command::Import {
            file,
            data,
            mapping,
        } => import::run(&file, &data.dir, mapping.as_deref()).await,
        Command::Generate {
            profiles,
            days,
            seed,
            end,
            output,
        } => generate::run(profiles, days, seed, end.as_deref(), output.as_deref()),
        Command::Demo {
            data,
            listen,
            profiles,
            days,
            seed,
            no_serve,
        } => demo::run(&data.dir, listen, profiles, days, seed, no_serve).await,
        Command::Stats { data } => stats(&data.dir).await,
        Command::Export { data, output } => export::run(&data.dir, output.as_deref()).await,
        Command::Segments(command) => segments::run(command).await,
        Command::Journeys(command) => journeys::run(command).await,
        Command::Messages(command) => messages::run(command).await,
        Command::Templates(command) => templates::run(command).await,
        Command::Catalog(command) => catalog::run(command).await,
        Command::Recommend(args) => recommend::run(args).await,
        Command::Offers(command) => offers::run(command).await,
    }
}

pub fn open(dir: &Path, access: Access) -> anyhow::Result<Arc<SqliteStore>> {
    Ok(Arc::new(SqliteStore::open(dir, access)?))
}

async fn stats(dir: &Path) -> anyhow::Result<()> {
    let store = open(dir, Access::ReadOnly)?;
    let s = store.stats().await?;
    println!(
        "{}",
        serde_json::json!({"events": s.events, "profiles": s.profiles})
    );
    Ok(())
}
