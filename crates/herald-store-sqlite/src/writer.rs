//! The single writer and its group commit.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. So one thread owns the
//! write connection and takes commands from a queue: it waits for one, then drains whatever else is
//! already queued, applies them all in one transaction, syncs once, and only then answers each
//! caller. Under load many requests share each fsync; when idle a request waits for just its own.

use crate::apply::{self, Deltas, WriterState};
use crate::checkpoint::{self, Checkpointer};
use crate::sql;
use herald_core::{Message, SourceId, Timestamp};
use herald_store::{
    AppendReport, Claimed, Erasure, JourneyCommit, MessageCommit, SegmentCommit, StoreError,
};
use rusqlite::{Connection, TransactionBehavior};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// How much work (roughly bytes of events) one transaction takes before it commits.
const GROUP_WEIGHT_LIMIT: usize = 16 * 1024 * 1024;

pub enum Command {
    Append {
        source: SourceId,
        messages: Vec<Message>,
        reply: oneshot::Sender<Result<AppendReport, StoreError>>,
    },
    Erase {
        id: String,
        reply: oneshot::Sender<Result<Option<Erasure>, StoreError>>,
    },
    NamedSource {
        name: String,
        reply: oneshot::Sender<Result<SourceId, StoreError>>,
    },
    Segments {
        commit: SegmentCommit,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Journeys {
        commit: JourneyCommit,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Templates {
        records: Vec<herald_store::TemplateRecord>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Claim {
        channels: Vec<String>,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
        reply: oneshot::Sender<Result<Vec<Claimed>, StoreError>>,
    },
    Messages {
        commit: MessageCommit,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Catalog {
        request: crate::catalog::Request,
        reply: oneshot::Sender<Result<crate::catalog::Answer, StoreError>>,
    },
}

impl Command {
    fn weight(&self) -> usize {
        match self {
            Command::Append { messages, .. } => messages.iter().map(Message::weight).sum(),
            Command::Segments { commit, .. } => {
                commit
                    .states
                    .iter()
                    .map(|s| 64 + s.state.as_ref().map_or(0, Vec::len))
                    .sum::<usize>()
                    + commit.changes.len() * 256
            }
            Command::Journeys { commit, .. } => {
                commit
                    .states
                    .iter()
                    .map(|s| 64 + s.state.as_ref().map_or(0, Vec::len) + s.instances.len() * 128)
                    .sum::<usize>()
                    + (commit.messages.len() + commit.actions.len() + commit.traits.len()) * 256
            }
            Command::Messages { commit, .. } => {
                commit.events.iter().map(Message::weight).sum::<usize>()
                    + (commit.updates.len() + commit.consent.len()) * 256
            }
            Command::Catalog { request, .. } => request.weight(),
            _ => 1024,
        }
    }
}

enum Outcome {
    Appended(AppendReport),
    Erased(Option<Erasure>),
    Source(SourceId),
    Segments,
    Journeys,
    Templates,
    Claimed(Vec<Claimed>),
    Messages,
    Catalog(crate::catalog::Answer),
}

/// Runs until every sender is gone, then checkpoints the WAL and closes the database.
pub fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Command>,
    mut state: WriterState,
    checkpointer: Checkpointer,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut weight = first.weight();
        let mut group = vec![first];
        while weight < GROUP_WEIGHT_LIMIT {
            match rx.try_recv() {
                Ok(cmd) => {
                    weight += cmd.weight();
                    group.push(cmd);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = apply_group(&mut conn, &mut state, &group);
        metrics::histogram!("herald_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("herald_commit_commands").record(group.len() as f64);
        match result {
            Ok(outcomes) => {
                for (cmd, outcome) in group.into_iter().zip(outcomes) {
                    reply(cmd, Ok(outcome));
                }
                // After the answers, so that callers never wait for a checkpoint.
                checkpointer.nudge();
                if checkpointer.wal_is_full() {
                    match checkpoint::restart(&conn) {
                        Ok(()) => checkpointer.restarted(),
                        Err(e) => tracing::warn!(error = %e, "WAL restart checkpoint failed"),
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, commands = group.len(), "commit failed; nothing of this group was stored");
                // In-memory caches may describe rows that were rolled back.
                if let Err(reload) = state.reload(&conn) {
                    tracing::error!(error = %reload, "could not reload writer state");
                }
                let message = e.to_string();
                for cmd in group {
                    reply(cmd, Err(StoreError::Backend(message.clone())));
                }
            }
        }
    }
    checkpointer.stop();
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "final WAL checkpoint failed; the WAL will be replayed on next open");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the database failed");
    }
}

fn apply_group(
    conn: &mut Connection,
    state: &mut WriterState,
    group: &[Command],
) -> Result<Vec<Outcome>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let mut deltas = Deltas::default();
    let mut outcomes = Vec::with_capacity(group.len());
    for cmd in group {
        let outcome = match cmd {
            Command::Append {
                source, messages, ..
            } => Outcome::Appended(apply::append(&tx, state, &mut deltas, *source, messages)?),
            Command::Erase { id, .. } => {
                Outcome::Erased(apply::erase(&tx, state, &mut deltas, id)?)
            }
            Command::NamedSource { name, .. } => {
                Outcome::Source(apply::named_source(&tx, state, name)?)
            }
            Command::Segments { commit, .. } => {
                crate::segments::commit(&tx, state, commit)?;
                Outcome::Segments
            }
            Command::Journeys { commit, .. } => {
                crate::journeys::commit(&tx, state, &mut deltas, commit)?;
                Outcome::Journeys
            }
            Command::Templates { records, .. } => {
                crate::templates::commit(&tx, records)?;
                Outcome::Templates
            }
            Command::Claim {
                channels,
                now,
                lease_until,
                limit,
                ..
            } => Outcome::Claimed(crate::messages::claim(
                &tx,
                channels,
                *now,
                *lease_until,
                *limit,
            )?),
            Command::Messages { commit, .. } => {
                crate::messages::commit(&tx, state, &mut deltas, commit)?;
                Outcome::Messages
            }
            Command::Catalog { request, .. } => {
                Outcome::Catalog(crate::catalog::apply(&tx, state, &mut deltas, request)?)
            }
        };
        outcomes.push(outcome);
    }
    apply::finish(&tx, state, &mut deltas)?;
    tx.commit().map_err(sql)?;
    state.committed();
    Ok(outcomes)
}

fn reply(cmd: Command, result: Result<Outcome, StoreError>) {
    // A caller that went away (client disconnected) no longer needs its answer; its events are
    // stored all the same.
    match (cmd, result) {
        (Command::Append { reply, .. }, Ok(Outcome::Appended(r))) => drop(reply.send(Ok(r))),
        (Command::Erase { reply, .. }, Ok(Outcome::Erased(r))) => drop(reply.send(Ok(r))),
        (Command::NamedSource { reply, .. }, Ok(Outcome::Source(r))) => drop(reply.send(Ok(r))),
        (Command::Append { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Erase { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::NamedSource { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Segments { reply, .. }, Ok(Outcome::Segments)) => drop(reply.send(Ok(()))),
        (Command::Segments { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Journeys { reply, .. }, Ok(Outcome::Journeys)) => drop(reply.send(Ok(()))),
        (Command::Journeys { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Templates { reply, .. }, Ok(Outcome::Templates)) => drop(reply.send(Ok(()))),
        (Command::Templates { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Claim { reply, .. }, Ok(Outcome::Claimed(r))) => drop(reply.send(Ok(r))),
        (Command::Claim { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Messages { reply, .. }, Ok(Outcome::Messages)) => drop(reply.send(Ok(()))),
        (Command::Messages { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (Command::Catalog { reply, .. }, Ok(Outcome::Catalog(r))) => drop(reply.send(Ok(r))),
        (Command::Catalog { reply, .. }, Err(e)) => drop(reply.send(Err(e))),
        (_, Ok(_)) => unreachable!("each command yields its own outcome"),
    }
}
