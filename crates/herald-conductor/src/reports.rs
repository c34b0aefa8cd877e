//! What people see of journeys: each live journey with its running instances and per-step
//! counts, for `herald journeys list` and `GET /api/v1/journeys`.

use herald_journeys::ast::Journey;
use herald_journeys::lang;
use herald_store::{Store, StoreError};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A live journey and its counts.
#[derive(Clone, Debug, Serialize)]
pub struct JourneyReport {
    pub name: String,
    /// The version new instances start on.
    pub version: u32,
    /// Every stored version.
    pub versions: Vec<u32>,
    /// When this version was applied.
    pub created_at: Timestamp,
    /// Running instances, all versions.
    pub active_instances: u64,
    /// Totals over all versions.
    pub entered: u64,
    pub sent: u64,
    pub goals: u64,
    pub exited: u64,
    /// Of this version, per step id (`null`: not at a step, e.g. entries): counts by action
    /// (`enter`, `send`, `skip`, `defer`, `branch`, `set_trait`, `webhook`, `goal`, `exit`),
    /// `waiting` instances, and `waiting_for_goal` past the last step.
    pub steps: Vec<Value>,
    /// The JSON form.
    pub definition: Value,
    /// The text form.
    pub text: String,
}

/// The live journeys (only `only`, when given), by name.
pub async fn journey_reports(
    store: &dyn Store,
    only: Option<&str>,
) -> Result<Vec<JourneyReport>, StoreError> {
    let records = store.journey_definitions().await?;
    let counts = store.journey_step_counts().await?;
    let waiting = store.journey_waiting().await?;
    let mut out = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.live && only.is_none_or(|n| n == r.name))
    {
        let mut steps: BTreeMap<Option<u32>, Map<String, Value>> = BTreeMap::new();
        for c in counts
            .iter()
            .filter(|c| c.journey == r.name && c.version == r.version)
        {
            steps
                .entry(c.step)
                .or_default()
                .insert(c.action.clone(), c.count.into());
        }
        for w in waiting
            .iter()
            .filter(|w| w.journey == r.name && w.version == r.version)
        {
            // Past the last step: waiting out the goal's window.
            let (step, what) = match w.step {
                u32::MAX => (None, "waiting_for_goal"),
                s => (Some(s), "waiting"),
            };
            steps
                .entry(step)
                .or_default()
                .insert(what.into(), w.count.into());
        }
        let total = |action: &str| -> u64 {
            counts
                .iter()
                .filter(|c| c.journey == r.name && c.action == action)
                .map(|c| c.count)
                .sum()
        };
        out.push(JourneyReport {
            name: r.name.clone(),
            version: r.version,
            versions: records
                .iter()
                .filter(|x| x.name == r.name)
                .map(|x| x.version)
                .collect(),
            created_at: r.created_at,
            active_instances: waiting
                .iter()
                .filter(|w| w.journey == r.name)
                .map(|w| w.count)
                .sum(),
            entered: total("enter"),
            sent: total("send"),
            goals: total("goal"),
            exited: total("exit"),
            steps: steps
                .into_iter()
                .map(|(step, mut counts)| {
                    counts.insert("step".into(), json!(step));
                    Value::Object(counts)
                })
                .collect(),
            definition: r.definition.clone(),
            text: serde_json::from_value::<Journey>(r.definition.clone())
                .map(|j| lang::print_journey(&j))
                .unwrap_or_default(),
        });
    }
    Ok(out)
}
