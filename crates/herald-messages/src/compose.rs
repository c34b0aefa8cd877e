//! Composing a queued message for one person: where it goes, what it says, and the signed links
//! it carries.
//!
//! Composition is pure: it takes the outbox message, the person (traits, segments, recent
//! events), the live templates and the sender's settings, and gives an [`Outgoing`] message for
//! a channel client, or the reason there is nothing to send ([`Unsendable`]). In email HTML,
//! every `http(s)` link of an `<a href>` becomes a signed click redirect and an open pixel is
//! added; links to Herald's own pages (unsubscribe, preferences) stay as they are. Marketing
//! email carries RFC 8058 one-click unsubscribe headers.

use crate::templates::links;
use herald_channels::email::{Email, ListUnsubscribe};
use herald_channels::push::{Platform, Push};
use herald_channels::sms::Sms;
use herald_channels::webhook::Webhook;
use herald_content::{
    Context, JourneyContext, MessageContext, ProfileContext, Rendered, TemplateSet,
};
use herald_core::consent::MessageClass;
use herald_core::links::{LinkKey, LinkPurpose, LinkToken};
use herald_core::{Channel, StoredEvent, Timestamp};
use herald_store::{OutboxMessage, Profile};
use serde_json::{Map, Value, json};

/// What the sender says about itself.
#[derive(Clone, Debug)]
pub struct Sender {
    /// Base of tracking, unsubscribe and preference links, e.g. `https://herald.example.com`.
    pub public_url: String,
    /// `From:` of email, e.g. `Shop <news@shop.example>`.
    pub email_from: String,
    /// The domain of `Message-ID`s.
    pub message_domain: String,
    /// Whether to rewrite links and add the open pixel.
    pub track: bool,
    /// Top-level objects every template can read, e.g. `shop` (name, url, address).
    pub extra: Map<String, Value>,
}

/// A message ready for its channel's client.
#[derive(Clone, Debug)]
pub enum Outgoing {
    Email(Email),
    Sms(Sms),
    /// One notification per device of the person.
    Push(Vec<Device>),
    Webhook(Webhook),
}

/// A push notification for one device.
#[derive(Clone, Debug)]
pub struct Device {
    pub platform: Platform,
    pub push: Push,
}

impl Outgoing {
    /// The address it goes to, as the delivery records it.
    pub fn address(&self) -> String {
        match self {
            Outgoing::Email(e) => e.to.clone(),
            Outgoing::Sms(s) => s.to.clone(),
            Outgoing::Push(p) => p
                .iter()
                .map(|d| d.push.token.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Outgoing::Webhook(w) => w.url.clone(),
        }
    }
}

/// Why a message cannot be composed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsendable {
    /// The person has no address on the channel: suppressed.
    NoAddress(String),
    /// The template is missing or does not render: a permanent failure.
    Broken(String),
}

/// A person's email address from their traits, lowercased, if it looks like one.
pub fn email_address(traits: &Map<String, Value>) -> Option<String> {
    let e = traits.get("email")?.as_str()?.trim().to_ascii_lowercase();
    let (local, domain) = e.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !e.contains(char::is_whitespace)).then_some(e)
}

/// A person's phone number in E.164 form (`+` and 8 to 15 digits), from `phone`.
pub fn phone_number(traits: &Map<String, Value>) -> Option<String> {
    let raw = traits.get("phone")?.as_str()?;
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    (raw.trim_start().starts_with('+') && (8..=15).contains(&digits.len()))
        .then(|| format!("+{digits}"))
}

/// A person's push devices: `devices` (a list of objects with `token` and `platform`, `ios` or
/// `android`) and `push_token` (with `push_platform`); Android when the platform is not given.
pub fn push_tokens(traits: &Map<String, Value>) -> Vec<(String, Platform)> {
    let platform = |p: Option<&Value>| match p.and_then(Value::as_str) {
        Some(p) if p.eq_ignore_ascii_case("ios") => Platform::Ios,
        _ => Platform::Android,
    };
    let mut out: Vec<(String, Platform)> = Vec::new();
    let listed = traits
        .get("devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for d in listed {
        if let Some(t) = d.get("token").and_then(Value::as_str) {
            out.push((t.to_owned(), platform(d.get("platform"))));
        }
    }
    if let Some(t) = traits.get("push_token").and_then(Value::as_str) {
        out.push((t.to_owned(), platform(traits.get("push_platform"))));
    }
    out.retain(|(t, _)| !t.is_empty());
    let mut seen = std::collections::HashSet::new();
    out.retain(|(t, _)| seen.insert(t.clone()));
    out
}

/// The items a journey run is about: an order's `products`; the product of a trigger about one
/// (`Price Dropped`); or the cart's `Product Added` events (under the run's key when it has
/// one) not removed since, newest first.
pub fn journey_items(
    trigger: &Map<String, Value>,
    key: Option<&str>,
    recent: &[StoredEvent],
) -> Vec<Value> {
    if let Some(Value::Array(products)) = trigger.get("products") {
        return products.clone();
    }
    // A run about one product (`Price Dropped`, `Product Viewed`) rather than a cart.
    if trigger.contains_key("product_id") && !trigger.contains_key("cart_id") {
        return vec![Value::Object(trigger.clone())];
    }
    let mut removed: Vec<String> = Vec::new();
    let mut items = Vec::new();
    for e in recent {
        let name = e.name.as_deref().unwrap_or_default();
        if matches!(name, "Order Completed" | "Checkout Completed") && key.is_none() {
            break;
        }
        if name != "Product Added" && name != "Product Removed" {
            continue;
        }
        let Ok(body) = serde_json::from_str::<Value>(&e.body) else {
            continue;
        };
        let props = body.get("properties").cloned().unwrap_or(Value::Null);
        if let Some(k) = key
            && props.get("cart_id").and_then(Value::as_str) != Some(k)
        {
            continue;
        }
        let id = props
            .get("product_id")
            .or_else(|| props.get("sku"))
            .map(Value::to_string)
            .unwrap_or_default();
        if name == "Product Removed" {
            removed.push(id);
        } else if !removed.contains(&id)
            && !items
                .iter()
                .any(|i: &Value| i.get("product_id").map(Value::to_string) == Some(id.clone()))
        {
            items.push(props);
        }
        if items.len() >= 20 {
            break;
        }
    }
    items
}

/// What composing knows about the person beyond their profile; the dispatcher gathers only
/// what the template reads.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub segments: Vec<String>,
    /// The items the message is about ([`journey_items`]), brought up to date with the catalog
    /// when a shop is configured.
    pub items: Vec<Value>,
    /// Top-level objects beside the sender's (`recommendations`, `offers`).
    pub extra: Map<String, Value>,
}

/// The trigger event's properties of a queued message.
pub fn trigger(message: &OutboxMessage) -> Map<String, Value> {
    message
        .context
        .get("trigger")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Turns one outbox message into what its channel's client sends.
pub fn compose(
    message: &OutboxMessage,
    profile: &Profile,
    facts: Facts,
    templates: &TemplateSet,
    key: &LinkKey,
    sender: &Sender,
    now: Timestamp,
) -> Result<Outgoing, Unsendable> {
    let channel = Channel::parse(&message.channel)
        .ok_or_else(|| Unsendable::Broken(format!("unknown channel `{}`", message.channel)))?;
    let trigger = trigger(message);
    let run_key = message.context.get("key").and_then(Value::as_str);
    if channel == Channel::Webhook {
        return Ok(Outgoing::Webhook(Webhook {
            id: message.id.clone(),
            url: message.template.clone(),
            body: json!({
                "type": "journey.webhook",
                "timestamp": now.to_string(),
                "data": {
                    "message_id": message.id,
                    "journey": message.journey,
                    "step": message.step,
                    "key": run_key,
                    "profile": {
                        "user_id": profile.user_id,
                        "anonymous_ids": profile.anonymous_ids,
                        "traits": profile.traits,
                    },
                    "trigger": trigger,
                }
            }),
        }));
    }
    let address = match channel {
        Channel::Email => email_address(&profile.traits),
        Channel::Sms => phone_number(&profile.traits),
        _ => None,
    };
    let tokens = push_tokens(&profile.traits);
    match channel {
        Channel::Email | Channel::Sms if address.is_none() => {
            return Err(Unsendable::NoAddress(format!(
                "no {} for this person (trait `{}`)",
                if channel == Channel::Email {
                    "email address"
                } else {
                    "E.164 phone number"
                },
                if channel == Channel::Email {
                    "email"
                } else {
                    "phone"
                }
            )));
        }
        Channel::Push if tokens.is_empty() => {
            return Err(Unsendable::NoAddress(
                "no push token for this person (traits `devices` or `push_token`)".into(),
            ));
        }
        _ => {}
    }
    let template = templates.get(&message.template, channel).ok_or_else(|| {
        Unsendable::Broken(format!(
            "no live {channel} template named `{}`; apply one with `herald templates apply`",
            message.template
        ))
    })?;
    let signed = links(key, &sender.public_url, &message.id);
    let unsubscribe_url = signed.unsubscribe_url.clone();
    let context = Context {
        profile: ProfileContext {
            id: profile.id.to_string(),
            user_id: profile.user_id.clone(),
            traits: profile.traits.clone(),
            segments: facts.segments,
        },
        journey: JourneyContext {
            name: message.journey.clone(),
            key: run_key.map(str::to_owned),
            items: facts.items,
        },
        event: trigger,
        message: MessageContext {
            id: message.id.clone(),
        },
        links: signed,
        extra: {
            let mut extra = sender.extra.clone();
            extra.extend(facts.extra);
            extra
        },
    };
    let rendered = herald_content::render(template, &context)
        .map_err(|e| Unsendable::Broken(e.to_string()))?;
    Ok(match rendered {
        Rendered::Email {
            subject,
            html,
            text,
            ..
        } => {
            let html = if sender.track {
                track_html(&html, key, &sender.public_url, &message.id)
            } else {
                html
            };
            let marketing = MessageClass::parse(&message.class) == MessageClass::Marketing;
            Outgoing::Email(Email {
                message_id: format!("{}@{}", message.id, sender.message_domain),
                from: sender.email_from.clone(),
                to: address.unwrap_or_default(),
                reply_to: None,
                subject,
                html: Some(html),
                text,
                list_unsubscribe: marketing.then_some(ListUnsubscribe {
                    url: unsubscribe_url,
                    mailto: None,
                }),
                headers: vec![
                    ("X-Herald-Message".to_owned(), message.id.clone()),
                    ("X-Herald-Journey".to_owned(), message.journey.clone()),
                ],
            })
        }
        Rendered::Sms { body } => Outgoing::Sms(Sms {
            id: message.id.clone(),
            to: address.unwrap_or_default(),
            body,
        }),
        Rendered::Push { title, body, data } => {
            let data: Map<String, Value> = data
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .chain([("message_id".to_owned(), json!(message.id))])
                .collect();
            Outgoing::Push(
                tokens
                    .into_iter()
                    .map(|(token, platform)| Device {
                        platform,
                        push: Push {
                            id: message.id.clone(),
                            token,
                            title: title.clone(),
                            body: body.clone(),
                            data: data.clone(),
                        },
                    })
                    .collect(),
            )
        }
        Rendered::Webhook { body } => Outgoing::Webhook(Webhook {
            id: message.id.clone(),
            url: message.template.clone(),
            body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
        }),
    })
}

/// Rewrites an email's links as signed click redirects and adds the open pixel.
pub fn track_html(html: &str, key: &LinkKey, public_url: &str, message_id: &str) -> String {
    let base = public_url.trim_end_matches('/');
    let mut out = String::with_capacity(html.len() + 512);
    // Lowercased once: tags and attributes are found case-insensitively, and ASCII lowercasing
    // keeps every byte offset.
    let lower = html.to_ascii_lowercase();
    let mut done = 0;
    let mut index = 0u32;
    while let Some(at) = find_anchor_href(&lower, done) {
        out.push_str(&html[done..at.value_start]);
        let value = &html[at.value_start..at.value_start + at.value_len];
        let url = unescape(value);
        let own = url.starts_with(base);
        let web = url.starts_with("https://") || url.starts_with("http://");
        let token = (web && !own)
            .then(|| {
                key.sign(&LinkToken {
                    purpose: LinkPurpose::Click,
                    message_id: message_id.to_owned(),
                    link: Some(index),
                    url: Some(url.clone()),
                })
                .ok()
            })
            .flatten();
        match token {
            Some(t) => {
                out.push_str(&format!("{base}/t/c/{t}"));
                index += 1;
            }
            None => out.push_str(value),
        }
        done = at.value_start + at.value_len;
    }
    out.push_str(&html[done..]);
    let pixel = key
        .sign(&LinkToken {
            purpose: LinkPurpose::Open,
            message_id: message_id.to_owned(),
            link: None,
            url: None,
        })
        .map(|t| {
            format!(
                r#"<img src="{base}/t/o/{t}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">"#
            )
        })
        .unwrap_or_default();
    match out.to_ascii_lowercase().rfind("</body>") {
        Some(i) => out.insert_str(i, &pixel),
        None => out.push_str(&pixel),
    }
    out
}

struct HrefAt {
    value_start: usize,
    value_len: usize,
}

/// The next `href` value of an `<a` tag at or after `from` in `lower` (the lowercased HTML):
/// where it starts and how long it is.
fn find_anchor_href(lower: &str, from: usize) -> Option<HrefAt> {
    let mut from = from;
    loop {
        let tag = from + lower[from..].find("<a")?;
        let next = lower.as_bytes().get(tag + 2).copied();
        let end = tag + lower[tag..].find('>')?;
        if !matches!(next, Some(b' ' | b'\t' | b'\n' | b'\r')) {
            from = tag + 2;
            continue;
        }
        let attrs = &lower[tag..end];
        if let Some(h) = attrs.find("href") {
            let mut i = tag + h + 4;
            let bytes = lower.as_bytes();
            while i < end && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < end && bytes[i] == b'=' {
                i += 1;
                while i < end && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                let quote = bytes[i];
                if quote == b'"' || quote == b'\'' {
                    let start = i + 1;
                    if let Some(len) = lower[start..end].find(quote as char) {
                        return Some(HrefAt {
                            value_start: start,
                            value_len: len,
                        });
                    }
                }
            }
        }
        from = end;
    }
}

/// Undoes the HTML escapes a URL in an attribute may carry.
fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LinkKey {
        LinkKey::new([7; 32])
    }

    #[test]
    fn rewrites_web_links_and_adds_the_pixel() {
        let html = r#"<html><body><p><a href="https://shop.example/a?x=1&amp;y=2">A</a>
            <A class="b" HREF = 'http://shop.example/b'>B</A>
            <a href="mailto:help@shop.example">mail</a>
            <a href="https://herald.example/u/TOKEN">unsubscribe</a>
            <abbr title="x">no</abbr></p></body></html>"#;
        let out = track_html(html, &key(), "https://herald.example/", "m-1");
        let clicks: Vec<&str> = out
            .match_indices("https://herald.example/t/c/")
            .map(|(i, _)| &out[i..])
            .collect();
        assert_eq!(clicks.len(), 2, "{out}");
        let token = |s: &str| {
            s["https://herald.example/t/c/".len()..]
                .split(['"', '\''])
                .next()
                .unwrap()
                .to_owned()
        };
        let first = key().verify(&token(clicks[0])).unwrap();
        assert_eq!(first.url.as_deref(), Some("https://shop.example/a?x=1&y=2"));
        assert_eq!(first.link, Some(0));
        let second = key().verify(&token(clicks[1])).unwrap();
        assert_eq!(second.url.as_deref(), Some("http://shop.example/b"));
        assert_eq!(second.link, Some(1));
        assert!(out.contains("mailto:help@shop.example"));
        assert!(out.contains("https://herald.example/u/TOKEN"));
        let pixel = out.find("https://herald.example/t/o/").unwrap();
        assert!(pixel < out.find("</body>").unwrap());
    }

    #[test]
    fn addresses_are_checked() {
        let t = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            email_address(&t(json!({"email": " Ann@Example.COM "}))).as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(email_address(&t(json!({"email": "not an email"}))), None);
        assert_eq!(
            phone_number(&t(json!({"phone": "+1 (415) 555-0100"}))).as_deref(),
            Some("+14155550100")
        );
        assert_eq!(phone_number(&t(json!({"phone": "415 555 0100"}))), None);
        assert_eq!(
            push_tokens(&t(
                json!({"devices": [{"token": "a", "platform": "ios"}, {"x": 1}], "push_token": "b"})
            )),
            vec![
                ("a".to_owned(), Platform::Ios),
                ("b".to_owned(), Platform::Android)
            ]
        );
    }
}
