//! A deadline on reading a request body at koogate's own routes
//! (marketplace, sign-in, admin, app API): a client that trickles its
//! body (slowloris) has it cut off at `server.body_timeout_secs` and is
//! answered, instead of holding a connection and a worker's attention
//! for as long as it likes. Bodies the gate forwards to the vendor's app
//! stream on without it (uploads may be slow for good reasons).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::HttpMessage;
use futures_util::Stream;

use crate::state::AppState;

/// The middleware (`from_fn`): the body must be read within the deadline,
/// counted from when the request's head arrived.
pub async fn within_deadline<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let secs = req
        .app_data::<web::Data<AppState>>()
        .map_or(30, |state| state.settings.server.body_timeout_secs);
    let body = Deadline {
        inner: req.take_payload(),
        timer: Box::pin(tokio::time::sleep(Duration::from_secs(secs))),
    };
    req.set_payload(Payload::Stream { payload: Box::pin(body) });
    next.call(req).await
}

struct Deadline {
    inner: Payload,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.timer.as_mut().poll(cx).is_ready() {
            let late =
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the body came too slowly");
            return Poll::Ready(Some(Err(PayloadError::Io(late))));
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}
