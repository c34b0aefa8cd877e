//! Herald's library of ready-made segments (`library.seg`), written in the text form.
//!
//! External checks rely on these names and meanings; the file documents each in one line.

use crate::ast::Definition;

/// The library's text, as shipped.
pub const LIBRARY: &str = include_str!("../library.seg");

/// The library's definitions, in file order.
pub fn library() -> Vec<Definition> {
    crate::lang::parse(LIBRARY).expect("library.seg parses (checked by tests)")
}
