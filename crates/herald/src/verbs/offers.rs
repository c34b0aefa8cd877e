//! `herald offers ...`: coupon pools from the command line.

use crate::cli::OffersCommand;
use crate::verbs::open;
use crate::verbs::segments::open_for_writing;
use anyhow::{Context, bail};
use herald_catalog::{Offer, valid_code};
use herald_store::Store;
use herald_store_sqlite::Access;
use serde_json::{Map, Value, json};
use std::path::Path;

pub async fn run(command: OffersCommand) -> anyhow::Result<()> {
    match command {
        OffersCommand::Put {
            name,
            data,
            pattern,
            valid_days,
            ends_at,
            low_water,
            attributes,
        } => {
            let mut definition = Map::new();
            if let Some(p) = pattern {
                definition.insert("pattern".into(), json!(p));
            }
            if let Some(d) = valid_days {
                definition.insert("valid_days".into(), json!(d));
            }
            if let Some(e) = ends_at {
                definition.insert("ends_at".into(), json!(e));
            }
            if let Some(l) = low_water {
                definition.insert("low_water".into(), json!(l));
            }
            definition.insert("attributes".into(), Value::Object(attrs(&attributes)?));
            let offer = Offer::parse(&name, &Value::Object(definition))
                .map_err(|e| anyhow::anyhow!("offer `{name}`: {e}"))?;
            let store = open_for_writing(&data.dir, "PUT /api/v1/offers/NAME")?;
            store.put_offer(offer).await?;
            print_offer(store.as_ref(), &name).await?;
            store.close().await?;
            Ok(())
        }
        OffersCommand::Codes { name, file, data } => codes(&name, &file, &data.dir).await,
        OffersCommand::List { data } => {
            let store = open(&data.dir, Access::ReadOnly)?;
            for (offer, counts) in store.offers().await? {
                println!(
                    "{}",
                    json!({"name": offer.name, "definition": offer.to_json(), "counts": counts, "running_low": counts.running_low(&offer)})
                );
            }
            Ok(())
        }
    }
}

/// `key=value` pairs; values that are JSON numbers or booleans stay so.
fn attrs(pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("--attr `{pair}` must be KEY=VALUE, e.g. percent_off=10");
        };
        let value = match serde_json::from_str::<Value>(v) {
            Ok(n @ (Value::Number(_) | Value::Bool(_))) => n,
            _ => json!(v),
        };
        out.insert(k.trim().to_owned(), value);
    }
    Ok(out)
}

async fn print_offer(store: &dyn Store, name: &str) -> anyhow::Result<()> {
    if let Some((offer, counts)) = store.offer(name).await? {
        println!(
            "{}",
            json!({"name": offer.name, "definition": offer.to_json(), "counts": counts, "running_low": counts.running_low(&offer)})
        );
    }
    Ok(())
}

async fn codes(name: &str, file: &Path, dir: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))?;
    let mut codes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        if !valid_code(code) {
            bail!(
                "{}:{}: `{code}` is not a code (1 to 64 letters, digits, `-` or `_`); nothing was added",
                file.display(),
                i + 1
            );
        }
        codes.push(code.to_owned());
    }
    if codes.is_empty() {
        bail!("{} holds no codes (one per line)", file.display());
    }
    let store = open_for_writing(dir, "POST /api/v1/offers/NAME/codes")?;
    let Some((offer, _)) = store.offer(name).await? else {
        bail!("no offer named `{name}`; define it first with `herald offers put {name}`");
    };
    if offer.pattern.is_some() {
        bail!(
            "offer `{name}` makes its codes from a pattern; imported codes need an offer without one"
        );
    }
    let added = store.add_coupon_codes(name, codes).await?;
    eprintln!("added {added} code(s) to `{name}`");
    print_offer(store.as_ref(), name).await?;
    store.close().await?;
    Ok(())
}
