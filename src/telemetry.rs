//! Logging: one subscriber, pretty or JSON, level from `RUST_LOG`.
//!
//! Every request koogate answers runs in one span ([`request_span`]), so
//! each line it logs carries the span's fields: method, path, request id, and, once an
//! inbound call has said them, its channel, activity, tenant and instance
//! ids (`crate::inbound`). One call can be followed through the JSON log.
//!
//! Request spans and lines carry the method and path only: query strings
//! hold signatures, tokens and (V1) encrypted personal fields.
//!
//! Lines are written to standard output by a thread of their own, never by
//! the thread answering a request: a log collector that stops reading
//! would otherwise stop every answer once the pipe is full. While it does
//! not read, up to [`LINES_HELD`] lines wait in memory; past that, lines
//! are dropped, counted (`koogate_log_lines_dropped_total`) and reported
//! in the log once it is read again ([`spawn_drop_report`]).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines kept in memory while standard output is not read: a few seconds
/// of a busy koogate's `info` lines, about 2 MB.
const LINES_HELD: usize = 8_192;

/// How often lines dropped since the last report are reported.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(5);

/// The count of lines dropped so far, once the subscriber is installed.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Keeps the log's writer thread; dropped at exit, it writes out what is
/// still held (waiting at most a second for a reader).
#[must_use = "lines still held are lost when this is dropped"]
pub struct LogWriter {
    _guard: Option<WorkerGuard>,
}

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(format: &str) -> LogWriter {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LINES_HELD)
        .thread_name("koogate-log")
        .finish(std::io::stdout());
    let dropped = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    let installed = if format == "json" { builder.json().try_init() } else { builder.try_init() };
    if installed.is_err() {
        return LogWriter { _guard: None };
    }
    let _ = DROPPED.set(dropped);
    LogWriter { _guard: Some(guard) }
}

/// Log lines dropped so far because standard output was not read.
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |counter| counter.dropped_lines() as u64)
}

/// Says in the log, every [`DROP_REPORT_EVERY`], how many lines were
/// dropped since it last got through: the first line an operator reads
/// after the gap says what is missing.
pub fn spawn_drop_report() {
    tokio::spawn(async move {
        let mut reported = dropped_lines();
        let mut tick = tokio::time::interval(DROP_REPORT_EVERY);
        loop {
            tick.tick().await;
            let dropped = dropped_lines();
            if dropped > reported {
                tracing::warn!(
                    lines = dropped - reported,
                    since_start = dropped,
                    "log lines could not be written: standard output was not being read"
                );
                // While nobody reads, this line is dropped as well: the
                // lines stay unreported until a report gets through.
                if dropped_lines() == dropped {
                    reported = dropped;
                }
            }
        }
    });
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
