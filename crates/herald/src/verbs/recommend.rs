//! `herald recommend ID` and `herald recommend evaluate`.

use crate::cli::{RecommendArgs, RecommendCommand};
use crate::verbs::open;
use anyhow::bail;
use herald_core::Timestamp;
use herald_merchandising::{Recommender, history, personal};
use herald_recommend::{Settings, evaluate::evaluate};
use herald_store::Store;
use herald_store_sqlite::Access;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::Path;

pub async fn run(args: RecommendArgs) -> anyhow::Result<()> {
    match args.command {
        Some(RecommendCommand::Evaluate {
            data,
            holdout_days,
            at,
        }) => run_evaluation(&data.dir, holdout_days, at.as_deref()).await,
        None => {
            let id = args.id.unwrap_or_default();
            recommend(&id, &args.data.dir, args.n).await
        }
    }
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("similar items {bar:40} {pos}/{len} ({eta})")
            .expect("valid template"),
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

async fn recommend(id: &str, dir: &Path, n: usize) -> anyhow::Result<()> {
    if n == 0 || n > 100 {
        bail!("--n must be between 1 and 100");
    }
    let store = open(dir, Access::ReadOnly)?;
    let Some(profile) = store.resolve(id).await? else {
        bail!("nobody is known as `{id}` in {}", dir.display());
    };
    let b = bar();
    let progress = |done: u64, total: u64| {
        b.set_length(total);
        b.set_position(done);
    };
    let recommender = Recommender::load(store.as_ref(), Settings::default(), &progress).await?;
    b.finish_and_clear();
    let mut answer =
        personal::for_you(store.as_ref(), &recommender, profile, n, Timestamp::now()).await?;
    answer["profile"] = json!(id);
    println!("{answer}");
    Ok(())
}

async fn run_evaluation(dir: &Path, holdout_days: u32, at: Option<&str>) -> anyhow::Result<()> {
    if holdout_days == 0 || holdout_days > 3650 {
        bail!("--holdout-days must be between 1 and 3650");
    }
    let store = open(dir, Access::ReadOnly)?;
    let interactions = history::interactions(store.as_ref()).await?;
    let end = match at {
        Some(at) => at.parse::<Timestamp>().map_err(|e| {
            anyhow::anyhow!("--at `{at}` is not an RFC 3339 time like 2026-01-31T00:00:00Z: {e}")
        })?,
        None => match interactions.iter().map(|i| i.3).max() {
            Some(t) => t + jiff::SignedDuration::from_millis(1),
            None => bail!(
                "{} has no Product Viewed, Product Added or Order Completed events to learn from",
                dir.display()
            ),
        },
    };
    let holdout_start = end - jiff::SignedDuration::from_hours(24 * i64::from(holdout_days));
    let result = tokio::task::spawn_blocking(move || {
        evaluate(interactions, holdout_start, end, Settings::default())
    })
    .await?;
    let mut out = serde_json::to_value(&result)?;
    out["holdout_days"] = json!(holdout_days);
    println!("{out}");
    Ok(())
}
