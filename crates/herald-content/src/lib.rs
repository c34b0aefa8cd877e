//! Herald's content layer: the messages journeys send, as Liquid templates per channel.
//!
//! A [`Template`] has a name and a channel with its parts (email: subject, preheader, HTML,
//! text; SMS: body; push: title, body, data; webhook: JSON body). Templates are written in a
//! small text format kept in git ([`format`]) or sent as JSON through the API ([`TemplateSpec`]),
//! compiled once when saved, and rendered many times with a person's [`Context`] ([`render()`]).
//!
//! A journey names a template and a channel (`send sms abandoned_cart_2`), so the key of a
//! template is `(name, channel)`: one name can have an email and an SMS variant ([`TemplateSet`]).
//!
//! Liquid here is the Shopify dialect (the engine of the `liquid` crate: `liquid-core` and its
//! standard library `liquid-lib`, see `engine`) with three extra filters ([`filters`]):
//! `money`, `local_date` and `json`. Unlike stock `liquid`, a missing variable
//! renders as empty instead of failing the send, so `{{ profile.traits.first_name | default:
//! "there" }}` works for everybody ([`value`]).
//!
//! This crate does no I/O.

mod engine;
pub mod filters;
pub mod format;
pub mod html_text;
pub mod library;
pub mod model;
pub mod render;
pub mod value;

pub use format::{parse, print};
pub use html_text::html_to_text;
pub use library::{LIBRARY, library};
pub use model::{
    Channel, Content, EmailParts, PushParts, SmsParts, Template, TemplateSet, TemplateSpec,
    WebhookParts,
};
pub use render::{
    Context, JourneyContext, Links, MessageContext, ProfileContext, Rendered, render,
};

/// Everything that can go wrong with content: reading the text format, compiling Liquid,
/// rendering. Each variant says which template and where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The template file itself is malformed (outside Liquid).
    #[error("line {line}: {message}\n  hint: {hint}")]
    Syntax {
        line: usize,
        message: String,
        hint: String,
    },
    /// A part does not compile as Liquid. `line` is the line in the file for templates read from
    /// text, or the line within the part for templates given as JSON.
    #[error(
        "template `{template}` ({channel}), part `{part}`, line {line}: {message}\n  hint: {hint}"
    )]
    Liquid {
        template: String,
        channel: Channel,
        part: String,
        line: usize,
        message: String,
        hint: String,
    },
    /// The template as a whole is not acceptable (bad name, missing part, duplicate).
    #[error("template `{template}` ({channel}): {message}\n  hint: {hint}")]
    Invalid {
        template: String,
        channel: Channel,
        message: String,
        hint: String,
    },
    /// Rendering failed for one person (a filter error, a webhook body that is not JSON).
    #[error("rendering `{template}` ({channel}), part `{part}`: {message}\n  hint: {hint}")]
    Render {
        template: String,
        channel: Channel,
        part: String,
        message: String,
        hint: String,
    },
}

/// What [`render()`] returns on failure; the same enum as every other content error.
pub type RenderError = ContentError;
