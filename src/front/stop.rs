//! A pending stop, as one worker's connections watch for it.
//!
//! Each connection waits for the stop beside its requests, and that wait
//! is looked at every time the connection wakes. Watching the process's
//! one stop channel directly took its lock, shared by every worker, on
//! each wake-up of every connection; here each worker follows that channel
//! once and its connections watch only the worker's own copy.

use std::cell::Cell;
use std::rc::Rc;

use tokio::sync::{watch, Notify};

/// One worker's view of the process's stop.
#[derive(Clone)]
pub struct Stop(Rc<Shared>);

struct Shared {
    stopped: Cell<bool>,
    told: Notify,
}

impl Stop {
    /// Follows `stopping` (true once the process stops; its sender going
    /// away counts as a stop too). Must be called on the worker's thread.
    pub fn follow(mut stopping: watch::Receiver<bool>) -> Stop {
        let stop = Stop(Rc::new(Shared { stopped: Cell::new(false), told: Notify::new() }));
        let shared = stop.0.clone();
        actix_rt::spawn(async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            shared.stopped.set(true);
            shared.told.notify_waiters();
        });
        stop
    }

    /// Returns once the process is stopping.
    pub async fn requested(&self) {
        // Registered before the look at the flag, so that a stop between
        // the two is not missed.
        let told = self.0.told.notified();
        if self.0.stopped.get() {
            return;
        }
        told.await;
    }
}
