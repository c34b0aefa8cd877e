//! Rendering a compiled template for one person.
//!
//! The [`Context`] is what a template can read: `profile` (id, user_id, traits, segments),
//! `event` (the triggering event's properties), `journey` (name, key, items), `message` (id),
//! `links` (unsubscribe and preferences URLs, made by the caller) and any extra top-level objects
//! the caller adds (`shop`, `recommendations`, `offers`, ...). Segment blocks are plain Liquid:
//! `{% if profile.segments contains "loyal_customers" %}`.

use crate::model::{Channel, Content, Template};
use crate::value::{List, Map, Node, Root};
use crate::{ContentError, html_to_text};
use serde::{Deserialize, Serialize};
use serde_json::{Map as JsonMap, Value as Json};
use std::collections::BTreeMap;

/// The person the message is for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileContext {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub traits: JsonMap<String, Json>,
    /// Names of the segments the person is in now.
    #[serde(default)]
    pub segments: Vec<String>,
}

/// The journey sending the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JourneyContext {
    pub name: String,
    /// The journey's key for this run (e.g. the cart id), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What the run is about, e.g. the cart's items (each an object: name, price, url, ...).
    #[serde(default)]
    pub items: Vec<Json>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    pub id: String,
}

/// Per-message links the caller signs; templates only place them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Links {
    pub unsubscribe_url: String,
    pub preferences_url: String,
}

/// Everything a template can read. `extra` holds other top-level objects (`shop`,
/// `recommendations`, `offers`, ...), flattened beside the others in JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub profile: ProfileContext,
    #[serde(default)]
    pub event: JsonMap<String, Json>,
    #[serde(default)]
    pub journey: JourneyContext,
    #[serde(default)]
    pub message: MessageContext,
    #[serde(default)]
    pub links: Links,
    #[serde(flatten)]
    pub extra: JsonMap<String, Json>,
}

impl Context {
    /// The values templates see. The fixed objects win over extras of the same name.
    pub fn globals(&self) -> Root {
        let mut root = Map::from_json(&self.extra);
        let p = &self.profile;
        let mut profile = Map::default();
        profile.insert("id", Node::string(&p.id));
        profile.insert(
            "user_id",
            p.user_id.as_ref().map_or(Node::Absent, Node::string),
        );
        profile.insert("traits", Node::Map(Map::from_json(&p.traits)));
        profile.insert(
            "segments",
            Node::List(List(p.segments.iter().map(Node::string).collect())),
        );
        root.insert("profile", Node::Map(profile));
        root.insert("event", Node::Map(Map::from_json(&self.event)));
        let j = &self.journey;
        let mut journey = Map::default();
        journey.insert("name", Node::string(&j.name));
        journey.insert("key", j.key.as_ref().map_or(Node::Absent, Node::string));
        journey.insert(
            "items",
            Node::List(List(j.items.iter().map(Node::from_json).collect())),
        );
        root.insert("journey", Node::Map(journey));
        let mut message = Map::default();
        message.insert("id", Node::string(&self.message.id));
        root.insert("message", Node::Map(message));
        let mut links = Map::default();
        links.insert("unsubscribe_url", Node::string(&self.links.unsubscribe_url));
        links.insert("preferences_url", Node::string(&self.links.preferences_url));
        root.insert("links", Node::Map(links));
        Root(root)
    }
}

/// A rendered message, ready for a channel adapter. In JSON the channel is the `channel` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Rendered {
    Email {
        subject: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preheader: Option<String>,
        html: String,
        text: String,
    },
    Sms {
        body: String,
    },
    Push {
        title: String,
        body: String,
        data: BTreeMap<String, String>,
    },
    Webhook {
        /// Checked to be JSON.
        body: String,
    },
}

impl Rendered {
    pub fn channel(&self) -> Channel {
        match self {
            Rendered::Email { .. } => Channel::Email,
            Rendered::Sms { .. } => Channel::Sms,
            Rendered::Push { .. } => Channel::Push,
            Rendered::Webhook { .. } => Channel::Webhook,
        }
    }
}

/// Renders `template` for the person and moment described by `context`.
pub fn render(template: &Template, context: &Context) -> Result<Rendered, ContentError> {
    let root = context.globals();
    render_with(template, &root)
}

/// Renders with globals already built, for callers that send several templates to one person.
pub fn render_with(template: &Template, root: &Root) -> Result<Rendered, ContentError> {
    let parts = template.content().parts();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    for ((part, _), compiled) in parts.iter().zip(template.compiled()) {
        let text = crate::engine::render(compiled, root).map_err(|e| ContentError::Render {
            template: template.name().to_owned(),
            channel: template.channel(),
            part: part.clone(),
            message: e.to_string().replace('\n', " "),
            hint: "check the filter arguments in this part; missing variables are fine, \
                   bad formats are not"
                .into(),
        })?;
        out.push(text);
    }
    let mut out = out.into_iter();
    let mut next = || out.next().unwrap_or_default();
    Ok(match template.content() {
        Content::Email(e) => {
            let subject = one_line(&next());
            let preheader = e.preheader.as_ref().map(|_| one_line(&next()));
            let html = next();
            let text = match &e.text {
                Some(_) => tidy_text(&next()),
                None => html_to_text(&html),
            };
            Rendered::Email {
                subject,
                preheader,
                html,
                text,
            }
        }
        Content::Sms(_) => Rendered::Sms {
            body: tidy_text(&next()),
        },
        Content::Push(p) => {
            let title = one_line(&next());
            let body = tidy_text(&next());
            let data = p.data.keys().map(|k| (k.clone(), next())).collect();
            Rendered::Push { title, body, data }
        }
        Content::Webhook(_) => {
            let body = next();
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
                return Err(ContentError::Render {
                    template: template.name().to_owned(),
                    channel: Channel::Webhook,
                    part: "body".into(),
                    message: format!("the body is not JSON: {e}"),
                    hint: "write values with the `json` filter (`{{ profile.id | json }}`), \
                           which quotes and escapes them"
                        .into(),
                });
            }
            Rendered::Webhook { body }
        }
    })
}

/// Subjects and titles are one line however the template was laid out.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Liquid tags leave blank lines and trailing spaces behind; keep at most one blank line.
fn tidy_text(s: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in s.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}
