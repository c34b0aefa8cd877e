//! The text format for templates, made to be read and reviewed in git.
//!
//! ```text
//! # Comments start with `#` outside templates and between a template's fields.
//! template welcome_1 email
//! subject: Welcome to {{ shop.name | default: "our shop" }}!
//! preheader: Your first order ships free.
//! --- html
//! <p>Hi {{ profile.traits.first_name | default: "there" }},</p>
//! --- text
//! Hi {{ profile.traits.first_name | default: "there" }},
//! end
//!
//! template abandoned_cart_2 sms
//! body: Still thinking it over? Your cart is waiting: {{ event.cart_url }}
//! end
//! ```
//!
//! - `template <name> <channel>` opens a template; `end` (alone on a line) closes it. A file holds
//!   any number of templates; `(name, channel)` must be unique in it.
//! - Single-line parts are `part: value` (surrounding spaces trimmed) and come first.
//! - Multi-line parts are `--- part` followed by their lines verbatim, up to the next `--- part`
//!   line or `end`. Trailing blank lines of a part are dropped. A content line that is exactly
//!   `end` or starts with `---` is written with a leading backslash (`\end`, `\---`), which is
//!   removed when reading.
//! - Parts per channel: email `subject`, `preheader`?, `html`, `text`? (derived from the HTML when
//!   absent); sms `body`; push `title`, `body`, `data.<key>`*; webhook `body` (must render to
//!   JSON).
//!
//! [`print`] writes templates back in this format, so text → templates → text is stable.

use crate::ContentError;
use crate::model::{
    Channel, Content, EmailParts, PushParts, SmsParts, Template, TemplateSet, TemplateSpec,
    WebhookParts, check_name,
};
use std::collections::BTreeMap;

/// A template read from text, before compiling: its parts and the file line each starts on.
struct Draft {
    name: String,
    channel: Channel,
    line: usize,
    parts: Vec<(String, String, usize)>,
}

fn syntax(line: usize, message: impl Into<String>, hint: impl Into<String>) -> ContentError {
    ContentError::Syntax {
        line,
        message: message.into(),
        hint: hint.into(),
    }
}

/// Reads and compiles every template in `src`. Errors carry the file line (and, for Liquid, the
/// template and part).
pub fn parse(src: &str) -> Result<Vec<Template>, ContentError> {
    let drafts = read(src)?;
    let mut templates = Vec::with_capacity(drafts.len());
    for d in drafts {
        let lines: BTreeMap<String, usize> =
            d.parts.iter().map(|(p, _, l)| (p.clone(), *l)).collect();
        let spec = to_spec(d)?;
        let first_line = |part: &str| lines.get(part).copied().unwrap_or(1);
        templates.push(Template::compile(spec, &first_line)?);
    }
    // Duplicate keys are an error in a file, as in a set.
    TemplateSet::new(templates.iter().cloned())?;
    Ok(templates)
}

fn read(src: &str) -> Result<Vec<Draft>, ContentError> {
    let mut drafts = Vec::new();
    let mut current: Option<Draft> = None;
    // The multi-line part being read: name, its lines, first line number.
    let mut block: Option<(String, Vec<&str>, usize)> = None;
    let mut last = 0;
    for (i, raw) in src.lines().enumerate() {
        let n = i + 1;
        last = n;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let Some(draft) = current.as_mut() else {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            current = Some(open(t, n)?);
            continue;
        };
        let is_end = if block.is_some() {
            line.trim_end() == "end"
        } else {
            line.trim() == "end"
        };
        let is_part = line.starts_with("---");
        if let Some((part, lines, start)) = block.take_if(|_| is_end || is_part) {
            finish_block(draft, part, lines, start)?;
        }
        if let Some((_, lines, _)) = block.as_mut() {
            let unescaped = if needs_escape(line) && line.starts_with('\\') {
                &line[1..]
            } else {
                line
            };
            lines.push(unescaped);
            continue;
        }
        if is_end {
            drafts.push(current.take().expect("inside a template"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("---") {
            let part = rest.trim();
            check_part(draft, part, n)?;
            block = Some((part.to_owned(), Vec::new(), n + 1));
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((part, value)) = t.split_once(':') else {
            return Err(syntax(
                n,
                format!(
                    "expected `part: value`, `--- part` or `end` in template `{}`",
                    draft.name
                ),
                "write single-line parts as `subject: ...`, multi-line ones after `--- html`, \
                 and close the template with `end`",
            ));
        };
        let part = part.trim();
        check_part(draft, part, n)?;
        draft
            .parts
            .push((part.to_owned(), value.trim().to_owned(), n));
    }
    if let Some(d) = current {
        return Err(syntax(
            last.max(d.line),
            format!(
                "template `{}` (opened on line {}) has no `end`",
                d.name, d.line
            ),
            "add a line with just `end` after its last part",
        ));
    }
    Ok(drafts)
}

/// Reads `template <name> <channel>`.
fn open(line: &str, n: usize) -> Result<Draft, ContentError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let hint = "start each template with `template <name> <channel>`, e.g. \
                `template welcome_1 email` (channels: email, sms, push, webhook)";
    match words.as_slice() {
        ["template", name, channel] => {
            let channel: Channel = channel.parse().map_err(|e: String| syntax(n, e, hint))?;
            check_name(name, channel).map_err(|e| match e {
                ContentError::Invalid { message, hint, .. } => {
                    syntax(n, format!("template `{name}`: {message}"), hint)
                }
                other => other,
            })?;
            Ok(Draft {
                name: (*name).to_owned(),
                channel,
                line: n,
                parts: Vec::new(),
            })
        }
        ["template", ..] => Err(syntax(
            n,
            "a template line needs a name and a channel",
            hint,
        )),
        _ => Err(syntax(
            n,
            format!("expected a template, found `{line}`"),
            hint,
        )),
    }
}

fn allowed(channel: Channel) -> &'static [&'static str] {
    match channel {
        Channel::Email => &["subject", "preheader", "html", "text"],
        Channel::Sms => &["body"],
        Channel::Push => &["title", "body", "data.<key>"],
        Channel::Webhook => &["body"],
    }
}

fn check_part(draft: &Draft, part: &str, n: usize) -> Result<(), ContentError> {
    let known = allowed(draft.channel);
    let ok = known.contains(&part)
        || (draft.channel == Channel::Push
            && part.strip_prefix("data.").is_some_and(|k| !k.is_empty()));
    if !ok {
        return Err(syntax(
            n,
            format!(
                "`{part}` is not a part of {} template `{}`",
                draft.channel, draft.name
            ),
            format!("{} templates have: {}", draft.channel, known.join(", ")),
        ));
    }
    if let Some((_, _, first)) = draft.parts.iter().find(|(p, _, _)| p == part) {
        return Err(syntax(
            n,
            format!("part `{part}` of template `{}` is given twice", draft.name),
            format!("it was first given on line {first}; keep one"),
        ));
    }
    Ok(())
}

fn finish_block(
    draft: &mut Draft,
    part: String,
    mut lines: Vec<&str>,
    start: usize,
) -> Result<(), ContentError> {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    draft
        .parts
        .push((part, lines.join("\n").trim_end().to_owned(), start));
    Ok(())
}

fn to_spec(d: Draft) -> Result<TemplateSpec, ContentError> {
    let mut parts: BTreeMap<String, String> = d.parts.into_iter().map(|(p, v, _)| (p, v)).collect();
    let mut missing = Vec::new();
    let mut take = |p: &str, parts: &mut BTreeMap<String, String>| {
        parts.remove(p).unwrap_or_else(|| {
            missing.push(p.to_owned());
            String::new()
        })
    };
    let content = match d.channel {
        Channel::Email => Content::Email(EmailParts {
            subject: take("subject", &mut parts),
            preheader: parts.remove("preheader"),
            html: take("html", &mut parts),
            text: parts.remove("text"),
        }),
        Channel::Sms => Content::Sms(SmsParts {
            body: take("body", &mut parts),
        }),
        Channel::Push => Content::Push(PushParts {
            title: take("title", &mut parts),
            body: take("body", &mut parts),
            data: std::mem::take(&mut parts)
                .into_iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("data.")?.to_owned(), v)))
                .collect(),
        }),
        Channel::Webhook => Content::Webhook(WebhookParts {
            body: take("body", &mut parts),
        }),
    };
    if !missing.is_empty() {
        return Err(syntax(
            d.line,
            format!(
                "{} template `{}` is missing {}",
                d.channel,
                d.name,
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            format!("{} templates need: {}", d.channel, required(d.channel)),
        ));
    }
    Ok(TemplateSpec {
        name: d.name,
        content,
    })
}

fn required(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "subject and html",
        Channel::Sms | Channel::Webhook => "body",
        Channel::Push => "title and body",
    }
}

/// Writes templates in the text format, one blank line between them.
pub fn print(templates: &[Template]) -> String {
    let mut out = String::new();
    for (i, t) in templates.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        print_one(&mut out, t.spec());
    }
    out
}

fn print_one(out: &mut String, spec: &TemplateSpec) {
    out.push_str(&format!(
        "template {} {}\n",
        spec.name,
        spec.content.channel()
    ));
    let parts = spec.content.parts();
    // A value fits on one line when reading it back gives the same text.
    let inline = |v: &str| !v.contains(['\n', '\r']) && v.trim() == v && !v.is_empty();
    let is_block = |name: &str, v: &str| {
        // HTML and webhook bodies read better as blocks even when short.
        !inline(v) || matches!(name, "html" | "text") || name == "body" && v.len() > 60
    };
    for (name, v) in parts.iter().filter(|(n, v)| !is_block(n, v)) {
        out.push_str(&format!("{name}: {v}\n"));
    }
    for (name, v) in parts.iter().filter(|(n, v)| is_block(n, v)) {
        out.push_str(&format!("--- {name}\n"));
        for line in v.trim_end_matches(['\n', ' ', '\t', '\r']).lines() {
            if needs_escape(line) {
                out.push('\\');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("end\n");
}

/// Lines that would end a block (`end`, `---...`), with any backslashes before them: written
/// with one more backslash, read with one less.
fn needs_escape(line: &str) -> bool {
    let bare = line.trim_start_matches('\\');
    bare.trim_end() == "end" || bare.starts_with("---")
}
