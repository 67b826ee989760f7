//! The one error type, and the one shape of every HTTP error answer.
//! Marketplace handlers turn an [`Error`] into a result code (always HTTP
//! 200 with a signed body); user and admin routes into an HTTP status with
//! `{"error", "message"}` ([`ErrorBody`]). The full cause goes to the log
//! only. Whatever the body, [`answer`] sets the headers a status promises:
//! `WWW-Authenticate` on 401 (RFC 9110 §15.5.2), `Retry-After` on 503.
//! Refusal pages for people signing in are `sso::refusal`'s.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder};
use sea_orm::DbErr;
use serde::Serialize;

use crate::marketplace::ResultCode;

#[derive(thiserror::Error)]
pub enum Error {
    /// Bad, missing or unknown credentials; stale timestamp; replayed nonce.
    /// Over HTTP: a machine API's bearer token (`Bearer` challenge).
    #[error("authentication failed: {0}")]
    Unauthenticated(&'static str),
    /// A person's route without a live session (`/sso/me`, the gate):
    /// the challenge names the sign-in page.
    #[error("not signed in")]
    NotSignedIn,
    /// Malformed body, missing or oversized field, bad enum value.
    #[error("invalid parameter: {0}")]
    Invalid(String),
    /// The instance is unknown, or released (a released instance is gone for
    /// every purpose but the audit trail).
    #[error("instance does not exist")]
    InstanceNotFound,
    /// The same idempotency key is being processed by another request.
    #[error("the same request is being processed")]
    InProgress,
    /// applicationSync's clientSecret cannot be decrypted (`000101`).
    #[error("problem with the app secret: {0}")]
    AppSecret(&'static str),
    /// A configured capacity limit is reached (`provisioning.max_instances`).
    #[error("no resource available")]
    NoCapacity,
    /// Authenticated, but this request may not do this (an admin form
    /// without its session's CSRF token); the text is for the operator.
    #[error("{0}")]
    Forbidden(&'static str),
    /// An admin or API resource that does not exist.
    #[error("not found")]
    NotFound,
    /// The storage failed; the caller may retry.
    #[error("storage failure")]
    Storage(#[source] DbErr),
    /// The cache (Redis) failed; the caller may retry.
    #[error("cache failure")]
    Cache(#[source] redis::RedisError),
    /// What this replica knows of revocations is too old to trust (the
    /// database has not answered for a while); the caller may retry.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// The vendor's app (`upstream.url`) did not answer the gate.
    #[error("the application did not answer")]
    UpstreamFailed,
    /// Settings that cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// Anything else unexpected.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The marketplace result code for this error (spec §2).
    pub fn result_code(&self) -> ResultCode {
        match self {
            Error::Unauthenticated(_) | Error::NotSignedIn | Error::Forbidden(_) => {
                ResultCode::AuthFailed
            }
            Error::Invalid(_) => ResultCode::InvalidParameter,
            Error::InstanceNotFound | Error::NotFound => ResultCode::InstanceNotFound,
            Error::InProgress => ResultCode::InProgress,
            Error::NoCapacity => ResultCode::NoResource,
            Error::AppSecret(_) => ResultCode::AppSecretProblem,
            Error::Storage(_)
            | Error::Cache(_)
            | Error::Unavailable(_)
            | Error::UpstreamFailed
            | Error::Config(_)
            | Error::Internal(_) => ResultCode::InternalError,
        }
    }

    /// Text safe to send to the marketplace or a user: never the cause of a
    /// fault (it may name tables, hosts or values).
    pub fn public_message(&self) -> String {
        if self.is_fault() {
            "internal error, please retry".to_string()
        } else {
            self.to_string()
        }
    }

    /// A fault of koogate's own (storage, cache, settings, a bug): its
    /// cause is for the log only.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Error::Storage(_)
                | Error::Cache(_)
                | Error::Unavailable(_)
                | Error::Config(_)
                | Error::Internal(_)
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

impl From<DbErr> for Error {
    /// Lock waits that ran out mean another request holds the same rows:
    /// the marketplace should simply retry (`000004`), everything else is a
    /// storage fault (`000005`).
    fn from(err: DbErr) -> Self {
        if is_lock_timeout(&err) {
            Error::InProgress
        } else {
            Error::Storage(err)
        }
    }
}

impl From<redis::RedisError> for Error {
    fn from(err: redis::RedisError) -> Self {
        Error::Cache(err)
    }
}

/// PostgreSQL `lock_not_available` (55P03, raised by `lock_timeout`) and
/// SQLite `SQLITE_BUSY` (another connection holds the write lock).
fn is_lock_timeout(err: &DbErr) -> bool {
    use sea_orm::{sqlx, RuntimeErr};
    let runtime = match err {
        DbErr::Exec(r) | DbErr::Query(r) | DbErr::Conn(r) => r,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx::Error::Database(db)) = runtime else {
        return false;
    };
    matches!(db.code().as_deref(), Some("55P03") | Some("5") | Some("517"))
}

/// Walks the `source()` chain so a log line shows the whole cause.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// How a client proves who it is, named by `WWW-Authenticate` on a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// RFC 6750: the machine APIs (`/admin/api`, `/app-api`).
    Bearer,
    /// A session cookie set by the sign-in form at this path, in the
    /// words of the Cookie-auth draft (draft-broyer-http-cookie-auth):
    /// there is no registered scheme for "sign in with a browser".
    SignIn(&'static str),
}

impl Challenge {
    pub fn header_value(self) -> String {
        match self {
            Challenge::Bearer => format!("Bearer realm=\"{REALM}\""),
            Challenge::SignIn(form) => format!("Cookie realm=\"{REALM}\", form-action=\"{form}\""),
        }
    }
}

/// The protection space every challenge names.
pub const REALM: &str = "koogate";
/// What a 503 asks the client to wait: long enough for a pool to reconnect
/// or the revocation reader to catch up (it is stale after 5 s).
pub const RETRY_AFTER_SECS: u32 = 5;

/// The body of every JSON error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A snake_case code a client may branch on.
    pub error: &'a str,
    /// Text for a person; never the cause of a fault.
    pub message: &'a str,
}

/// The start of every error answer, JSON or page: the status and the
/// headers it promises (`challenge` on a 401, `Retry-After` on a 503).
pub fn answer(status: StatusCode, challenge: Challenge) -> HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        builder.insert_header((header::WWW_AUTHENTICATE, challenge.header_value()));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        builder.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
    }
    builder
}

/// A JSON error answer: `{"error": code, "message": message}`.
pub fn json(status: StatusCode, challenge: Challenge, code: &str, message: &str) -> HttpResponse {
    answer(status, challenge).json(ErrorBody { error: code, message })
}

impl Error {
    /// The challenge a 401 for this error carries.
    fn challenge(&self) -> Challenge {
        match self {
            Error::NotSignedIn => Challenge::SignIn("/sso/login"),
            _ => Challenge::Bearer,
        }
    }

    /// The `error` code of its JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated(_) | Error::NotSignedIn => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::Invalid(_) | Error::AppSecret(_) => "invalid_request",
            Error::InstanceNotFound | Error::NotFound => "not_found",
            Error::InProgress => "in_progress",
            Error::NoCapacity => "no_capacity",
            Error::Storage(_) | Error::Cache(_) | Error::Unavailable(_) => "unavailable",
            Error::UpstreamFailed => "bad_gateway",
            Error::Config(_) | Error::Internal(_) => "internal",
        }
    }
}

/// A query string the handler's type refuses (a word for a number, a
/// repeated key) is bad input: 400 with the JSON error answer, not the
/// framework's plain text.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|err, _| Error::Invalid(err.to_string()).into())
}

/// A path segment that cannot name anything (a word where an id is a
/// number) names nothing: 404 with the JSON error answer.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|_, _| Error::NotFound.into())
}

/// User and admin routes: an HTTP status and [`ErrorBody`]; the cause of a
/// fault goes to the log, never to the client.
impl actix_web::ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::Unauthenticated(_) | Error::NotSignedIn => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Invalid(_) | Error::AppSecret(_) => StatusCode::BAD_REQUEST,
            Error::InstanceNotFound | Error::NotFound => StatusCode::NOT_FOUND,
            Error::InProgress => StatusCode::CONFLICT,
            Error::Storage(_) | Error::Cache(_) | Error::Unavailable(_) | Error::NoCapacity => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::UpstreamFailed => StatusCode::BAD_GATEWAY,
            Error::Config(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if self.is_fault() {
            tracing::error!(error = ?self, "request failed");
        }
        json(self.status_code(), self.challenge(), self.code(), &self.public_message())
    }
}
