//! Prometheus metrics.
//!
//! The `metrics` facade has one recorder per process, so the exporter is installed once and every
//! server in the process (several in tests) renders the same registry.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

#[derive(Clone)]
pub struct Metrics(PrometheusHandle);

impl Metrics {
    /// Installs the process-wide recorder on first use.
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("herald_commit_seconds".into()),
                    &[
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
                    ],
                )
                .expect("valid buckets")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe();
            handle
        });
        Metrics(handle.clone())
    }

    pub fn render(&self) -> String {
        self.0.render()
    }
}

fn describe() {
    metrics::describe_counter!(
        "herald_events_ingested_total",
        "Events newly written to the event log"
    );
    metrics::describe_counter!(
        "herald_events_rejected_total",
        "Events refused at ingest, by code"
    );
    metrics::describe_counter!(
        "herald_events_duplicate_total",
        "Events dropped as duplicates of a stored messageId"
    );
    metrics::describe_counter!(
        "herald_events_dropped_erased_total",
        "Events dropped because they name an erased person"
    );
    metrics::describe_counter!(
        "herald_requests_refused_total",
        "Ingest requests refused as a whole, by code"
    );
    metrics::describe_histogram!(
        "herald_commit_seconds",
        metrics::Unit::Seconds,
        "Time of one group commit (transaction + fsync)"
    );
    metrics::describe_histogram!(
        "herald_commit_commands",
        "Requests sharing one group commit"
    );
}
