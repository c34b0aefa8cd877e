//! Templates: their source form ([`TemplateSpec`], also the JSON of the API) and their compiled
//! form ([`Template`]), which holds one compiled Liquid template per part so that saving pays
//! for parsing once and every send only renders.

use crate::ContentError;
use crate::engine::{self, Compiled};
use crate::filters;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Where a message goes. Part of a template's key: a name can have one variant per channel.
pub use herald_core::Channel;

/// An email's parts. Without `text`, the plain-text alternative is derived from the rendered
/// HTML ([`crate::html_to_text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailParts {
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preheader: Option<String>,
    pub html: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsParts {
    pub body: String,
}

/// A push notification; every `data` value is a Liquid template too (deep links, ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushParts {
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

/// A webhook's body: Liquid that must render to JSON (use the `json` filter for values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookParts {
    pub body: String,
}

/// The channel and its parts. In JSON the channel is the `channel` field beside the parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Content {
    Email(EmailParts),
    Sms(SmsParts),
    Push(PushParts),
    Webhook(WebhookParts),
}

impl Content {
    pub fn channel(&self) -> Channel {
        match self {
            Content::Email(_) => Channel::Email,
            Content::Sms(_) => Channel::Sms,
            Content::Push(_) => Channel::Push,
            Content::Webhook(_) => Channel::Webhook,
        }
    }

    /// The parts present, as (part name, Liquid source), in a fixed order. Push data entries are
    /// named `data.<key>`. Compiled templates are stored in this same order.
    pub fn parts(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        match self {
            Content::Email(e) => {
                out.push(("subject".to_owned(), e.subject.as_str()));
                if let Some(p) = &e.preheader {
                    out.push(("preheader".to_owned(), p.as_str()));
                }
                out.push(("html".to_owned(), e.html.as_str()));
                if let Some(t) = &e.text {
                    out.push(("text".to_owned(), t.as_str()));
                }
            }
            Content::Sms(s) => out.push(("body".to_owned(), s.body.as_str())),
            Content::Push(p) => {
                out.push(("title".to_owned(), p.title.as_str()));
                out.push(("body".to_owned(), p.body.as_str()));
                for (k, v) in &p.data {
                    out.push((format!("data.{k}"), v.as_str()));
                }
            }
            Content::Webhook(w) => out.push(("body".to_owned(), w.body.as_str())),
        }
        out
    }
}

/// A template's source: what the text format and the API carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSpec {
    pub name: String,
    #[serde(flatten)]
    pub content: Content,
}

/// A compiled template: its source plus one compiled Liquid template per part. Cheap to clone
/// (the compiled parts are shared) and safe to render from many threads at once.
#[derive(Clone)]
pub struct Template {
    spec: TemplateSpec,
    compiled: Arc<[Compiled]>,
}

impl Template {
    /// Validates and compiles a template given as JSON or built in code. Liquid error lines are
    /// counted within the part.
    pub fn new(spec: TemplateSpec) -> Result<Template, ContentError> {
        Template::compile(spec, &|_| 1)
    }

    /// Compiles `spec`; `first_line(part)` is the file line where that part's source starts, so
    /// that Liquid errors point into the file the user edits.
    pub(crate) fn compile(
        spec: TemplateSpec,
        first_line: &dyn Fn(&str) -> usize,
    ) -> Result<Template, ContentError> {
        let channel = spec.content.channel();
        check_name(&spec.name, channel)?;
        let mut compiled = Vec::new();
        for (part, source) in spec.content.parts() {
            let tpl = engine::compile(source)
                .map_err(|e| liquid_error(&spec.name, channel, &part, source, first_line, &e))?;
            compiled.push(tpl);
        }
        Ok(Template {
            spec,
            compiled: compiled.into(),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn channel(&self) -> Channel {
        self.spec.content.channel()
    }

    /// The key journeys send by: `send <channel> <name>`.
    pub fn key(&self) -> (&str, Channel) {
        (&self.spec.name, self.channel())
    }

    pub fn spec(&self) -> &TemplateSpec {
        &self.spec
    }

    /// Whether any part of the template mentions `name` (e.g. `journey.items`), so that callers
    /// can skip gathering what it never reads.
    pub fn mentions(&self, name: &str) -> bool {
        self.spec
            .content
            .parts()
            .iter()
            .any(|(_, source)| source.contains(name))
    }

    pub fn content(&self) -> &Content {
        &self.spec.content
    }

    /// Compiled parts, in the order of [`Content::parts`].
    pub(crate) fn compiled(&self) -> &[Compiled] {
        &self.compiled
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.spec.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Template::new(TemplateSpec::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Names appear in journeys (`send email welcome_1`) and file names, so keep them plain.
pub(crate) fn check_name(name: &str, channel: Channel) -> Result<(), ContentError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ContentError::Invalid {
            template: name.to_owned(),
            channel,
            message: "the name is empty or has characters other than a-z, 0-9, `_` and `-`".into(),
            hint: "name templates like the journeys that send them, e.g. `abandoned_cart_2`".into(),
        })
    }
}

/// Turns liquid's error (a pest report with ` --> line:col`, or a message with context lines)
/// into one located error with a hint.
fn liquid_error(
    template: &str,
    channel: Channel,
    part: &str,
    source: &str,
    first_line: &dyn Fn(&str) -> usize,
    err: &liquid_core::Error,
) -> ContentError {
    let text = err.to_string();
    let mut line_in_part = None;
    let mut message = String::new();
    let mut context = Vec::new();
    for l in text.lines() {
        let t = l.trim();
        if let Some(pos) = t
            .strip_prefix("liquid:")
            .map(str::trim)
            .and_then(|r| r.strip_prefix("-->"))
        {
            line_in_part = pos
                .trim()
                .split(':')
                .next()
                .and_then(|n| n.parse::<usize>().ok());
        } else if let Some(m) = t.strip_prefix("= ") {
            message = m.to_owned();
        } else if let Some(m) = t.strip_prefix("liquid:") {
            message = m.trim().to_owned();
        } else if let Some((k, v)) = t.split_once('=')
            && !k.starts_with("available")
            && !t.starts_with('|')
        {
            context.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let filter = context
        .iter()
        .find(|(k, _)| k == "requested filter")
        .map(|(_, v)| v.clone());
    let tag = context
        .iter()
        .find(|(k, _)| k == "requested")
        .map(|(_, v)| v.clone());
    // Errors without a position (unknown filter) are located by finding the culprit's name.
    if line_in_part.is_none()
        && let Some(name) = filter.as_ref().or(tag.as_ref())
    {
        line_in_part = source
            .lines()
            .position(|l| l.contains(name.as_str()))
            .map(|i| i + 1);
    }
    let hint = if let Some(f) = &filter {
        message = format!("unknown filter `{f}`");
        format!(
            "check the spelling; Herald has the standard Liquid filters plus {}",
            filters::HERALD_FILTERS.join(", ")
        )
    } else if message.starts_with("Unknown tag") {
        if let Some(t) = &tag {
            message = format!("unknown or unexpected tag `{t}`");
        }
        "an `end...` tag needs its opening block (`if`, `for`, `unless`, `case`, `capture`); \
         otherwise check the tag's spelling"
            .to_owned()
    } else if message.contains("Unclosed") {
        "add the closing tag (`{% endif %}`, `{% endfor %}`, ...) before the part ends".to_owned()
    } else {
        "check the Liquid syntax on this line: output is `{{ value | filter: arg }}`, tags are \
         `{% if ... %}`; write `{% raw %}...{% endraw %}` for literal braces"
            .to_owned()
    };
    if message.is_empty() {
        message = text.lines().next().unwrap_or_default().to_owned();
    }
    let line_in_part = line_in_part.unwrap_or(1);
    ContentError::Liquid {
        template: template.to_owned(),
        channel,
        part: part.to_owned(),
        line: first_line(part) + line_in_part - 1,
        message,
        hint,
    }
}

/// Templates by `(name, channel)`, the way journeys look them up.
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    by_key: BTreeMap<(String, Channel), Template>,
}

impl TemplateSet {
    /// Builds a set; two templates with the same name and channel are an error.
    pub fn new(templates: impl IntoIterator<Item = Template>) -> Result<TemplateSet, ContentError> {
        let mut set = TemplateSet::default();
        for t in templates {
            let key = (t.name().to_owned(), t.channel());
            if set.by_key.contains_key(&key) {
                return Err(ContentError::Invalid {
                    template: key.0,
                    channel: key.1,
                    message: "defined twice".into(),
                    hint: "a name has at most one template per channel: rename or remove one"
                        .into(),
                });
            }
            set.by_key.insert(key, t);
        }
        Ok(set)
    }

    pub fn get(&self, name: &str, channel: Channel) -> Option<&Template> {
        self.by_key.get(&(name.to_owned(), channel))
    }

    /// Adds or replaces the template with the same key; returns the one replaced.
    pub fn insert(&mut self, template: Template) -> Option<Template> {
        self.by_key
            .insert((template.name().to_owned(), template.channel()), template)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Template> {
        self.by_key.values()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
