//! The records of calls refused before they authenticated, written by one
//! background writer in batches (group commit), so that a flood of forged
//! calls costs the database one write transaction at a time instead of
//! one per call: genuine calls wait for at most one batch's commit.
//!
//! A refused call hands its event to a bounded queue and waits for the
//! batch that holds it to commit (so its record is there once it is
//! answered, as before). When the queue is full the record is dropped:
//! counted in `koogate_refused_records_dropped_total` and said in a log
//! line at most once a second; the call is answered at once.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{self, Db};
use crate::write_cap::PerSecond;

/// Refused-call records waiting for the writer, at most.
const QUEUE: usize = 512;

/// Rows in one write transaction, at most.
const BATCH: usize = 100;

/// Refused calls recorded per second, per koogate process, at most: a
/// flood of forged calls must not become a flood of writes (each record
/// is already small, see `inbound::refused_body`).
const RECORDS_PER_SEC: u32 = 100;

/// One record for the writer, or (no event) a marker that everything
/// queued before it is written.
struct Job {
    event: Option<entity::event::Model>,
    written: oneshot::Sender<()>,
}

/// The handle calls use; cloned freely, one writer behind all clones.
#[derive(Clone)]
pub struct RefusedLog {
    queue: mpsc::Sender<Job>,
    /// This process's cap, kept with its writer (not a static: two
    /// applications in one process, as the tests run them, each have one).
    cap: Arc<PerSecond>,
}

/// Why a refused call's record was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// More refused calls per second than are recorded ([`RECORDS_PER_SEC`]).
    OverRate,
    /// The writer is behind: its queue is full.
    QueueFull,
}

impl Dropped {
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::OverRate => "over_rate",
            Dropped::QueueFull => "queue_full",
        }
    }
}

impl RefusedLog {
    /// Starts the writer on the current runtime.
    pub fn start(db: Db) -> RefusedLog {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db, jobs));
        RefusedLog { queue, cap: Arc::new(PerSecond::new(RECORDS_PER_SEC)) }
    }

    /// Queues `event` and waits until its batch is written (or failed:
    /// best effort, as before). Over the rate, or with the queue full, it
    /// is dropped at once (the warning line of `settle` and the call
    /// metric still count the call).
    pub async fn record(&self, event: entity::event::Model) {
        if !self.cap.allow(chrono::Utc::now().timestamp()) {
            return dropped(Dropped::OverRate);
        }
        let (written, done) = oneshot::channel();
        match self.queue.try_send(Job { event: Some(event), written }) {
            Ok(()) => {
                // The writer answers every job it takes; a closed writer
                // (shutting down) only means there is nothing to wait for.
                let _ = done.await;
            }
            Err(_) => dropped(Dropped::QueueFull),
        }
    }

    /// Waits until every record queued so far is written: at shutdown.
    pub async fn flush(&self) {
        let (written, done) = oneshot::channel();
        if self.queue.send(Job { event: None, written }).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// Counts a record that was not written and says so, once a second.
pub fn dropped(why: Dropped) {
    static SAID: PerSecond = PerSecond::new(1);
    crate::prometheus::refused_record_dropped(why.as_str());
    if SAID.allow(chrono::Utc::now().timestamp()) {
        tracing::warn!(
            why = why.as_str(),
            "records of refused calls are being dropped (a flood of unauthenticated calls?)"
        );
    }
}

/// The writer: takes what is queued (up to [`BATCH`]), writes it in one
/// transaction, tells the waiting calls, again until every handle is gone.
async fn write_batches(db: Db, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    while jobs.recv_many(&mut batch, BATCH).await > 0 {
        let events: Vec<_> = batch.iter_mut().filter_map(|j| j.event.take()).collect();
        if !events.is_empty() {
            write(&db, events).await;
        }
        for job in batch.drain(..) {
            let _ = job.written.send(());
        }
    }
}

/// One transaction for the batch; if it fails, each row on its own, so
/// one row the database refuses does not lose the others.
async fn write(db: &Db, events: Vec<entity::event::Model>) {
    let count = events.len();
    let together = async {
        let tx = db.begin_write().await?;
        for event in events.iter().cloned() {
            store::events::insert(&tx.txn, event).await?;
        }
        tx.commit().await
    }
    .await;
    let Err(err) = together else { return };
    if count == 1 {
        return said(db, &err);
    }
    for event in events {
        let alone = async {
            let tx = db.begin_write().await?;
            store::events::insert(&tx.txn, event).await?;
            tx.commit().await
        }
        .await;
        if let Err(err) = alone {
            said(db, &err);
        }
    }
}

/// While the database cannot write, that was said once per failure class
/// (store::write_health); a line per record would bury it.
fn said(db: &Db, err: &crate::error::Error) {
    if db.failing_writes().is_empty() {
        tracing::error!(error = ?err, "could not record a refused call");
    } else {
        tracing::debug!(error = ?err, "could not record a refused call");
    }
}
