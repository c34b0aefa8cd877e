//! The template library that ships with Herald: every template the journey library
//! (`herald-journeys/library.journeys`) sends, written as finished marketing copy.
//!
//! Templates read `shop` (name, url, support_email, address), `recommendations.for_you` and
//! `offers` when the caller provides them, and stay sensible when it does not.

use crate::Template;

/// The library's source, in the text format of [`crate::format`].
pub const LIBRARY: &str = include_str!("../library.templates");

/// The library, compiled.
pub fn library() -> Vec<Template> {
    crate::parse(LIBRARY).expect("the template library parses and compiles (tested)")
}
