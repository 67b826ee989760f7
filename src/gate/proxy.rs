//! The reverse proxy to `upstream.url` (ARCHITECTURE §4): bodies streamed
//! both ways over a pooled client, hop-by-hop headers dropped, every
//! client-sent `X-Koogate-*` header removed and koogate's own set (see
//! [`super::forwarded`]).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::Error;
use crate::gate::caller::{who_is_calling, Turned};
use crate::gate::forwarded::{self, TrustedProxies};
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

// koogate's own headers, named once rather than parsed on every request.
const KOOGATE_TENANT: HeaderName = HeaderName::from_static("x-koogate-tenant");
const KOOGATE_USER: HeaderName = HeaderName::from_static("x-koogate-user");
const KOOGATE_ROLE: HeaderName = HeaderName::from_static("x-koogate-role");
const KOOGATE_ORG: HeaderName = HeaderName::from_static("x-koogate-org");
const KOOGATE_IDENTITY: HeaderName = HeaderName::from_static("x-koogate-identity");
const KOOGATE_PLAN: HeaderName = HeaderName::from_static("x-koogate-plan");

/// The client for the vendor's app, one per worker thread: a client's
/// connections are driven by the runtime that opened them, so one client
/// shared by actix's single-threaded workers would pass every response
/// from thread to thread.
pub struct WorkerClient(pub reqwest::Client);

/// Builds a client for the vendor's app: pooled keep-alive connections,
/// no redirects followed (the browser sees them).
pub fn upstream_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(3))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .build()
}

/// Every path koogate does not own.
pub async fn forward(
    state: web::Data<AppState>,
    client: web::Data<WorkerClient>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let upstream = state.settings.upstream.url.trim_end_matches('/');
    if upstream.is_empty() {
        // No vendor app: a signed-in person sees who they are, not a 404.
        if req.method() == actix_web::http::Method::GET && wants_html(&req) {
            if let Some(page) = crate::sso::pages::landing(&state, &req).await {
                return page;
            }
        }
        return Error::NotFound.error_response();
    }
    let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return HttpResponse::MethodNotAllowed().finish();
    };
    let cookie = req.cookie(session_cookie_name(cookie_secure(&state)));
    let issuer = &state.settings.server.public_url;
    let caller = who_is_calling(
        &Deps::of(&state),
        &state.gate_cache,
        &state.identity,
        issuer,
        cookie.as_ref().map(|c| c.value()),
    )
    .await;
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
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(url) = reqwest::Url::parse(&format!("{upstream}{path}")) else {
        crate::prometheus::proxy_upstream_error();
        return Error::UpstreamFailed.error_response();
    };
    let mut outbound = reqwest::Request::new(method, url);
    let headers = outbound.headers_mut();
    forward_headers(&req, &state.settings.server.trusted_proxies, headers);
    let session = &seen.session;
    for (name, value) in [
        (KOOGATE_TENANT, session.tenant_id.as_str()),
        (KOOGATE_USER, session.user_name.as_str()),
        (KOOGATE_ROLE, session.role.as_str()),
        (KOOGATE_ORG, session.org_code.as_deref().unwrap_or("")),
        (KOOGATE_IDENTITY, &seen.token),
    ] {
        headers.insert(name, header_value(value));
    }
    if let Some(plan) = &seen.plan {
        headers.insert(KOOGATE_PLAN, header_value(plan));
    }
    if has_body(&req) {
        *outbound.body_mut() = Some(stream_body(payload));
    }
    let sent = std::time::Instant::now();
    match client.0.execute(outbound).await {
        Ok(response) => {
            crate::prometheus::proxied(sent.elapsed());
            relay(response)
        }
        Err(err) => {
            crate::prometheus::proxy_upstream_error();
            tracing::warn!(error = %err.without_url(), "the upstream did not answer");
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
    for (name, value) in forwarded::forwarding(req.headers(), peer, authority, trusted) {
        if let Ok(value) = HeaderValue::try_from(value) {
            out.insert(name, value);
        }
    }
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

/// Header values must be visible ASCII; anything else is URL-encoded (the
/// identity token carries the exact text).
fn header_value(value: &str) -> HeaderValue {
    let fit = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    let encoded;
    let text = if fit {
        value
    } else {
        encoded = form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        &encoded
    };
    // Visible ASCII (or URL-encoded into it) is always a valid value.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn has_body(req: &HttpRequest) -> bool {
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING)
}

/// The request body, chunk by chunk, without buffering it: the actix
/// payload is read on this worker and handed to the client over a channel.
fn stream_body(mut payload: web::Payload) -> reqwest::Body {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    reqwest::Body::wrap_stream(chunks)
}

/// The upstream's answer, streamed back with its status and end-to-end
/// headers.
fn relay(response: reqwest::Response) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        // Header names come out of the parser in lower case already.
        let name_text = name.as_str();
        if HOP_BY_HOP.contains(&name_text) || name == reqwest::header::CONTENT_LENGTH {
            continue;
        }
        builder.append_header((name.as_str(), value.as_bytes()));
    }
    let mut relayed = builder.streaming(response.bytes_stream().map_err(std::io::Error::other));
    relayed.extensions_mut().insert(crate::security_headers::Relayed);
    relayed
}
