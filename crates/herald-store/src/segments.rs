//! What the store keeps for the segment engine: definitions, per-profile engine state, current
//! memberships, and the log of profile merges and erasures the engine follows.
//!
//! The engine is a consumer of the event log: it reads events after its cursor, and commits its
//! new state, membership changes and cursor together ([`SegmentCommit`]), so a crash replays from
//! the last commit and nothing is applied twice.

use herald_core::{ProfileId, Timestamp};
use serde::Serialize;

/// A stored segment definition, in its JSON form and as the text it was written in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentRecord {
    pub name: String,
    /// The definition's JSON form.
    pub definition: serde_json::Value,
    /// Incremented each time the definition changes.
    pub version: u64,
    pub updated_at: Timestamp,
}

/// A change to profiles that engines holding per-profile state must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProfileChange {
    /// `absorbed`'s events and ids now belong to `into`.
    Merged {
        absorbed: ProfileId,
        into: ProfileId,
    },
    /// The person and their events are gone.
    Erased { profile: ProfileId },
}

/// One entry of the profile log, in commit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileLogEntry {
    pub id: u64,
    /// The last event log position before the change; events after it already carry the
    /// change's outcome.
    pub after_event: u64,
    pub change: ProfileChange,
}

/// A profile entering or leaving a segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MembershipChange {
    pub segment: String,
    pub profile: ProfileId,
    pub entered: bool,
    pub at: Timestamp,
    /// Caused by creating or changing the definition rather than by behaviour or time.
    pub backfill: bool,
}

/// The persisted engine state of one profile.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentState {
    pub profile: ProfileId,
    /// Opaque to the store; `None` deletes the profile's state.
    pub state: Option<Vec<u8>>,
    /// When the engine next needs to look at this profile with no new event.
    pub due: Option<Timestamp>,
}

/// Where the segment engine has read up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SegmentCursor {
    pub events: u64,
    pub profile_log: u64,
    /// The fingerprint of the program whose per-profile states are stored.
    pub program: u64,
}

/// Everything one step of the segment engine writes, applied atomically.
#[derive(Clone, Debug, Default)]
pub struct SegmentCommit {
    pub cursor: SegmentCursor,
    /// When set, replaces all definitions (names missing here are deleted with their members).
    pub definitions: Option<Vec<SegmentRecord>>,
    pub states: Vec<SegmentState>,
    /// Applied to the membership table in order, and recorded as `Segment Entered` /
    /// `Segment Exited` events of the profile.
    pub changes: Vec<MembershipChange>,
}

/// A member of a segment, by the id people know them by.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Member {
    pub profile: ProfileId,
    /// The `userId`, else the first `anonymousId`.
    pub id: String,
    pub since: Timestamp,
}

/// The event names Herald records for membership changes; engines never count them.
pub const SEGMENT_ENTERED: &str = "Segment Entered";
pub const SEGMENT_EXITED: &str = "Segment Exited";
