//! How long a connection may take to send a request's head: [`HEAD_WITHIN`]
//! from the moment it is waiting for one (opened, or its last answer
//! given). A head sent a byte at a time gains nothing, and a kept-alive
//! connection that sends nothing more is closed after the same time.
//!
//! hyper can keep this deadline itself, but it arms a timer for every
//! request (a boxed sleep, registered and removed again); here a
//! connection's one timer wakes at most once per [`HEAD_WITHIN`], and a
//! request costs a clock reading.
//!
//! [`HEAD_WITHIN`]: super::HEAD_WITHIN

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use hyper::body::{Body, Frame, SizeHint};

use super::HEAD_WITHIN;

pub struct HeadDeadline {
    /// Since when a head is awaited; `None` while a request is answered.
    waiting_since: Cell<Option<Instant>>,
}

impl HeadDeadline {
    /// A connection accepted `at`.
    pub fn from(at: Instant) -> HeadDeadline {
        HeadDeadline { waiting_since: Cell::new(Some(at)) }
    }

    /// A request's head has arrived whole.
    pub fn head_arrived(&self) {
        self.waiting_since.set(None);
    }

    /// The last byte of an answer has gone to the connection: the next head
    /// is awaited from now.
    fn answered(&self) {
        self.waiting_since.set(Some(Instant::now()));
    }

    /// Returns once a head was awaited for longer than [`HEAD_WITHIN`].
    pub async fn passed(&self) {
        loop {
            let next_look = match self.waiting_since.get() {
                Some(since) if since.elapsed() >= HEAD_WITHIN => return,
                Some(since) => since + HEAD_WITHIN,
                // A request is being answered, for as long as it takes.
                None => Instant::now() + HEAD_WITHIN,
            };
            tokio::time::sleep_until(next_look.into()).await;
        }
    }
}

/// An answer's body, telling the deadline when it has been sent whole
/// (hyper lets go of a body once it has sent it, or given up on it).
pub struct Answered<B> {
    pub body: B,
    pub deadline: Rc<HeadDeadline>,
}

impl<B> Drop for Answered<B> {
    fn drop(&mut self) {
        self.deadline.answered();
    }
}

impl<B: Body + Unpin> Body for Answered<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
