//! Delivery settings: a TOML file (`HERALD_CONFIG`, else `herald.toml` in the data directory
//! when it exists) with the environment overriding it, turned into the channel clients.
//!
//! A channel without settings has no client, and its messages wait in the outbox; that is the
//! demo's default. Secrets (SMTP password in the URL, Twilio's auth token, the webhook secret,
//! key files) can be given as `*_FILE` variables or file paths, and never reach logs: every
//! client's `Debug` hides them.
//!
//! ```toml
//! public_url = "https://herald.example.com"
//! [email]
//! smtp_url = "smtp+starttls://user:pass@smtp.example.com:587?pool=8"
//! from = "Shop <news@shop.example>"
//! dkim_domain = "shop.example"
//! dkim_selector = "herald"
//! dkim_key_file = "/etc/herald/dkim.pem"
//! concurrency = 8     # messages in flight (default: twice the SMTP pool)
//! rate = 100          # messages per second (absent: no limit)
//! [sms]
//! twilio_url = "https://api.twilio.com"
//! twilio_account_sid = "AC..."
//! twilio_auth_token_file = "/run/secrets/twilio"
//! twilio_from = "+15005550006"
//! [push]
//! fcm_credentials_file = "/etc/herald/firebase.json"
//! apns_key_file = "/etc/herald/AuthKey.p8"
//! apns_key_id = "ABC123DEFG"
//! apns_team_id = "DEF123GHIJ"
//! apns_topic = "com.example.shop"
//! [webhook]
//! secret_file = "/run/secrets/webhook"
//! [shop]              # what templates read as `shop`
//! name = "Acme"
//! url = "https://shop.example"
//! [delivery]
//! max_attempts = 8
//! backoff_seconds = 30
//! max_age_hours = 72
//! ```

use anyhow::{Context, bail};
use herald_channels::email::{DkimSigner, SmtpConfig, SmtpSender};
use herald_channels::push::apns::{Apns, ApnsConfig};
use herald_channels::push::fcm::{Fcm, FcmConfig, ServiceAccount};
use herald_channels::sms::twilio::{Twilio, TwilioConfig};
use herald_channels::webhook::{WebhookSecret, WebhookSender};
use herald_core::Channel;
use herald_messages::compose::Sender;
use herald_messages::delivery::{Lane, Policy};
use herald_messages::transports::PushRouter;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub public_url: Option<String>,
    #[serde(default)]
    pub email: EmailFile,
    #[serde(default)]
    pub sms: SmsFile,
    #[serde(default)]
    pub push: PushFile,
    pub webhook: Option<WebhookFile>,
    #[serde(default)]
    pub delivery: DeliveryFile,
    /// What templates read as `shop` (name, url, support_email, address, ...).
    pub shop: Option<toml::Table>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailFile {
    pub smtp_url: Option<String>,
    pub from: Option<String>,
    pub dkim_domain: Option<String>,
    pub dkim_selector: Option<String>,
    pub dkim_key_file: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    /// Rewrite links and add the open pixel (default true).
    pub track: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsFile {
    pub twilio_url: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<String>,
    pub twilio_auth_token_file: Option<PathBuf>,
    pub twilio_from: Option<String>,
    pub twilio_messaging_service_sid: Option<String>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushFile {
    pub fcm_url: Option<String>,
    pub fcm_credentials_file: Option<PathBuf>,
    pub apns_url: Option<String>,
    pub apns_key_file: Option<PathBuf>,
    pub apns_key_id: Option<String>,
    pub apns_team_id: Option<String>,
    pub apns_topic: Option<String>,
    pub concurrency: Option<usize>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub concurrency: Option<usize>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFile {
    pub max_attempts: Option<u32>,
    pub backoff_seconds: Option<u64>,
    pub max_age_hours: Option<u64>,
}

/// Everything delivery needs, read and checked.
pub struct Delivery {
    pub sender: Sender,
    pub lanes: HashMap<Channel, Lane>,
    pub policy: Policy,
    pub twilio_auth_token: Option<Arc<str>>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A secret from `NAME`, else the file named by `NAME_FILE`, else the file setting, else the
/// inline setting.
fn secret(
    name: &str,
    file: &Option<PathBuf>,
    inline: &Option<String>,
) -> anyhow::Result<Option<String>> {
    if let Some(v) = env(name) {
        return Ok(Some(v));
    }
    let path = env(&format!("{name}_FILE"))
        .map(PathBuf::from)
        .or(file.clone());
    if let Some(p) = path {
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("could not read {} (for {name})", p.display()))?;
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(inline.clone())
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("could not read the {what} {}", path.display()))
}

/// Reads the configuration file: `HERALD_CONFIG`, else `herald.toml` in `dir` if present.
pub fn load_file(dir: &Path) -> anyhow::Result<File> {
    let path = match env("HERALD_CONFIG") {
        Some(p) => PathBuf::from(p),
        None => {
            let p = dir.join("herald.toml");
            if !p.exists() {
                return Ok(File::default());
            }
            p
        }
    };
    let text = read(&path, "configuration file")?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The base of links in messages: `HERALD_PUBLIC_URL`, the file's `public_url`, else the default
/// listen address.
pub fn public_url(file: &File) -> anyhow::Result<String> {
    let url = env("HERALD_PUBLIC_URL")
        .or(file.public_url.clone())
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!("HERALD_PUBLIC_URL must start with https:// (or http:// for local use), not `{url}`");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Builds the channel clients that have settings.
pub fn delivery(file: &File) -> anyhow::Result<Delivery> {
    let public_url = public_url(file)?;
    let mut lanes = HashMap::new();
    let e = &file.email;
    let from = env("HERALD_EMAIL_FROM").or(e.from.clone());
    let mut message_domain = "herald.invalid".to_owned();
    if let Some(url) = env("HERALD_SMTP_URL").or(e.smtp_url.clone()) {
        let config =
            SmtpConfig::parse(&url).map_err(|e| anyhow::anyhow!("HERALD_SMTP_URL: {e}"))?;
        let Some(from) = &from else {
            bail!(
                "HERALD_SMTP_URL is set but HERALD_EMAIL_FROM is not: set the From address, e.g. \"Shop <news@shop.example>\""
            );
        };
        message_domain = from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').trim().to_owned())
            .filter(|d| !d.is_empty())
            .unwrap_or(message_domain);
        let dkim = match (
            env("HERALD_DKIM_DOMAIN").or(e.dkim_domain.clone()),
            env("HERALD_DKIM_SELECTOR").or(e.dkim_selector.clone()),
            env("HERALD_DKIM_KEY_FILE")
                .map(PathBuf::from)
                .or(e.dkim_key_file.clone()),
        ) {
            (Some(domain), Some(selector), Some(key)) => {
                let pem = read(&key, "DKIM key")?;
                Some(
                    DkimSigner::from_pem(&domain, &selector, &pem).map_err(|e| {
                        anyhow::anyhow!("HERALD_DKIM_KEY_FILE {}: {e}", key.display())
                    })?,
                )
            }
            (None, None, None) => None,
            _ => bail!(
                "DKIM needs all three of HERALD_DKIM_DOMAIN, HERALD_DKIM_SELECTOR and HERALD_DKIM_KEY_FILE"
            ),
        };
        // Twice the connections, so that the next messages are composed while others send.
        let concurrency = e.concurrency.unwrap_or(2 * config.pool_size as usize);
        let smtp = SmtpSender::new(config, dkim).map_err(|e| anyhow::anyhow!("{e}"))?;
        lanes.insert(
            Channel::Email,
            Lane::new(Arc::new(smtp), concurrency, e.rate),
        );
    }
    let s = &file.sms;
    let twilio_token = secret(
        "HERALD_TWILIO_AUTH_TOKEN",
        &s.twilio_auth_token_file,
        &s.twilio_auth_token,
    )?;
    let twilio_url = env("HERALD_TWILIO_URL").or(s.twilio_url.clone());
    let twilio_sid = env("HERALD_TWILIO_ACCOUNT_SID").or(s.twilio_account_sid.clone());
    if twilio_url.is_some() || twilio_sid.is_some() {
        let (Some(sid), Some(token)) = (twilio_sid, twilio_token.clone()) else {
            bail!("Twilio needs HERALD_TWILIO_ACCOUNT_SID and HERALD_TWILIO_AUTH_TOKEN (or _FILE)");
        };
        let mut config = TwilioConfig::new(sid, token);
        if let Some(url) = twilio_url {
            config.base_url = url.trim_end_matches('/').to_owned();
        }
        config.from = env("HERALD_TWILIO_FROM").or(s.twilio_from.clone());
        config.messaging_service_sid = s.twilio_messaging_service_sid.clone();
        if config.from.is_none() && config.messaging_service_sid.is_none() {
            bail!(
                "Twilio needs a sender: HERALD_TWILIO_FROM (a Twilio number) or twilio_messaging_service_sid"
            );
        }
        config.status_callback = Some(format!("{public_url}/hooks/twilio/status"));
        lanes.insert(
            Channel::Sms,
            Lane::new(
                Arc::new(Twilio::new(config)),
                s.concurrency.unwrap_or(4),
                s.rate,
            ),
        );
    }
    let p = &file.push;
    let fcm = match env("HERALD_FCM_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or(p.fcm_credentials_file.clone())
    {
        Some(path) => {
            let account = ServiceAccount::from_json(&read(&path, "FCM service account")?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let mut config = FcmConfig::new(account);
            if let Some(url) = env("HERALD_FCM_URL").or(p.fcm_url.clone()) {
                config.base_url = url.trim_end_matches('/').to_owned();
            }
            Some(Fcm::new(config).map_err(|e| anyhow::anyhow!("FCM: {e}"))?)
        }
        None => None,
    };
    let apns = match env("HERALD_APNS_KEY_FILE")
        .map(PathBuf::from)
        .or(p.apns_key_file.clone())
    {
        Some(path) => {
            let need = |v: Option<String>, name: &str| {
                v.ok_or_else(|| anyhow::anyhow!("APNs needs {name} with HERALD_APNS_KEY_FILE"))
            };
            let mut config = ApnsConfig::new(
                read(&path, "APNs key")?,
                need(
                    env("HERALD_APNS_KEY_ID").or(p.apns_key_id.clone()),
                    "HERALD_APNS_KEY_ID",
                )?,
                need(
                    env("HERALD_APNS_TEAM_ID").or(p.apns_team_id.clone()),
                    "HERALD_APNS_TEAM_ID",
                )?,
                need(
                    env("HERALD_APNS_TOPIC").or(p.apns_topic.clone()),
                    "HERALD_APNS_TOPIC",
                )?,
            );
            if let Some(url) = env("HERALD_APNS_URL").or(p.apns_url.clone()) {
                config.base_url = url.trim_end_matches('/').to_owned();
            }
            Some(Apns::new(config).map_err(|e| anyhow::anyhow!("APNs: {e}"))?)
        }
        None => None,
    };
    if fcm.is_some() || apns.is_some() {
        lanes.insert(
            Channel::Push,
            Lane::new(
                Arc::new(PushRouter { fcm, apns }),
                p.concurrency.unwrap_or(8),
                None,
            ),
        );
    }
    let w = file.webhook.as_ref();
    let webhook_secret = secret(
        "HERALD_WEBHOOK_SECRET",
        &w.and_then(|w| w.secret_file.clone()),
        &w.and_then(|w| w.secret.clone()),
    )?;
    if w.is_some() || webhook_secret.is_some() {
        let secret = webhook_secret
            .map(|s| WebhookSecret::parse(&s))
            .transpose()
            .map_err(|e| anyhow::anyhow!("HERALD_WEBHOOK_SECRET: {e}"))?;
        lanes.insert(
            Channel::Webhook,
            Lane::new(
                Arc::new(WebhookSender::new(secret)),
                w.and_then(|w| w.concurrency).unwrap_or(8),
                None,
            ),
        );
    }
    let d = &file.delivery;
    let defaults = Policy::default();
    let policy = Policy {
        max_attempts: d.max_attempts.unwrap_or(defaults.max_attempts).max(1),
        backoff: d
            .backoff_seconds
            .map_or(defaults.backoff, Duration::from_secs),
        max_age: d
            .max_age_hours
            .map_or(defaults.max_age, |h| Duration::from_secs(h * 3600)),
        ..defaults
    };
    Ok(Delivery {
        sender: Sender {
            public_url,
            email_from: from.unwrap_or_else(|| "Herald <herald@localhost>".to_owned()),
            message_domain,
            track: e.track.unwrap_or(true),
            extra: match &file.shop {
                Some(shop) => {
                    let mut m = serde_json::Map::new();
                    m.insert("shop".into(), serde_json::to_value(shop)?);
                    m
                }
                None => serde_json::Map::new(),
            },
        },
        lanes,
        policy,
        twilio_auth_token: twilio_token.map(Arc::from),
    })
}
