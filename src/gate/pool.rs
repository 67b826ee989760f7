//! The worker's kept-alive connections to the vendor's app.
//!
//! An actix worker is one thread and every connection it opens is driven
//! by a task on that thread, so its pool is a plain list: no lock, no pool
//! key hashed per request, and no task spawned per request to put a
//! connection back once its answer has been read (hyper-util's general
//! client did all three). A connection goes back when the body of its
//! answer has been read to the end; one whose answer was not read whole
//! is closed with it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::Response;

use crate::gate::upstream::Upload;

/// A connection idle this long is closed, not reused.
const IDLE_FOR: Duration = Duration::from_secs(60);
/// How often idle connections are looked over when no request comes.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// At most this many idle connections per worker; a connection coming back
/// to a full pool is closed.
const MAX_IDLE: usize = 256;

type Idle = RefCell<VecDeque<Kept>>;

/// A connection waiting for its next request, and since when.
struct Kept {
    sender: SendRequest<Upload>,
    since: Instant,
}

pub struct Pool {
    /// Oldest first: connections come back at the end and are taken from
    /// the end, so the ones at the front are the first to expire.
    idle: Rc<Idle>,
    sweeping: Cell<bool>,
}

impl Pool {
    pub fn new() -> Pool {
        Pool { idle: Rc::new(RefCell::new(VecDeque::new())), sweeping: Cell::new(false) }
    }

    /// The most recently used connection that is still open and ready for
    /// a request now; `None` when there is none. A request never waits for
    /// a connection: one still busy (its answer read, but the client's
    /// upload still going to the app) is left in the pool for later.
    pub fn checkout(&self) -> Option<SendRequest<Upload>> {
        let mut idle = self.idle.borrow_mut();
        let mut busy = Vec::new();
        let mut ready = None;
        let mut looked = Context::from_waker(Waker::noop());
        while let Some(mut kept) = idle.pop_back() {
            if kept.since.elapsed() >= IDLE_FOR {
                continue;
            }
            match kept.sender.poll_ready(&mut looked) {
                Poll::Ready(Ok(())) => {
                    ready = Some(kept.sender);
                    break;
                }
                // The app closed it.
                Poll::Ready(Err(_)) => {}
                Poll::Pending => busy.push(kept),
            }
        }
        // Back where they were (the newest end), oldest first.
        idle.extend(busy.into_iter().rev());
        ready
    }

    /// The app's `response` on `sender`'s connection, which comes back to
    /// this pool when the response's body has been read to the end.
    pub fn answered(
        &self,
        response: Response<Incoming>,
        sender: SendRequest<Upload>,
    ) -> Response<Returning> {
        let back = Some((sender, Rc::downgrade(&self.idle)));
        response.map(|body| Returning { body, finished: false, back })
    }

    /// Closes, every half minute, the connections idle for longer than
    /// [`IDLE_FOR`], so that a quiet worker does not keep them open. Started
    /// with the worker's first connection (it needs the worker's runtime),
    /// and ends with the pool.
    pub fn start_sweeping(&self) {
        if self.sweeping.replace(true) {
            return;
        }
        let idle = Rc::downgrade(&self.idle);
        actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(SWEEP_EVERY).await;
                let Some(idle) = idle.upgrade() else { return };
                let Ok(mut idle) = idle.try_borrow_mut() else { continue };
                expire(&mut idle, Instant::now());
            }
        });
    }
}

impl Default for Pool {
    fn default() -> Pool {
        Pool::new()
    }
}

fn expire(idle: &mut VecDeque<Kept>, now: Instant) {
    while idle.front().is_some_and(|kept| now.duration_since(kept.since) >= IDLE_FOR) {
        idle.pop_front();
    }
}

/// The body of the app's answer; its connection goes back to the pool when
/// this is dropped after the last byte was read.
pub struct Returning {
    body: Incoming,
    finished: bool,
    back: Option<(SendRequest<Upload>, Weak<Idle>)>,
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.finished = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        // A sized body is over when its last byte is read, before anyone
        // polls for its end.
        if !(self.finished || self.body.is_end_stream()) {
            return;
        }
        let Some((sender, idle)) = self.back.take() else { return };
        let Some(idle) = idle.upgrade() else { return };
        let Ok(mut idle) = idle.try_borrow_mut() else { return };
        let now = Instant::now();
        expire(&mut idle, now);
        if idle.len() < MAX_IDLE {
            idle.push_back(Kept { sender, since: now });
        }
    }
}
