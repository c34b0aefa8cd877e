//! The segmenter as a task beside the HTTP server.
//!
//! One task owns the [`Segmenter`]; everything else talks to it through a [`SegmentService`]
//! handle. It wakes when ingest says new events are durable, when its earliest timer is due,
//! or when asked to change definitions, and each time catches up with the logs at the current
//! time. Timers are kept in an ordered set; the task sleeps exactly until the first one.

use crate::SegmenterError;
use crate::backfill::Preview;
use crate::segmenter::Segmenter;
use herald_core::Timestamp;
use herald_segments::Definition;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// Longest sleep without a timer: a safety net, not the mechanism.
const IDLE_WAKE: Duration = Duration::from_secs(5);

enum Request {
    Apply {
        definitions: Vec<Definition>,
        dry_run: bool,
        reply: oneshot::Sender<Result<Preview, SegmenterError>>,
    },
    Definitions {
        reply: oneshot::Sender<Vec<Definition>>,
    },
}

/// A handle to the running segmenter task.
#[derive(Clone)]
pub struct SegmentService {
    requests: mpsc::Sender<Request>,
    wake: Arc<Notify>,
}

impl SegmentService {
    /// Starts the task; it stops when `shutdown` resolves, after finishing its current step.
    pub fn spawn(
        segmenter: Segmenter,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> (SegmentService, tokio::task::JoinHandle<()>) {
        Self::spawn_with(segmenter, None, shutdown)
    }

    /// As [`SegmentService::spawn`]; `downstream` is notified after each step that recorded
    /// membership changes (the journey runner reads them from the log).
    pub fn spawn_with(
        mut segmenter: Segmenter,
        downstream: Option<Arc<Notify>>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> (SegmentService, tokio::task::JoinHandle<()>) {
        let (requests, mut rx) = mpsc::channel::<Request>(16);
        let wake = Arc::new(Notify::new());
        let woken = wake.clone();
        let task = tokio::spawn(async move {
            tokio::pin!(shutdown);
            loop {
                match segmenter.catch_up(Timestamp::now()).await {
                    Ok(report) if report.changes > 0 => {
                        if let Some(d) = &downstream {
                            d.notify_one();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "segment step failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                let sleep = segmenter
                    .next_timer()
                    .map(|t| {
                        let ms = t.as_millisecond() - Timestamp::now().as_millisecond();
                        Duration::from_millis(ms.max(0) as u64)
                    })
                    .unwrap_or(IDLE_WAKE)
                    .min(IDLE_WAKE);
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = woken.notified() => {}
                    _ = tokio::time::sleep(sleep) => {}
                    request = rx.recv() => match request {
                        None => break,
                        Some(Request::Definitions { reply }) => {
                            let _ = reply.send(segmenter.definitions().to_vec());
                        }
                        Some(Request::Apply { definitions, dry_run, reply }) => {
                            let now = Timestamp::now();
                            let result = match segmenter.plan(definitions, now).await {
                                Ok(plan) if dry_run => Ok(plan.preview),
                                Ok(plan) => {
                                    let preview = plan.preview.clone();
                                    segmenter.apply(plan, now).await.map(|()| preview)
                                }
                                Err(e) => Err(e),
                            };
                            let _ = reply.send(result);
                        }
                    },
                }
            }
        });
        (SegmentService { requests, wake }, task)
    }

    /// Tells the task that new events are durable.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Replaces all definitions (or only previews when `dry_run`), recomputing from history.
    pub async fn apply(
        &self,
        definitions: Vec<Definition>,
        dry_run: bool,
    ) -> Result<Preview, SegmenterError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Apply {
                definitions,
                dry_run,
                reply,
            })
            .await
            .map_err(|_| SegmenterError::Stopped)?;
        answer.await.map_err(|_| SegmenterError::Stopped)?
    }

    /// The definitions in force.
    pub async fn definitions(&self) -> Result<Vec<Definition>, SegmenterError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Definitions { reply })
            .await
            .map_err(|_| SegmenterError::Stopped)?;
        answer.await.map_err(|_| SegmenterError::Stopped)
    }
}
