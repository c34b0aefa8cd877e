//! The journey language's text form, its JSON form, and checks that need no runner.
//!
//! ```text
//! # comment to end of line
//! rules
//!   cap email marketing 3 per 7 days
//!   quiet hours sms 21:00 to 08:00
//! end
//!
//! journey abandoned_cart "Remind people of the cart they left behind"
//!   on "Product Added"
//!   key cart_id
//!   entry once
//!   goal "Order Completed" same key within 7 days
//! do
//!   wait 1 hour
//!   if event("Order Completed") same key since entry then
//!     exit
//!   end
//!   send email abandoned_cart_1
//! end
//! ```
//!
//! Event selectors, filters, spans, property paths, segment names, literals and trait
//! conditions are the segment language's, read by its own sub-parsers
//! (`herald_segments::lang::syntax`), so they are spelt and reported exactly as in segments.
//!
//! * [`parse`] reads text (`parser.rs` for documents and headers, `steps.rs` for steps and
//!   conditions, `terms.rs` for names and times, whose module docs hold the grammar); errors
//!   carry line, column and a hint.
//! * [`print()`] / [`print_journey`] write the canonical text: `parse(print(doc)) == doc` for
//!   every valid document.
//! * [`from_json`] / [`to_json`] read and write the JSON form (serde, see `ast.rs`), described
//!   by [`JSON_SCHEMA`].
//! * [`validate`] refuses what can never be meant; [`lint`] warns about unknown event and
//!   segment names.
//!
//! ```
//! use herald_journeys::lang::{from_json, parse, print, to_json};
//!
//! let text = "journey welcome \"Say hello\"\n  on \"Signed Up\"\n  entry once\ndo\n  \
//!             send email welcome_1\nend\n";
//! let doc = parse(text).unwrap();
//! assert_eq!(print(&doc), text);
//! assert_eq!(from_json(&to_json(&doc)).unwrap(), doc);
//!
//! let err = parse("journey a on api do sned email x end").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 21));
//! assert!(err.hint.starts_with("did you mean \"send\"?"));
//! ```

mod check;
mod error;
mod json;
mod parser;
mod printer;
mod schema;
mod steps;
mod terms;

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod roundtrip_tests;

pub use check::{lint, validate};
pub use error::{JsonError, ParseError, Unknown, ValidationError, Warning};
pub use json::{from_json, to_json};
pub use parser::parse;
pub use printer::{print, print_condition, print_journey, print_rules, print_step};
pub use schema::{JSON_SCHEMA, generate as generate_json_schema};
