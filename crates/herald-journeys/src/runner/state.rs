//! A person's journey state: running instances, entry history and scheduled date triggers.
//!
//! It is plain serializable data, stored per profile beside the profile's segment state, so a
//! restart continues exactly where it stopped. Instance ids are `{profile}.{serial}` with the
//! serial counted per person: deterministic, so a backtest and the live runner name the same
//! instances alike.

use crate::ast::{Channel, JourneyName, MessageClass};
use herald_core::ProfileId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Everything the runner keeps about one person.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonState {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    /// The last entry per journey and key (`""` without a key), in ms since the epoch: what
    /// `entry once` and `entry once per` look at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub entries: BTreeMap<String, i64>,
    /// The next firing of each anniversary-triggered journey, in ms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub anniversaries: BTreeMap<String, i64>,
    /// Serial of the last instance started for this person.
    #[serde(default)]
    pub serial: u64,
}

/// One walk through a journey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub journey: JourneyName,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// When it entered (ms).
    pub entered: i64,
    /// The step it is at (waiting on, or deferred by quiet hours).
    pub step: u32,
    /// When it wakes (ms): the end of a wait, a wait-for's timeout, the end of quiet hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake: Option<i64>,
    /// Bit `i`: the journey's `i`-th `event(...) since entry` condition has been seen.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seen: u64,
    /// The trigger event's properties (templates and `trigger` conditions read them).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub trigger: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sent: Vec<Sent>,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

/// A message an instance sent, and what the person did with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub step: u32,
    pub template: String,
    pub message_id: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opened: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clicked: bool,
}

/// A message sent to the person recently, by any journey (for frequency caps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendRecord {
    pub channel: Channel,
    pub class: MessageClass,
    /// When (ms).
    pub at: i64,
}

impl PersonState {
    /// The key of `entries` for a journey and an instance key.
    pub(crate) fn entry_key(journey: &JourneyName, key: Option<&str>) -> String {
        format!("{journey}\u{1f}{}", key.unwrap_or(""))
    }

    pub(crate) fn new_instance_id(&mut self, profile: ProfileId) -> String {
        self.serial += 1;
        format!("{profile}.{}", self.serial)
    }

    /// Takes in the state of a profile merged into this one: its instances go on here, and
    /// entry history counts for both (the later entry wins). Date triggers are rescheduled from
    /// the merged traits at the next identify or wake-up.
    pub fn absorb(&mut self, other: PersonState) {
        self.instances.extend(other.instances);
        for (k, at) in other.entries {
            let e = self.entries.entry(k).or_insert(at);
            *e = (*e).max(at);
        }
        for (k, at) in other.anniversaries {
            self.anniversaries.entry(k).or_insert(at);
        }
        self.serial = self.serial.max(other.serial);
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.entries.is_empty() && self.anniversaries.is_empty()
    }
}
