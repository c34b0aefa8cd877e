//! Templates in the store: a new version whenever a template's definition changes, one live
//! version per name and channel, and previews rendered for a real person.

use crate::MessagesError;
use herald_content::{
    Channel, Context, Links, MessageContext, ProfileContext, Rendered, Template, TemplateSet,
};
use herald_core::Timestamp;
use herald_core::links::{LinkKey, LinkPurpose, LinkToken};
use herald_store::{Store, TemplateRecord};
use serde::Serialize;
use serde_json::{Map, Value};

/// What applying templates did (or would do) to one of them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TemplateChange {
    pub name: String,
    pub channel: String,
    /// `new`, `changed` or `unchanged`.
    pub status: &'static str,
    pub version: u32,
}

fn compile(r: &TemplateRecord) -> Result<Template, MessagesError> {
    serde_json::from_value(r.definition.clone()).map_err(|e| {
        MessagesError::Stored(format!(
            "template {} ({}) version {}: {e}",
            r.name, r.channel, r.version
        ))
    })
}

/// The live templates.
pub async fn live(store: &dyn Store) -> Result<TemplateSet, MessagesError> {
    let templates = store
        .template_records()
        .await?
        .iter()
        .filter(|r| r.live)
        .map(compile)
        .collect::<Result<Vec<_>, _>>()?;
    TemplateSet::new(templates).map_err(|e| MessagesError::Stored(e.to_string()))
}

/// Stores new versions of the templates whose definitions changed (the others, and templates
/// not named, are left alone); with `dry_run`, only says what would change.
pub async fn apply(
    store: &dyn Store,
    templates: &[Template],
    dry_run: bool,
    now: Timestamp,
) -> Result<Vec<TemplateChange>, MessagesError> {
    let stored = store.template_records().await?;
    let mut out = Vec::new();
    let mut records = Vec::new();
    for t in templates {
        let (name, channel) = (t.name(), t.channel().as_str());
        let definition = serde_json::to_value(t).expect("templates serialize");
        let versions: Vec<&TemplateRecord> = stored
            .iter()
            .filter(|r| r.name == name && r.channel == channel)
            .collect();
        let latest = versions.iter().map(|r| r.version).max().unwrap_or(0);
        let (status, version) = match versions.iter().find(|r| r.live) {
            Some(r) if r.definition == definition => ("unchanged", r.version),
            Some(_) => ("changed", latest + 1),
            None if latest > 0 => ("changed", latest + 1),
            None => ("new", 1),
        };
        if status != "unchanged" {
            records.push(TemplateRecord {
                name: name.to_owned(),
                channel: channel.to_owned(),
                version,
                definition,
                live: true,
                created_at: now,
            });
        }
        out.push(TemplateChange {
            name: name.to_owned(),
            channel: channel.to_owned(),
            status,
            version,
        });
    }
    if !dry_run && !records.is_empty() {
        store.commit_templates(records).await?;
    }
    Ok(out)
}

/// The signed links a message to a person carries, under `public_url` (e.g.
/// `https://herald.example.com`).
pub fn links(key: &LinkKey, public_url: &str, message_id: &str) -> Links {
    let url = |purpose, path: &str| {
        let token = key
            .sign(&LinkToken {
                purpose,
                message_id: message_id.to_owned(),
                link: None,
                url: None,
            })
            .unwrap_or_default();
        format!("{}/{path}/{token}", public_url.trim_end_matches('/'))
    };
    Links {
        unsubscribe_url: url(LinkPurpose::Unsubscribe, "u"),
        preferences_url: url(LinkPurpose::Preferences, "p"),
    }
}

/// Renders a live template for a real person (`id`: a `userId` or `anonymousId`), with `event`
/// as the triggering event's properties and `extra` top-level objects; with `merchandise`, also
/// their recommendations and current items (offers show `PREVIEW` instead of assigning a code).
#[allow(clippy::too_many_arguments)]
pub async fn preview(
    store: &dyn Store,
    name: &str,
    channel: Channel,
    id: &str,
    event: Map<String, Value>,
    extra: Map<String, Value>,
    public_url: &str,
    merchandise: Option<&dyn crate::merchandise::Merchandise>,
) -> Result<Rendered, MessagesError> {
    let set = live(store).await?;
    let template = set.get(name, channel).ok_or_else(|| {
        MessagesError::NotFound(format!(
            "no {} template named `{name}`; `herald templates list` shows them",
            channel.as_str()
        ))
    })?;
    let profile = store
        .profile(id)
        .await?
        .ok_or_else(|| MessagesError::NotFound(format!("nobody is known as `{id}`")))?;
    let mut facts = crate::facts::gather(
        store,
        merchandise,
        &profile,
        &event,
        None,
        Some(template),
        false,
        Timestamp::now(),
    )
    .await?;
    // A preview shows the segments whether or not the template names them.
    facts.segments = store
        .profile_segments(profile.id)
        .await?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let key = LinkKey::new(store.link_key().await?);
    let message_id = format!("preview.{name}.{}", profile.id);
    let mut objects = extra;
    objects.extend(facts.extra);
    let context = Context {
        profile: ProfileContext {
            id: profile.id.to_string(),
            user_id: profile.user_id.clone(),
            traits: profile.traits,
            segments: facts.segments,
        },
        journey: herald_content::JourneyContext {
            items: facts.items,
            ..Default::default()
        },
        event,
        links: links(&key, public_url, &message_id),
        message: MessageContext { id: message_id },
        extra: objects,
    };
    herald_content::render(template, &context).map_err(|e| MessagesError::Invalid(e.to_string()))
}
