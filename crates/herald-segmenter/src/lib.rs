//! Keeps Herald's segments exactly current.
//!
//! * [`Segmenter`]: the engine's program and per-profile states, following the event log and the
//!   profile log, firing timers, committing each step atomically with its cursor.
//! * [`Plan`] / [`Preview`]: recomputing segments from history when definitions change.
//! * [`SegmentService`]: the segmenter as a task of a running server, woken by ingest, by its
//!   next timer, or by a request to change definitions.
//! * [`history`]: as-of membership and explanations, computed from a profile's stored history.

mod backfill;
pub mod history;
mod inputs;
mod replay;
mod segmenter;
mod service;

pub use backfill::{Plan, Preview, SegmentPreview};
pub use segmenter::{Segmenter, StepReport, stored_program};
pub use service::SegmentService;

use herald_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SegmenterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Definitions that do not compile together.
    #[error("{0}")]
    Invalid(String),
    /// Something stored that this build cannot read.
    #[error("{0}; the store may come from a newer Herald")]
    Stored(String),
    #[error("the segment service has stopped")]
    Stopped,
}
