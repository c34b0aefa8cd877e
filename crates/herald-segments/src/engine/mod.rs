//! The exact incremental segment engine.
//!
//! [`Program::compile`] turns definitions into a program; a [`ProfileState`] per profile holds
//! what the program needs to know about that profile, as little as exactness allows.
//! [`Program::observe`] feeds it a message ([`Program::observe_all`] a batch arriving at one
//! instant, for backfills), [`Program::advance`] moves it through time, and
//! [`Program::next_deadline`] says when, with no new message, a membership will next change — an
//! exact instant, so time-based conditions ("no purchase in 90 days") flip when they should
//! instead of on a poll. [`Program::evaluate_at`] computes the same memberships from scratch
//! over a whole history (the reference the tests hold the engine to), and [`Program::explain`]
//! says why.
//!
//! Plain code over plain data: no I/O, no clock. `now` is always an argument and only moves
//! forward for a given state.
//!
//! # Meaning
//!
//! The meaning of each condition is documented next to the code that decides it:
//!
//! * [`window`]: windows, including calendar windows and leap days;
//! * [`input`]: selectors, filters, missing values, grouping keys, dates;
//! * [`tally`]: `count`, `sum`, `avg`, `min`, `max`, `distinct`, `per` keys;
//! * [`marks`]: first/last occurrence, traits, dates, anniversaries;
//! * [`sequence`]: followed / not followed by;
//! * [`time`]: millisecond resolution and the UTC calendar.
//!
//! Messages exist for conditions from their timestamp on (future-stamped ones start counting
//! when `now` reaches them); they may arrive in any order. Herald's own `Segment Entered` /
//! `Segment Exited` events are invisible. `in segment X` is X's membership at the same instant.
//! Changes caused by a message happen at the `now` it was observed; changes caused by time happen
//! at the exact instant the condition flips, and are reported in time order (dependencies first
//! within an instant).

mod atom;
pub mod checks;
mod evaluate;
mod explain;
mod incremental;
pub mod input;
pub mod marks;
mod program;
mod route;
pub mod sequence;
mod state;
mod sum;
pub mod tally;
pub mod time;
mod timeline;
pub mod window;

pub use checks::{EventMatcher, FilterCheck, TraitCheck, key_at, value_at};
pub use explain::{Candidate, Explanation, Group, Node};
pub use incremental::Change;
pub use input::{Input, OWN_EVENTS, Pairs, Props};
pub use program::{CompileError, Program, SegmentIdx};
pub use route::EventRoute;
pub use state::{DecodeError, ProfileState};
