//! The conductor as a task beside the HTTP server.
//!
//! One task owns the [`Conductor`]; everything else talks to it through a [`JourneyService`]
//! handle. It wakes when new events are durable (ingest, or the segment engine recording
//! membership changes), when the earliest wake-up of any person is due, or when asked to apply
//! definitions, and each time catches up at the current time.

use crate::ConductorError;
use crate::conductor::{ApplyReport, Conductor};
use herald_core::{ProfileId, Timestamp};
use herald_journeys::ast::Document;
use herald_journeys::ast::JourneyName;
use herald_journeys::runner::{Action, Migration};
use herald_store::JourneyRecord;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// Longest sleep without a due wake-up: a safety net, not the mechanism.
const IDLE_WAKE: Duration = Duration::from_secs(5);

enum Request {
    Apply {
        document: Document,
        dry_run: bool,
        reply: oneshot::Sender<Result<ApplyReport, ConductorError>>,
    },
    Records {
        reply: oneshot::Sender<Vec<JourneyRecord>>,
    },
    Migrate {
        journey: JourneyName,
        dry_run: bool,
        reply: oneshot::Sender<Result<Vec<Migration>, ConductorError>>,
    },
    Enrol {
        profile: ProfileId,
        journey: JourneyName,
        properties: Map<String, Value>,
        reply: oneshot::Sender<Result<Option<Vec<Action>>, ConductorError>>,
    },
}

/// A handle to the running conductor task.
#[derive(Clone)]
pub struct JourneyService {
    requests: mpsc::Sender<Request>,
    wake: Arc<Notify>,
}

impl JourneyService {
    /// Starts the task; it stops when `shutdown` resolves, after finishing its current step.
    pub fn spawn(
        conductor: Conductor,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> (JourneyService, tokio::task::JoinHandle<()>) {
        JourneyService::spawn_with(conductor, None, shutdown)
    }

    /// [`JourneyService::spawn`], also notifying `downstream` (the dispatcher) after each step,
    /// since a step may have queued messages.
    pub fn spawn_with(
        mut conductor: Conductor,
        downstream: Option<Arc<Notify>>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> (JourneyService, tokio::task::JoinHandle<()>) {
        let (requests, mut rx) = mpsc::channel::<Request>(16);
        let wake = Arc::new(Notify::new());
        let woken = wake.clone();
        let task = tokio::spawn(async move {
            tokio::pin!(shutdown);
            loop {
                if let Err(e) = conductor.catch_up(Timestamp::now()).await {
                    tracing::error!(error = %e, "journey step failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                if let Some(d) = &downstream {
                    d.notify_one();
                }
                let next = conductor.next_due().await.ok().flatten();
                let sleep = next
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
                        Some(Request::Records { reply }) => {
                            let _ = reply.send(conductor.records().to_vec());
                        }
                        Some(Request::Migrate { journey, dry_run, reply }) => {
                            let _ = reply.send(conductor.migrate(&journey, dry_run).await);
                        }
                        Some(Request::Enrol { profile, journey, properties, reply }) => {
                            let result = conductor
                                .enrol(profile, &journey, properties, Timestamp::now())
                                .await;
                            let _ = reply.send(result);
                        }
                        Some(Request::Apply { document, dry_run, reply }) => {
                            let result = conductor.apply(&document, dry_run, Timestamp::now()).await;
                            let _ = reply.send(result);
                        }
                    },
                }
            }
        });
        (JourneyService { requests, wake }, task)
    }

    /// Tells the task that new events are durable.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What [`JourneyService::wake`] notifies, for producers of events that hold no handle.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stores new versions of the document's journeys and its rules (or only reports, with
    /// `dry_run`).
    pub async fn apply(
        &self,
        document: Document,
        dry_run: bool,
    ) -> Result<ApplyReport, ConductorError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Apply {
                document,
                dry_run,
                reply,
            })
            .await
            .map_err(|_| ConductorError::Stopped)?;
        answer.await.map_err(|_| ConductorError::Stopped)?
    }

    /// Moves running instances of older versions of a journey to its live version.
    pub async fn migrate(
        &self,
        journey: JourneyName,
        dry_run: bool,
    ) -> Result<Vec<Migration>, ConductorError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Migrate {
                journey,
                dry_run,
                reply,
            })
            .await
            .map_err(|_| ConductorError::Stopped)?;
        answer.await.map_err(|_| ConductorError::Stopped)?
    }

    /// Enrols a person in a journey triggered `on api` (`None`: no such profile).
    pub async fn enrol(
        &self,
        profile: ProfileId,
        journey: JourneyName,
        properties: Map<String, Value>,
    ) -> Result<Option<Vec<Action>>, ConductorError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Enrol {
                profile,
                journey,
                properties,
                reply,
            })
            .await
            .map_err(|_| ConductorError::Stopped)?;
        answer.await.map_err(|_| ConductorError::Stopped)?
    }

    /// Every stored version of every journey.
    pub async fn records(&self) -> Result<Vec<JourneyRecord>, ConductorError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Records { reply })
            .await
            .map_err(|_| ConductorError::Stopped)?;
        answer.await.map_err(|_| ConductorError::Stopped)
    }
}
