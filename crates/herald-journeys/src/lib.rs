//! Journeys: what happens to a person after a trigger.
//!
//! * [`ast`]: the definitions (text and JSON forms describe the same tree).
//! * [`lang`]: the text form (parser, printer), the JSON form and its schema, validation.
//! * [`runner`]: the step machines. Plain code over plain data that takes `now` as an argument:
//!   live processing and backtests run the same code, and months pass in milliseconds in tests.
//! * [`library`]: the journeys Herald ships.

pub mod ast;
pub mod lang;
pub mod library;
pub mod runner;
