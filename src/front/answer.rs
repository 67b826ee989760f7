//! What the front sends back: the app's answer as it streams in, koogate's
//! own server's answer as it streams in, or one of koogate's error answers
//! made in the front itself.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::web::Bytes;
use actix_web::ResponseError;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use crate::error::Error;
use crate::gate::pool::Returning;
use crate::state::AppState;

pub enum Answer {
    /// Relayed from the vendor's app.
    App(Returning),
    /// From koogate's own server.
    Own(Incoming),
    /// Made here, whole.
    Whole(Option<Bytes>),
}

impl Body for Answer {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Answer::App(body) => Pin::new(body).poll_frame(cx),
            Answer::Own(body) => Pin::new(body).poll_frame(cx),
            Answer::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Answer::App(body) => body.is_end_stream(),
            Answer::Own(body) => body.is_end_stream(),
            Answer::Whole(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Answer::App(body) => body.size_hint(),
            Answer::Own(body) => body.size_hint(),
            Answer::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

/// koogate's answer for `error` at `path`, as its own server would give
/// it: the error module's body and headers, and the headers of every
/// answer koogate gives itself.
pub fn own(error: &Error, path: &str, state: &AppState) -> Response<Answer> {
    let (head, body) = error.error_response().into_parts();
    // The error module's bodies are whole, never streamed.
    let body = body.try_into_bytes().unwrap_or_default();
    let mut answer = Response::new(Answer::Whole(Some(body)));
    *answer.status_mut() =
        StatusCode::from_u16(head.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = answer.headers_mut();
    for (name, value) in head.headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    for (name, value) in crate::security_headers::for_own_answer(path, state) {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    answer
}
