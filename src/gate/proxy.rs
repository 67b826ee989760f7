//! The reverse proxy to `upstream.url` (ARCHITECTURE §4): bodies streamed
//! both ways over a pooled client, hop-by-hop headers dropped, every
//! client-sent `X-Koogate-*` header removed and koogate's own set (see
//! [`super::forwarded`]).

use actix_web::body::SizedStream;
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

/// The client for the vendor's app, one per worker thread: a client's
/// connections are driven by the runtime that opened them, so one client
/// shared by actix's single-threaded workers would pass every response
/// from thread to thread.
pub struct WorkerClient {
    client: reqwest::Client,
    upstream: Upstream,
}

impl WorkerClient {
    pub fn new(client: reqwest::Client, upstream_url: &str) -> WorkerClient {
        WorkerClient { client, upstream: Upstream::parse(upstream_url) }
    }
}

/// `upstream.url`, parsed once per worker: a request only sets its own path
/// and query on a copy (its scheme and host are not parsed again).
enum Upstream {
    /// No vendor app.
    Unset,
    /// Not a URL: every forward is a bad gateway.
    Unusable,
    /// The app, and the path it is mounted under (no trailing `/`).
    At { base: reqwest::Url, prefix: String },
}

impl Upstream {
    fn parse(text: &str) -> Upstream {
        let text = text.trim_end_matches('/');
        if text.is_empty() {
            return Upstream::Unset;
        }
        match reqwest::Url::parse(text) {
            Ok(base) if base.cannot_be_a_base() => Upstream::Unusable,
            Ok(base) => {
                let prefix = base.path().trim_end_matches('/').to_string();
                Upstream::At { base, prefix }
            }
            Err(_) => Upstream::Unusable,
        }
    }

    /// Where the app answers `path` and `query` (as the client sent them).
    fn url(&self, path: &str, query: Option<&str>) -> Option<reqwest::Url> {
        let Upstream::At { base, prefix } = self else { return None };
        let mut url = base.clone();
        if prefix.is_empty() {
            url.set_path(path);
        } else {
            url.set_path(&format!("{prefix}{path}"));
        }
        url.set_query(query);
        Some(url)
    }
}

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
    if matches!(client.upstream, Upstream::Unset) {
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
    let Some(url) = client.upstream.url(req.uri().path(), req.uri().query()) else {
        crate::prometheus::proxy_upstream_error();
        return Error::UpstreamFailed.error_response();
    };
    let mut outbound = reqwest::Request::new(method, url);
    let headers = outbound.headers_mut();
    forward_headers(&req, &state.settings.server.trusted_proxies, headers);
    for (name, value) in seen.told.iter() {
        headers.insert(name.clone(), value.clone());
    }
    if has_body(&req) {
        *outbound.body_mut() = Some(stream_body(payload));
    }
    let sent = std::time::Instant::now();
    match client.client.execute(outbound).await {
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
/// headers; with the app's `Content-Length` when it gave one (a download
/// shows its size, and nothing is re-encoded as chunks).
fn relay(response: reqwest::Response) -> HttpResponse {
    use actix_web::http::StatusCode;
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    let mut length = None;
    for (name, value) in response.headers() {
        // Header names come out of the parser in lower case already.
        if name == reqwest::header::CONTENT_LENGTH {
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
    let body = response.bytes_stream().map_err(std::io::Error::other);
    let mut relayed = match length {
        Some(length) if !bodiless => builder.body(SizedStream::new(length, body)),
        _ => builder.streaming(body),
    };
    relayed.extensions_mut().insert(crate::security_headers::Relayed);
    relayed
}
