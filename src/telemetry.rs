//! Logging: one subscriber, pretty or JSON, level from `RUST_LOG`.
//!
//! Every request runs in one span (`tracing-actix-web`), so each line it
//! logs carries the span's fields: method, path, request id, and, once an
//! inbound call has said them, its channel, activity, tenant and instance
//! ids (`crate::inbound`). One call can be followed through the JSON log.
//!
//! Request spans and lines carry the method and path only: query strings
//! hold signatures, tokens and (V1) encrypted personal fields.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder, TracingLogger};
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

/// The middleware that opens each request's span.
pub fn request_spans() -> TracingLogger<RequestSpan> {
    TracingLogger::new()
}

/// The request span: the default one of `tracing-actix-web` would record
/// the query string (`http.target`), which may hold secrets.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            request_id = request_id.map(tracing::field::display),
            status = Empty,
            channel = Empty,
            activity = Empty,
            tenant_id = Empty,
            instance_id = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
    }
}

/// Logs each request's method, path, status and duration.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Off by default: then a request costs no copy of its method and path.
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.call(req).await;
    }
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let response = next.call(req).await?;
    tracing::debug!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(response)
}
