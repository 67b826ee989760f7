//! What becomes of a request body that its handler did not read: a forged
//! call refused from its headers, a form posted with an expired session, a
//! body over a limit.
//!
//! HTTP/1.1 cannot answer such a request and keep the connection without
//! first receiving the rest of the body, and closing a socket with unread
//! bytes in it sends a reset that can destroy the answer before the client
//! reads it. actix's own remedy ("lingering": read and discard until the
//! client goes or a timer fires) reads whatever the client sends, so a
//! flood of refused 8 MiB posts had koogate spending most of its CPU
//! receiving bytes it had already refused (`bench/forged_flood.sh`).
//!
//! Here the rest is read and discarded only up to [`READ_AHEAD`] bytes
//! within [`READ_AHEAD_TIME`]: any form-sized body is received, so the
//! browser gets its answer and keeps its connection; a larger body is cut
//! off right after the answer is written (the server sets no linger:
//! `client_disconnect_timeout(0)` in `startup`).

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// How much of an unread body is still received so that its answer
/// arrives intact: more than any form koogate or a vendor's page posts.
pub const READ_AHEAD: usize = 256 * 1024;

/// How long the rest of an unread body may take to arrive.
pub const READ_AHEAD_TIME: Duration = Duration::from_secs(1);

/// The middleware (`from_fn`), outermost: a request that announces a body
/// gets it through a handle kept here, so that once the handler has
/// answered, whatever it left unread can be received (within the bounds
/// above) before the answer goes out.
pub async fn bounded<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if !announces_body(&req) {
        return next.call(req).await;
    }
    let body = Rc::new(RefCell::new(Body { payload: req.take_payload(), ended: false }));
    req.set_payload(Payload::Stream { payload: Box::pin(Handle(body.clone())) });
    let response = next.call(req).await;
    // Only when the handler has let go of the body: a handler still
    // reading it (the gate streaming an upload) keeps what it reads.
    if let Ok(body) = Rc::try_unwrap(body) {
        let mut body = body.into_inner();
        if !body.ended {
            let _ = tokio::time::timeout(READ_AHEAD_TIME, body.discard(READ_AHEAD)).await;
        }
    }
    response
}

/// Whether the request says a body follows (`Content-Length` above zero,
/// or any `Transfer-Encoding`, which for a request means chunked).
fn announces_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// The request body, and whether its end has been seen.
struct Body {
    payload: Payload,
    ended: bool,
}

impl Body {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, PayloadError>>> {
        let polled = Pin::new(&mut self.payload).poll_next(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.ended = true;
        }
        polled
    }

    /// Reads and drops the rest of the body, up to `limit` bytes.
    async fn discard(&mut self, limit: usize) {
        let mut seen = 0usize;
        while seen <= limit {
            match std::future::poll_fn(|cx| self.poll_chunk(cx)).await {
                Some(Ok(chunk)) => seen += chunk.len(),
                Some(Err(_)) | None => return,
            }
        }
    }
}

/// What the handler reads the body through.
struct Handle(Rc<RefCell<Body>>);

impl Stream for Handle {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.borrow_mut().poll_chunk(cx)
    }
}
