//! Copying the write-ahead log back into the database file, beside the writer.
//!
//! Every committed page is written twice: once to the WAL (the durable commit) and once more when
//! a checkpoint copies it into the database file. SQLite's automatic checkpoint does that second
//! write on the writer's thread, inside a commit, which stalls every request of that group. Here
//! the writer's automatic checkpoint is off and a thread of its own copies pages with `PASSIVE`
//! checkpoints on a second connection, while the writer keeps committing.
//!
//! A passive checkpoint never waits, so under continuous load it can trail the writer and the
//! WAL would grow without end; when it passes [`WAL_FRAME_LIMIT`] the writer itself runs a
//! `RESTART` checkpoint, which has little left to copy, so that the next commit starts the log
//! from its beginning again.

use crate::sql;
use herald_store::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// WAL pages (4 KiB each) after which the writer forces the log to restart.
pub const WAL_FRAME_LIMIT: i64 = 32_768;

/// The shortest pause between two background passes: each pass ends with an fsync of the
/// database file, and back-to-back passes of a few pages would only compete with the commits.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The background checkpointer of one database.
pub struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    wal_frames: Arc<AtomicI64>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread with its own connection to `path`.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql)?;
        let (nudge, rx) = mpsc::sync_channel(1);
        let wal_frames = Arc::new(AtomicI64::new(0));
        let frames = wal_frames.clone();
        let thread = std::thread::Builder::new()
            .name("herald-checkpoint".into())
            .spawn(move || run(conn, rx, frames))?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            wal_frames,
            thread: Some(thread),
        })
    }

    /// Tells the thread that the WAL has grown. Never blocks: a nudge already waiting is enough.
    pub fn nudge(&self) {
        if let Some(n) = &self.nudge {
            match n.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::warn!(
                        "the checkpoint thread is gone; the WAL is only copied at limits"
                    )
                }
            }
        }
    }

    /// Whether the WAL, as last seen by the thread, is past the limit.
    pub fn wal_is_full(&self) -> bool {
        self.wal_frames.load(Ordering::Relaxed)
            >= std::env::var("HWL")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(WAL_FRAME_LIMIT)
    }

    /// The writer restarted the log: its size is no longer what the thread last saw.
    pub fn restarted(&self) {
        self.wal_frames.store(0, Ordering::Relaxed);
    }

    /// Stops the thread after its current pass.
    pub fn stop(mut self) {
        self.nudge.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}

fn run(conn: Connection, rx: Receiver<()>, wal_frames: Arc<AtomicI64>) {
    let mut last = Instant::now() - MIN_INTERVAL;
    while rx.recv().is_ok() {
        let wait = MIN_INTERVAL.saturating_sub(last.elapsed());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        last = Instant::now();
        let started = Instant::now();
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match result {
            Ok((log, copied)) => {
                wal_frames.store(log, Ordering::Relaxed);
                metrics::histogram!("herald_checkpoint_seconds")
                    .record(started.elapsed().as_secs_f64());
                tracing::trace!(log, copied, "passive checkpoint");
            }
            Err(e) => tracing::warn!(error = %e, "background checkpoint failed; will retry"),
        }
    }
}

/// Runs on the writer's connection when the WAL is past its limit: copies what the background
/// pass has not and makes the next commit start the log again.
pub fn restart(conn: &Connection) -> rusqlite::Result<()> {
    let started = Instant::now();
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get(0))?;
    metrics::histogram!("herald_checkpoint_restart_seconds")
        .record(started.elapsed().as_secs_f64());
    if busy != 0 {
        tracing::debug!("WAL restart checkpoint was busy; trying again after the next commit");
    }
    Ok(())
}
