//! The reverse proxy to `upstream.url` (ARCHITECTURE §4): bodies streamed
//! both ways over a pooled client, hop-by-hop headers dropped, every
//! client-sent `X-Koogate-*` header removed and koogate's own set (see
//! [`super::forwarded`]).

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::TryStreamExt;

use crate::error::Error;
use crate::gate::cache::GateCache;
use crate::gate::caller::{who_is_calling, Turned};
use crate::gate::outgoing;
use crate::gate::pool::Returning;
use crate::gate::upstream::{Upload, WorkerClient};
use crate::sso::cookies::cookie_secure;
use crate::sso::refusal::{wants_html, Refusal};
use crate::sso::{session_cookie_name, Deps};
use crate::state::AppState;

/// Every path koogate does not own.
pub async fn forward(
    state: web::Data<AppState>,
    client: web::Data<WorkerClient>,
    callers: web::Data<GateCache>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    if !client.is_set() {
        // No vendor app: a signed-in person sees who they are, not a 404.
        if req.method() == actix_web::http::Method::GET && wants_html(&req) {
            if let Some(page) = crate::sso::pages::landing(&state, &req).await {
                return page;
            }
        }
        return Error::NotFound.error_response();
    }
    let Ok(method) = hyper::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return HttpResponse::MethodNotAllowed().finish();
    };
    let glance = outgoing::glance(req.headers(), session_cookie_name(cookie_secure(&state)));
    let issuer = &state.settings.server.public_url;
    let caller =
        who_is_calling(&Deps::of(&state), &callers, &state.identity, issuer, glance.session).await;
    let seen = match caller {
        Ok(Ok(seen)) => seen,
        Ok(Err(Turned::Anonymous)) => return anonymous(&req),
        Ok(Err(Turned::Refused(refusal))) => return refusal.answer(&state.pages, &req),
        Err(err) => {
            tracing::error!(error = ?err, "the session store failed");
            if wants_html(&req) {
                return Refusal::TryAgain.page(&state.pages, &req);
            }
            return err.error_response();
        }
    };
    let headers = outgoing::for_app(
        req.headers(),
        req.peer_addr().map(|a| a.ip()),
        glance.host.or(req.uri().authority().map(|a| a.as_str())),
        &state.settings.server.trusted_proxies,
        &seen.told,
        client.app_host(),
        None,
    );
    let body = if glance.body { Upload::streamed(payload) } else { Upload::empty() };
    let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let path_and_query = hyper::http::uri::PathAndQuery::try_from(path_and_query).ok();
    let outbound = path_and_query.and_then(|target| client.request(method, &target, headers, body));
    let Some(outbound) = outbound else {
        crate::prometheus::proxy_upstream_error();
        return Error::UpstreamFailed.error_response();
    };
    let sent = std::time::Instant::now();
    match client.send(outbound).await {
        Ok(response) => {
            crate::prometheus::proxied(sent.elapsed());
            relay(response)
        }
        Err(err) => {
            crate::prometheus::proxy_upstream_error();
            tracing::warn!(error = ?err, "the upstream did not answer");
            Error::UpstreamFailed.error_response()
        }
    }
}

/// Browsers go to sign-in; API clients get 401.
fn anonymous(req: &HttpRequest) -> HttpResponse {
    if wants_html(req) {
        let next = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
        return HttpResponse::Found()
            .insert_header((header::LOCATION, format!("/sso/login?next={next}")))
            .finish();
    }
    Error::NotSignedIn.error_response()
}

/// The upstream's answer, streamed back with its status and end-to-end
/// headers; with the app's `Content-Length` when it gave one (a download
/// shows its size, and nothing is re-encoded as chunks).
fn relay(response: hyper::Response<Returning>) -> HttpResponse {
    use actix_web::http::StatusCode;
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    let mut length = None;
    for (name, value) in response.headers() {
        // Header names come out of the parser in lower case already.
        if name == hyper::header::CONTENT_LENGTH {
            length = value.to_str().ok().and_then(|v| v.parse::<u64>().ok());
            continue;
        }
        if !outgoing::relayed(name.as_str()) {
            continue;
        }
        builder.append_header((name.as_str(), value.as_bytes()));
    }
    // Statuses that never carry a body keep the streaming path (actix
    // writes what each allows); an answer to HEAD is sized and sends none.
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let body =
        http_body_util::BodyDataStream::new(response.into_body()).map_err(std::io::Error::other);
    let mut relayed = match length {
        Some(length) if !bodiless => builder.body(SizedStream::new(length, body)),
        _ => builder.streaming(body),
    };
    relayed.extensions_mut().insert(crate::security_headers::Relayed);
    relayed
}
