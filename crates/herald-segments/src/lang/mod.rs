//! The segment language's text form, its JSON form, and checks that need no engine.
//!
//! ```text
//! # comment to end of line
//! segment lapsed_buyers "Ordered before, but not in the last 90 days"
//!   count("Order Completed") >= 1
//!   and count("Order Completed") in last 90 days = 0
//! ```
//!
//! * [`parse`] / [`parse_condition`] read text: a lexer, then recursive descent in `parser.rs`,
//!   `terms.rs`, `time.rs` and `conditions.rs`, whose module docs hold the grammar. Errors
//!   carry line, column and a hint.
//! * [`print()`] / [`print_definition`] / [`print_condition`] write the canonical text:
//!   `parse(print(defs)) == defs` for every valid tree.
//! * [`from_json`] / [`to_json`] read and write the JSON form (serde, see `ast.rs`), described
//!   by [`JSON_SCHEMA`].
//! * [`validate`] refuses what can never be meant (duplicate names, self-reference, ...);
//!   [`lint`] warns about event names that have not been seen.
//! * [`syntax`] lends the lexer and sub-parsers to languages that embed this one (journeys).
//!
//! ```
//! use herald_segments::lang::{from_json, parse, print, to_json};
//!
//! let text = "segment recent_buyers \"Ordered in the last 30 days\"\n  \
//!             count(\"Order Completed\") in last 30 days >= 1\n";
//! let defs = parse(text).unwrap();
//! assert_eq!(print(&defs), text);
//! assert_eq!(from_json(&to_json(&defs)).unwrap(), defs);
//!
//! let err = parse("segment a count(\"Order Completed\") in last 30 dayz >= 1").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 47));
//! assert_eq!(err.hint, "did you mean \"days\"? units are minutes, hours, days, weeks");
//! ```

mod check;
mod conditions;
mod error;
mod json;
mod lexer;
mod parser;
mod printer;
mod schema;
pub mod syntax;
mod terms;
mod time;

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
#[cfg(test)]
mod roundtrip_tests;

pub use check::{lint, validate};
pub use error::{JsonError, ParseError, ValidationError, Warning};
pub use json::{from_json, to_json};
pub use parser::{parse, parse_condition};
pub use printer::{print, print_condition, print_definition};
pub use schema::{JSON_SCHEMA, generate as generate_json_schema};
