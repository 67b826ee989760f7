//! The HTTP side of an inbound call: its body, read within a limit, and
//! its signed answer.

use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;

use super::{record, Call};
use crate::error::Error;
use crate::marketplace::result::Answer;
use crate::marketplace::signature::body_sign_header;
use crate::store::Db;

/// Largest lifecycle body (spec §2).
pub const LIFECYCLE_MAX_BODY: usize = 64 * 1024;

/// Past the limit we keep reading (and discarding) up to this much, so a
/// marketplace that sent too large a body gets its precise answer (a call
/// that can never succeed) instead of a reset it would retry. Far more
/// than `crate::unread_body` receives of other unread bodies: this one is
/// read only a few at a time (`large_body_turn`).
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// How long a call that failed authentication waits for its answer.
///
/// The marketplace never sees it (its calls authenticate, and it waits
/// 5 s for any answer), while a caller forging calls over a hundred
/// connections, each waiting for its answer, gets through at most a
/// hundred in this time instead of thousands: on two cores the refusals
/// (TCP work mostly, see `crate::unread_body`) then no longer take the
/// CPU genuine calls need (`bench/forged_flood.sh`). Waiting costs a timer;
/// the body meanwhile stays in the kernel, its sender held by TCP.
pub const REFUSAL_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// The signed answer to a call. A success was recorded inside its own
/// transaction; a failure is recorded here, then answered with its code
/// (after [`REFUSAL_PAUSE`] when it failed authentication).
pub async fn respond(
    db: &Db,
    refused: &super::RefusedLog,
    call: &Call,
    result: Result<Answer, Error>,
    signing_key: Option<&String>,
) -> HttpResponse {
    let forged = matches!(result, Err(Error::Unauthenticated(_)));
    let answer = record::settle(db, refused, call, result).await;
    if forged {
        tokio::time::sleep(REFUSAL_PAUSE).await;
    }
    signed_response(answer.to_bytes(), signing_key.map(String::as_str))
}

/// Bodies larger than this (or of unannounced size) take a turn: see
/// [`large_body_turn`].
const LARGE_BODY: u64 = 64 * 1024;

/// The size a request announces (`Content-Length`).
pub fn announced_size(req: &actix_web::HttpRequest) -> Option<u64> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Waits for a turn to read and check a large body (Kit bodies reach
/// 8 MiB: reading one and its HMAC cost real CPU), so that a flood of
/// large posts takes a bounded share of the machine and small calls
/// (lifecycle, small syncs) never wait behind them. Hold the turn until
/// the signature is checked.
pub async fn large_body_turn<'a>(
    turns: &'a tokio::sync::Semaphore,
    req: &actix_web::HttpRequest,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    if announced_size(req).is_some_and(|n| n <= LARGE_BODY) {
        return None;
    }
    // The semaphore is never closed.
    turns.acquire().await.ok()
}

/// Reads a request body of at most `limit` bytes, into room for the size
/// it announces (within the limit): an 8 MiB Kit body grown by doubling
/// was copied about twice over.
pub async fn read_body(
    req: &actix_web::HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, Error> {
    let room = announced_size(req).map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
    let mut body = web::BytesMut::with_capacity(room);
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Error::invalid("the request body could not be read"))?;
        seen += chunk.len();
        if seen <= limit {
            body.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > limit {
        return Err(Error::invalid(format!("the body is larger than {limit} bytes")));
    }
    Ok(body.freeze())
}

/// HTTP 200 with the exact `bytes` and `Body-Sign` made with `signing_key`
/// (absent when no key is configured: there is nothing to sign with).
///
/// Header names are written in camel case (`Body-Sign`, `Content-Type`):
/// the marketplace rejects `Body-sign` (spec §3.4).
pub fn signed_response(bytes: Vec<u8>, signing_key: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8")));
    if let Some(key) = signing_key {
        if let Ok(value) = HeaderValue::from_str(&body_sign_header(key, &bytes)) {
            response.insert_header((HeaderName::from_static("body-sign"), value));
        }
    }
    let mut response = response.body(bytes);
    response.head_mut().set_camel_case_headers(true);
    response
}
