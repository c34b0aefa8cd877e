//! `herald demo`: a shop in one command. Generates behaviour, ingests it through the import
//! pipeline (the same validation and store as HTTP), shows what is there, and serves.

use super::import::import_into;
use herald_core::Timestamp;
use herald_generate::{Generator, Options};
use herald_import::Format;
use herald_merchandising::{Recommender, catalog, personal};
use herald_segmenter::Segmenter;
use herald_segments::library;
use herald_store::Store;
use herald_store_sqlite::Access;
use std::collections::BTreeMap;
use std::io::{BufRead, Cursor};
use std::net::SocketAddr;
use std::path::Path;

pub async fn run(
    dir: &Path,
    listen: SocketAddr,
    profiles: u64,
    days: u32,
    seed: u64,
    no_serve: bool,
) -> anyhow::Result<()> {
    let fresh = !dir.join("herald.db").exists();
    let credentials = if fresh {
        Some(super::init::create(dir, None, None)?)
    } else {
        None
    };
    let store = super::open(dir, Access::ReadWrite)?;

    let opts = Options::new(profiles, days, seed, jiff::Timestamp::now());
    eprintln!("generating {profiles} shoppers over {days} days (seed {seed}) ...");
    let lines: Vec<String> = Generator::new(&opts).collect();
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    let mut sample_user = None;
    for line in &lines {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            let name = v
                .get("event")
                .and_then(|e| e.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    v.get("type")
                        .and_then(|t| t.as_str())
                        .unwrap_or("?")
                        .to_owned()
                });
            *by_name.entry(name).or_default() += 1;
            if sample_user.is_none() && v.get("type").and_then(|t| t.as_str()) == Some("identify") {
                sample_user = v.get("userId").and_then(|u| u.as_str()).map(str::to_owned);
            }
        }
    }
    let text = lines.join("\n");
    let len = text.len() as u64;
    let reader: Box<dyn BufRead + Send> = Box::new(Cursor::new(text.into_bytes()));
    let summary = import_into(store.clone(), reader, Format::Ndjson, Some(len)).await?;
    let stats = store.stats().await?;

    println!("Herald demo store: {}", dir.display());
    println!(
        "  ingested {} new events ({} already there)",
        summary.imported, summary.duplicates
    );
    println!(
        "  the store holds {} events of {} profiles",
        stats.events, stats.profiles
    );
    println!("  events by name:");
    let mut names: Vec<_> = by_name.into_iter().collect();
    names.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    for (name, count) in names.iter().take(20) {
        println!("    {count:>9}  {name}");
    }
    if let Some(user) = &sample_user
        && let Some(profile) = store.profile(user).await?
    {
        println!(
            "  a profile ({user}): {} events, traits {}",
            profile.event_count,
            serde_json::Value::Object(profile.traits)
        );
    }
    // The behavioral segment library, computed from everything just ingested.
    let mut segmenter = Segmenter::load(store.clone(), Timestamp::now()).await?;
    let mut definitions: Vec<_> = segmenter
        .definitions()
        .iter()
        .filter(|d| !library::library().iter().any(|l| l.name == d.name))
        .cloned()
        .collect();
    definitions.extend(library::library());
    let now = Timestamp::now();
    let plan = segmenter.plan(definitions, now).await?;
    segmenter.apply(plan, now).await?;
    println!("  segments (the library, exact as of now):");
    for (name, size) in store.segment_sizes().await? {
        println!("    {size:>9}  {name}");
    }
    // The journey library goes live now (history before it triggers nothing); a backtest of the
    // last 30 days shows what it would have done.
    let journeys = herald_journeys::library::library();
    let mut conductor =
        herald_conductor::Conductor::load(store.clone(), super::journeys::default_zone()?).await?;
    conductor.apply(&journeys, false, now).await?;
    let (_, summary) = herald_conductor::backtest::backtest(
        store.clone(),
        &journeys.journeys,
        journeys.rules.clone().unwrap_or_default(),
        conductor.zone().clone(),
        now - jiff::SignedDuration::from_hours(24 * 30),
        now,
    )
    .await?;
    herald_messages::templates::apply(store.as_ref(), &herald_content::library(), false, now)
        .await?;
    println!("  journeys (the library, live from now); a backtest of the last 30 days:");
    for (journey, entered) in &summary.entered {
        let sent: u64 = summary
            .sends
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{journey}/")))
            .map(|(_, n)| n)
            .sum();
        let goals = summary.goals.get(journey).copied().unwrap_or(0);
        println!("    {entered:>9} entered  {sent:>7} messages  {goals:>6} goals  {journey}");
    }
    shop(store.as_ref(), seed, sample_user.as_deref(), now).await?;
    match &credentials {
        Some(c) => {
            println!("  write key:   {}", c.write_key.expose());
            println!(
                "  admin token: {}   (shown once; only its hash is stored)",
                c.admin_token.expose()
            );
        }
        None => println!("  (existing store: use the credentials printed when it was created)"),
    }
    if no_serve {
        store.close().await?;
        return Ok(());
    }
    let token = credentials
        .as_ref()
        .map_or("<admin token>", |c| c.admin_token.expose());
    let user = sample_user.as_deref().unwrap_or("<user id>");
    println!(
        "  try:  curl -H 'Authorization: Bearer {token}' http://{listen}/api/v1/profiles/{user}"
    );
    println!(
        "        curl -H 'Authorization: Bearer {token}' http://{listen}/api/v1/profiles/{user}/segments"
    );
    println!("        curl -H 'Authorization: Bearer {token}' http://{listen}/api/v1/journeys");
    println!(
        "        curl -H 'Authorization: Bearer {token}' 'http://{listen}/api/v1/profiles/{user}/recommendations?n=4'"
    );
    super::serve::serve(store, dir, listen).await
}

/// The generated shop's catalog (with stock) and three offers, then a person's
/// recommendations.
async fn shop(
    store: &dyn Store,
    seed: u64,
    sample_user: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let items: Vec<herald_catalog::Item> = herald_generate::catalog(seed)
        .into_iter()
        .map(|p| herald_catalog::Item {
            product_id: p.id,
            name: Some(p.name),
            url: Some(p.url),
            image_url: Some(p.image_url),
            price: Some(p.price),
            currency: Some("USD".to_owned()),
            category: Some(p.category),
            brand: Some(p.brand),
            stock: Some(p.stock),
            attributes: Default::default(),
            updated_at: now,
        })
        .collect();
    let sold_out = items.iter().filter(|i| i.stock == Some(0)).count();
    let count = items.len();
    let recommender = Recommender::load(store, Default::default(), &|_, _| {}).await?;
    catalog::update(store, &recommender, items, now).await?;
    let offers = [
        (
            "cart",
            r#"{"pattern": "CART-{XXXXXX}", "valid_days": 7, "attributes": {"percent_off": 10}}"#,
        ),
        (
            "winback",
            r#"{"pattern": "COMEBACK-{XXXXXX}", "valid_days": 14, "attributes": {"percent_off": 15}}"#,
        ),
        (
            "restock",
            r#"{"valid_days": 10, "low_water": 50, "attributes": {"percent_off": 10}}"#,
        ),
    ];
    for (name, definition) in offers {
        let offer = herald_catalog::Offer::parse(name, &serde_json::from_str(definition)?)
            .map_err(|e| anyhow::anyhow!("demo offer {name}: {e}"))?;
        store.put_offer(offer).await?;
    }
    // An imported pool, as a shop's platform would export it.
    let codes = (0..200u64)
        .map(|i| {
            // splitmix64: the same codes for the same seed, so a second demo adds none.
            let mut z = (seed ^ 0x5EED).wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            format!("RESTOCK-{:08X}", (z ^ (z >> 31)) as u32)
        })
        .collect();
    store.add_coupon_codes("restock", codes).await?;
    println!("  catalog: {count} products ({sold_out} sold out); offers: cart, winback, restock");
    if let Some(user) = sample_user
        && let Some(profile) = store.resolve(user).await?
    {
        let recs = personal::for_you(store, &recommender, profile, 3, now).await?;
        let names: Vec<&str> = recs["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["name"].as_str())
            .collect();
        println!("  recommended for {user}: {}", names.join("; "));
    }
    Ok(())
}
