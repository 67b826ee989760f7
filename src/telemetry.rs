//! Logging: one subscriber, pretty or JSON, level from `RUST_LOG`.
//!
//! Every request koogate answers runs in one span ([`request_span`]), so
//! each line it logs carries the span's fields: method, path, request id, and, once an
//! inbound call has said them, its channel, activity, tenant and instance
//! ids (`crate::inbound`). One call can be followed through the JSON log.
//!
//! Request spans and lines carry the method and path only: query strings
//! hold signatures, tokens and (V1) encrypted personal fields.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// Runs each request in its `request` span and, at `debug`, logs one
/// line per request with its status and duration. The span names the
/// method, path and request id; its status is recorded at the end, and
/// inbound calls add their channel, activity, tenant and instance ids.
/// The default span of `tracing-actix-web` would record the query string
/// (`http.target`), which may hold secrets; its request id was a random
/// UUID read from the operating system on every request.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let span = span(req.method().as_str(), req.path());
    // Off by default (`RUST_LOG=info`, `warn`): nothing more to do.
    if span.is_disabled() {
        return next.call(req).await;
    }
    let started = Instant::now();
    let outcome = next.call(req).instrument(span.clone()).await;
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    finished(&span, status.as_u16(), started);
    outcome
}

/// The span of a request the front forwards to the app without koogate's
/// own server: opened only when request lines are logged (`debug`). At
/// `info` it would record nothing, yet cost a fifth of the gate's work on
/// every request (`bench/gate_callgrind.sh`); the one line such a request
/// can log (the app did not answer) names its method and path itself.
pub fn forwarded_span(method: &str, path: &str) -> tracing::Span {
    if tracing::enabled!(tracing::Level::DEBUG) {
        span(method, path)
    } else {
        tracing::Span::none()
    }
}

/// The span of one request (see [`request_span`]).
fn span(method: &str, path: &str) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %method,
        path = %path,
        request_id = %RequestId::next(),
        status = Empty,
        channel = Empty,
        activity = Empty,
        tenant_id = Empty,
        instance_id = Empty,
    )
}

/// Records a request's status in its span and logs its line at `debug`.
pub fn finished(span: &tracing::Span, status: u16, started: Instant) {
    span.record("status", status);
    span.in_scope(|| {
        tracing::debug!(status, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "request");
    });
}

/// A request's id: this process's random prefix and the request's number,
/// so ids differ between requests, restarts and replicas without asking
/// the operating system for randomness on every request.
struct RequestId(u64);

/// Requests numbered so far by this process.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// This process's prefix, drawn once.
static PROCESS: LazyLock<u32> = LazyLock::new(rand::random);

impl RequestId {
    fn next() -> RequestId {
        RequestId(REQUESTS.fetch_add(1, Ordering::Relaxed))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}-{}", *PROCESS, self.0)
    }
}
