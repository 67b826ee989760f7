//! The reverse proxy to `upstream.url` (ARCHITECTURE §4): bodies streamed
//! both ways over a pooled client, hop-by-hop headers dropped, every
//! client-sent `X-Koogate-*` header removed and koogate's own set (see
//! [`super::forwarded`]).

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::TryStreamExt;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::Error;
use crate::gate::caller::{who_is_calling, Turned};
use crate::gate::forwarded::{self, TrustedProxies};
use crate::gate::pool::Returning;
use crate::gate::upstream::{Upload, WorkerClient};
use crate::sso::cookies::cookie_secure;
use crate::sso::refusal::{wants_html, Refusal};
use crate::sso::{session_cookie_name, Deps};
use crate::state::AppState;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Every path koogate does not own.
pub async fn forward(
    state: web::Data<AppState>,
    client: web::Data<WorkerClient>,
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
    let cookie = cookie_value(&req, session_cookie_name(cookie_secure(&state)));
    let issuer = &state.settings.server.public_url;
    let caller =
        who_is_calling(&Deps::of(&state), &state.gate_cache, &state.identity, issuer, cookie).await;
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
    // Room for the client's headers, the forwarding ones and the identity.
    let mut headers = HeaderMap::with_capacity(req.headers().len() + 10);
    forward_headers(&req, &state.settings.server.trusted_proxies, &mut headers);
    for (name, value) in seen.told.iter() {
        headers.insert(name.clone(), value.clone());
    }
    let body = if has_body(&req) { Upload::streamed(payload) } else { Upload::empty() };
    let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Some(outbound) = client.request(method, path_and_query, headers, body) else {
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

/// The client's headers minus hop-by-hop ones, reserved ones (see
/// [`forwarded::is_reserved`]) and koogate's own cookies (a session id is a
/// credential for koogate only); then koogate's forwarding headers. Names
/// come lower-case from the parser and are compared as they are.
fn forward_headers(req: &HttpRequest, trusted: &TrustedProxies, out: &mut HeaderMap) {
    let named_by_connection: Vec<String> = req
        .headers()
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect();
    for (name, value) in req.headers() {
        let name = name.as_str();
        if HOP_BY_HOP.contains(&name)
            || named_by_connection.iter().any(|n| n == name)
            || forwarded::is_reserved(name)
        {
            continue;
        }
        let value = if name == "cookie" {
            match value.to_str().ok().map(without_koogate_cookies).filter(|c| !c.is_empty()) {
                Some(kept) => HeaderValue::try_from(kept),
                None => continue,
            }
        } else {
            HeaderValue::from_bytes(value.as_bytes())
        };
        // Both parse what actix already checked; a failure cannot happen.
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), value) {
            out.append(name, value);
        }
    }
    let peer = req.peer_addr().map(|a| a.ip());
    let authority = req.uri().authority().map(|a| a.as_str());
    forwarded::forwarding(req.headers(), peer, authority, trusted, out);
}

fn without_koogate_cookies(cookie: &str) -> String {
    cookie
        .split(';')
        .map(str::trim)
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !name.starts_with("koogate_") && !name.starts_with("__Host-koogate_")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The value of the cookie `name`, read in place: the gate asks for one
/// cookie on every request and needs none of the others parsed.
fn cookie_value<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

fn has_body(req: &HttpRequest) -> bool {
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING)
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
        if HOP_BY_HOP.contains(&name.as_str()) {
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
