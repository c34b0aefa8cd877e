//! Keeps Herald's journeys moving over a store.
//!
//! * [`Conductor`]: the journey runner (`herald_journeys::runner`) over a store. It follows the
//!   event log (including the segment engine's `Segment Entered` / `Exited` events) and the
//!   profile log, wakes people whose waits are over, and commits each step's new states, outbox
//!   messages, actions, trait updates and cursor atomically.
//! * [`JourneyService`]: the conductor as a task of a running server.
//! * [`backtest`]: stored history replayed through journeys with a simulated clock.
//! * [`reports`]: live journeys with their per-step counts.

pub mod backtest;
mod conductor;
mod records;
pub mod reports;
mod service;

pub use conductor::{ApplyReport, Conductor, JourneyChange, StepReport};
pub use service::JourneyService;

use herald_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConductorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Definitions that cannot run.
    #[error("{0}")]
    Invalid(String),
    /// Something stored that this build cannot read.
    #[error("{0}; the store may come from a newer Herald")]
    Stored(String),
    #[error("the journey service has stopped")]
    Stopped,
}
