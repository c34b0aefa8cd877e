//! Herald's segment language and engine: who is in which segment, exactly, at every instant.
//!
//! * [`ast`]: the syntax tree both forms of the language share.
//! * [`lang`]: the text form (parser, printer), the JSON form and its schema, checks.
//! * [`library`]: ready-made segments for common marketing needs.
//!
//! Plain code over plain data: no I/O, and `now` is always an argument.

pub mod ast;
pub mod engine;
pub mod lang;
pub mod library;

pub use ast::{Condition, Definition, SegmentName};
pub use engine::{Change, Input, ProfileState, Program, SegmentIdx};
