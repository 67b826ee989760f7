//! The gate's common case, answered in the front: a request for the
//! vendor's app, without a body, from a browser whose session is live.
//! It is checked and forwarded by the same rules as koogate's own server
//! applies (`gate::caller`, `gate::outgoing`), without passing through
//! actix-web. Anything else (no session, an ended one, an upload, a path
//! of koogate's own or one spelled with escapes) is not answered here, and
//! the front hands it to koogate's own server, which answers it in full.

use std::net::SocketAddr;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::http::uri::PathAndQuery;
use hyper::{Request, Response};
use tracing::Instrument;

use crate::error::Error;
use crate::front::answer::{self, Answer};
use crate::front::WorkerShared;
use crate::gate::caller::who_is_calling;
use crate::gate::outgoing;
use crate::gate::pool::Returning;
use crate::gate::start::LastStart;
use crate::gate::upstream::{Upload, WorkerClient};
use crate::sso::cookies::cookie_secure;
use crate::sso::{session_cookie_name, Deps};
use crate::state::AppState;

/// The app's answer to `request` from `peer`, or `None` when this request
/// is not the gate's common case. `last` is the start of the headers of
/// the last request the connection forwarded.
pub async fn forward(
    state: &AppState,
    shared: &WorkerShared,
    peer: Option<SocketAddr>,
    last: &LastStart,
    request: &Request<Incoming>,
) -> Option<Response<Answer>> {
    let client = &shared.client;
    let path = request.uri().path();
    // A percent-escape could spell one of koogate's own paths, which its
    // router reads decoded.
    if !client.is_set()
        || path.contains('%')
        || crate::own_paths::is_own(path, &state.settings.marketplace.path)
    {
        return None;
    }
    let glance = outgoing::glance(request.headers(), session_cookie_name(cookie_secure(state)));
    let cookie = glance.session.filter(|_| !glance.body)?;
    let issuer = &state.settings.server.public_url;
    let caller =
        who_is_calling(&Deps::of(state), &shared.callers, &state.identity, issuer, Some(cookie))
            .await;
    let Ok(Ok(seen)) = caller else { return None };
    let span = crate::telemetry::forwarded_span(request.method().as_str(), path);
    let started = (!span.is_disabled()).then(Instant::now);
    let headers = outgoing::for_app(
        request.headers(),
        peer.map(|p| p.ip()),
        glance.host.or(request.uri().authority().map(|a| a.as_str())),
        &state.settings.server.trusted_proxies,
        &seen.told,
        client.app_host(),
        Some(last),
    );
    let root = PathAndQuery::from_static("/");
    let path_and_query = request.uri().path_and_query().unwrap_or(&root);
    let outbound =
        client.request(request.method().clone(), path_and_query, headers, Upload::empty());
    let answer = match outbound {
        // Not instrumented when no span is open (at `info`): the wrapper
        // would move the whole exchange's future once more on every
        // request, to enter a span that records nothing.
        Some(outbound) if span.is_disabled() => {
            send(client, outbound, request.method(), path).await
        }
        Some(outbound) => {
            send(client, outbound, request.method(), path).instrument(span.clone()).await
        }
        None => Err(()),
    };
    let answer = answer.unwrap_or_else(|()| {
        crate::prometheus::proxy_upstream_error();
        answer::own(&Error::UpstreamFailed, path, state)
    });
    if let Some(started) = started {
        crate::telemetry::finished(&span, answer.status().as_u16(), started);
    }
    Some(answer)
}

/// The app's answer to `outbound`; `method` and `path` (the client's) name
/// the request in the line a failure logs, since its span is seldom open.
async fn send(
    client: &WorkerClient,
    outbound: Request<Upload>,
    method: &hyper::Method,
    path: &str,
) -> Result<Response<Answer>, ()> {
    let sent = Instant::now();
    match client.send(outbound).await {
        Ok(response) => {
            crate::prometheus::proxied(sent.elapsed());
            Ok(relay(response))
        }
        Err(err) => {
            tracing::warn!(method = %method, path, error = ?err, "the upstream did not answer");
            Err(())
        }
    }
}

/// The app's answer with its status and end-to-end headers, its body
/// streamed as it arrives (with the app's `Content-Length` when it gave
/// one).
fn relay(response: Response<Returning>) -> Response<Answer> {
    let (mut head, body) = response.into_parts();
    outgoing::keep_relayed(&mut head.headers);
    Response::from_parts(head, Answer::App(body))
}
