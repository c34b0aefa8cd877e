//! Message delivery: personalised emails rendered and handed to a local SMTP server, and
//! tracking hits.
//!
//! A fresh store gets `--messages` people (email, first name, city, plan), the template library,
//! and one queued `welcome_1` per person, as journeys would queue them. The dispatcher then drains
//! the queue into an SMTP server on loopback: each message's consent, suppression, segment and
//! recent-event reads, the Liquid render, link rewriting and the open pixel, MIME, optional DKIM
//! (`--dkim none|ed25519|rsa`), the SMTP transaction over pooled connections, and the commit of
//! outcomes with their `Email Delivered` events. The SMTP server is a minimal one of this binary's
//! own, so that what is measured is Herald and not the receiver.
//!
//! Then `--hits` open-pixel requests (from `--clients` concurrent clients) go to `herald-server`
//! over HTTP; each verifies its token, finds the message and appends an `Email Opened` event.
//! Prints JSON.

use anyhow::Context;
use clap::Parser;
use herald_channels::email::{DkimSigner, SmtpConfig, SmtpSender};
use herald_core::credentials::Secret;
use herald_core::links::{LinkKey, LinkPurpose, LinkToken};
use herald_core::{Channel, ProfileId, Timestamp};
use herald_merchandising::{Merchandiser, Recommender};
use herald_messages::compose::Sender;
use herald_messages::delivery::{Dispatcher, Lane, Policy};
use herald_store::{JourneyCommit, NewStore, OutboxMessage, OutboxStatus, Store};
use herald_store_sqlite::{Access, SqliteStore};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// `none`, `ed25519` or `rsa` (2048-bit; keys made with the openssl CLI).
    #[arg(long, default_value = "none")]
    dkim: String,
    /// SMTP connections.
    #[arg(long, default_value_t = 8)]
    pool: usize,
    /// Open-pixel requests.
    #[arg(long, default_value_t = 20_000)]
    hits: usize,
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// `welcome_1` (traits only), or `recommendations`: four "recommended for you" products per
    /// email from a 500-product catalog and a model over six product views per person.
    #[arg(long, default_value = "welcome_1")]
    template: String,
}

/// Accepts everything, counts messages.
async fn smtp_sink(count: Arc<AtomicU64>) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                let mut line = Vec::new();
                if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                    return;
                }
                loop {
                    line.clear();
                    match lines.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let verb =
                        String::from_utf8_lossy(&line[..line.len().min(4)]).to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                        "DATA" => {
                            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                                return;
                            }
                            loop {
                                line.clear();
                                match lines.read_until(b'\n', &mut line).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(_) if line == b".\r\n" => break,
                                    Ok(_) => {}
                                }
                            }
                            count.fetch_add(1, Ordering::Relaxed);
                            b"250 2.0.0 Ok: queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 OK\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

fn dkim(kind: &str, dir: &std::path::Path) -> anyhow::Result<Option<DkimSigner>> {
    let args: &[&str] = match kind {
        "none" => return Ok(None),
        "ed25519" => &["genpkey", "-algorithm", "ed25519"],
        "rsa" => &["genrsa", "2048"],
        other => anyhow::bail!("--dkim must be none, ed25519 or rsa, not {other}"),
    };
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("openssl")?;
    let pem = String::from_utf8(out.stdout)?;
    Ok(Some(DkimSigner::from_pem("shop.example", "bench", &pem)?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tmp = tempfile_dir()?;
    SqliteStore::create(
        &tmp,
        &NewStore {
            write_key: Secret::new("bench-key"),
            admin_token: Secret::new("bench-admin"),
        },
    )?;
    let store = Arc::new(SqliteStore::open(&tmp, Access::ReadWrite)?);
    let dyn_store: Arc<dyn Store> = store.clone();
    let now = Timestamp::now();

    // People, templates, and one queued message each.
    let source = store.named_source("bench").await?;
    let cities = ["Paris", "Lyon", "Berlin", "Austin", "Osaka"];
    for chunk in (0..args.messages).collect::<Vec<_>>().chunks(5_000) {
        let msgs = chunk
            .iter()
            .map(|i| {
                let line = json!({"type": "identify", "userId": format!("u{i}"), "messageId": format!("id-{i}"),
                    "traits": {"email": format!("u{i}@example.com"), "first_name": format!("Name{i}"),
                               "city": cities[i % cities.len()], "plan": if i % 3 == 0 { "pro" } else { "free" }}});
                herald_core::parse::parse_line(&line.to_string(), now, &mut || unreachable!())
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        store.append(source, msgs).await?;
    }
    herald_messages::templates::apply(store.as_ref(), &herald_content::library(), false, now)
        .await?;
    let recommending = match args.template.as_str() {
        "welcome_1" => false,
        "recommendations" => true,
        other => anyhow::bail!("--template must be welcome_1 or recommendations, not {other}"),
    };
    if recommending {
        shop(store.as_ref(), source, args.messages, now).await?;
    }
    let ids: Vec<ProfileId> = {
        let mut v = Vec::with_capacity(args.messages);
        for i in 0..args.messages {
            v.push(store.resolve(&format!("u{i}")).await?.context("profile")?);
        }
        v
    };
    for chunk in ids.chunks(5_000) {
        let messages = chunk
            .iter()
            .map(|p| OutboxMessage {
                seq: 0,
                id: format!("welcome_series.1.{p}.0"),
                profile: *p,
                journey: "welcome_series".into(),
                template: args.template.clone(),
                version: 1,
                instance: p.to_string(),
                step: 0,
                channel: "email".into(),
                class: "marketing".into(),
                status: OutboxStatus::Queued,
                reason: None,
                context: json!({"key": null, "trigger": {"source": "bench"}}),
                created_at: now,
                delivery: None,
            })
            .collect();
        store
            .commit_journeys(JourneyCommit {
                messages,
                ..Default::default()
            })
            .await?;
    }

    let received = Arc::new(AtomicU64::new(0));
    let port = smtp_sink(received.clone()).await?;
    let signer = dkim(&args.dkim, &tmp)?;
    let smtp = SmtpSender::new(
        SmtpConfig::parse(&format!(
            "smtp://127.0.0.1:{port}?tls=none&pool={}",
            args.pool
        ))?,
        signer,
    )?;
    let mut lanes = HashMap::new();
    lanes.insert(
        Channel::Email,
        Lane::new(Arc::new(smtp), args.pool * 4, None),
    );
    let sender = Sender {
        public_url: "https://herald.example.com".into(),
        email_from: "Shop <news@shop.example>".into(),
        message_domain: "shop.example".into(),
        track: true,
        extra: json!({"shop": {"name": "Acme", "url": "https://shop.example"}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };
    let mut dispatcher =
        Dispatcher::new(dyn_store.clone(), lanes, sender, Policy::default()).await?;
    let mut model_seconds = 0.0;
    if recommending {
        let started = Instant::now();
        let recommender = Recommender::load(store.as_ref(), Default::default(), &|_, _| {}).await?;
        model_seconds = started.elapsed().as_secs_f64();
        let four = recommender.read(|m| m.for_you(ids[0], now, 4).items.len());
        anyhow::ensure!(four == 4, "the model recommends {four} products, not 4");
        dispatcher = dispatcher
            .with_merchandise(Arc::new(Merchandiser::new(dyn_store.clone(), recommender)));
    }
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        let r = dispatcher.round(Timestamp::now()).await?;
        if r.claimed == 0 {
            break;
        }
        anyhow::ensure!(r.failed == 0 && r.retried == 0, "delivery failed: {r:?}");
        rounds += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let got = received.load(Ordering::Relaxed);
    anyhow::ensure!(
        got as usize == args.messages,
        "the sink got {got} of {}",
        args.messages
    );

    // Tracking: open pixels over HTTP.
    let key = LinkKey::new(store.link_key().await?);
    let tokens: Vec<String> = ids
        .iter()
        .cycle()
        .take(args.hits)
        .map(|p| {
            key.sign(&LinkToken {
                purpose: LinkPurpose::Open,
                message_id: format!("welcome_series.1.{p}.0"),
                link: None,
                url: None,
            })
            .expect("a token")
        })
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(herald_server::launch_with_tcp_listener(
        herald_server::AppState::new(dyn_store),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let client = herald_channels::http::client_builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicU64::new(0));
    let started_hits = Instant::now();
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let (client, tokens, next, base) =
                (client.clone(), tokens.clone(), next.clone(), base.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(t) = tokens.get(i) else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    let r = client.get(format!("{base}/t/o/{t}")).send().await?;
                    anyhow::ensure!(r.status() == 200, "open answered {}", r.status());
                    r.bytes().await?;
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    let hit_seconds = started_hits.elapsed().as_secs_f64();
    let _ = stop.send(());
    server.await??;

    println!(
        "{}",
        json!({
            "messages": args.messages,
            "dkim": args.dkim,
            "template": args.template,
            "model_build_seconds": model_seconds,
            "pool": args.pool,
            "rounds": rounds,
            "seconds": seconds,
            "messages_per_second": args.messages as f64 / seconds,
            "tracking_hits": args.hits,
            "tracking_clients": args.clients,
            "tracking_seconds": hit_seconds,
            "tracking_hits_per_second": args.hits as f64 / hit_seconds,
        })
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("herald-delivery-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The generator's catalog, and six product views per person in one of its categories, so that
/// every person has "recommended for you" products.
async fn shop(
    store: &SqliteStore,
    source: herald_core::SourceId,
    people: usize,
    now: Timestamp,
) -> anyhow::Result<()> {
    let products = herald_generate::catalog(1);
    let items = products
        .iter()
        .map(|p| herald_catalog::Item {
            product_id: p.id.clone(),
            name: Some(p.name.clone()),
            url: Some(p.url.clone()),
            image_url: Some(p.image_url.clone()),
            price: Some(p.price),
            currency: Some("USD".into()),
            category: Some(p.category.clone()),
            brand: Some(p.brand.clone()),
            stock: Some(p.stock.max(1)),
            attributes: Default::default(),
            updated_at: now,
        })
        .collect();
    store
        .commit_catalog(herald_store::CatalogCommit {
            items,
            events: Vec::new(),
        })
        .await?;
    let per_category = products.len() / 8;
    for chunk in (0..people).collect::<Vec<_>>().chunks(2_000) {
        let mut msgs = Vec::new();
        for &i in chunk {
            let category = i % 8;
            for k in 0..6 {
                let p = &products[category * per_category + (i * 7 + k * 13) % per_category];
                let line = json!({"type": "track", "userId": format!("u{i}"), "event": "Product Viewed",
                    "messageId": format!("view-{i}-{k}"), "timestamp": (now - jiff::SignedDuration::from_hours(k as i64 + 1)).to_string(),
                    "properties": {"product_id": p.id, "name": p.name, "price": p.price, "category": p.category}});
                msgs.push(
                    herald_core::parse::parse_line(&line.to_string(), now, &mut || unreachable!())
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                );
            }
        }
        store.append(source, msgs).await?;
    }
    Ok(())
}
