//! Membership as of any instant, and explanations, from a profile's stored history.
//!
//! These never touch the live states: they replay what the log holds, counting only events at or
//! before the instant asked about, so `--at` answers what the segment was then.

use crate::SegmenterError;
use crate::inputs::Parsed;
use herald_core::{ProfileId, Timestamp};
use herald_segments::engine::{Explanation, ProfileState, Program, SegmentIdx};
use herald_store::Store;
use std::collections::{BTreeMap, HashMap};

/// Parses a profile's history for `program`.
async fn parsed_history(
    store: &dyn Store,
    program: &Program,
    profile: ProfileId,
) -> Result<Vec<Parsed>, SegmenterError> {
    let events = store.profile_history(profile, u64::MAX).await?;
    Ok(events
        .iter()
        .filter_map(|e| Parsed::from_stored(program, e))
        .collect())
}

/// Why `profile` is or is not in segment `seg` at `at`.
pub async fn explain(
    store: &dyn Store,
    program: &Program,
    seg: SegmentIdx,
    profile: ProfileId,
    at: Timestamp,
) -> Result<Explanation, SegmenterError> {
    let parsed = parsed_history(store, program, profile).await?;
    let inputs: Vec<_> = parsed.iter().map(Parsed::input).collect();
    Ok(program.explain(seg, &inputs, at))
}

/// Every profile's membership of every segment of `program` at `at`, replaying the whole log
/// through fresh states (only events stamped at or before `at` count).
pub async fn members_at(
    store: &dyn Store,
    program: &Program,
    at: Timestamp,
) -> Result<BTreeMap<ProfileId, Vec<SegmentIdx>>, SegmenterError> {
    let mut states: HashMap<ProfileId, ProfileState> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.scan_events(after, crate::segmenter::PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page.iter().filter(|e| e.timestamp <= at) {
            if let Some(p) = Parsed::from_stored(program, e) {
                let state = states
                    .entry(e.profile_id)
                    .or_insert_with(|| program.new_state());
                program.observe(state, &p.input(), at);
            }
        }
    }
    Ok(states
        .into_iter()
        .map(|(p, mut state)| {
            program.advance(&mut state, at);
            (p, program.members(&state).collect())
        })
        .collect())
}
