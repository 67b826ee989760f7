//! The one error type. Marketplace handlers turn it into a result code
//! (always HTTP 200 with a signed body); user and admin routes into an HTTP
//! status with `{"error", "message"}`. The full cause goes to the log only.

use sea_orm::DbErr;

use crate::marketplace::ResultCode;

#[derive(thiserror::Error)]
pub enum Error {
    /// Bad, missing or unknown credentials; stale timestamp; replayed nonce.
    #[error("authentication failed: {0}")]
    Unauthenticated(&'static str),
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
            Error::Unauthenticated(_) | Error::Forbidden(_) => ResultCode::AuthFailed,
            Error::Invalid(_) => ResultCode::InvalidParameter,
            Error::InstanceNotFound | Error::NotFound => ResultCode::InstanceNotFound,
            Error::InProgress => ResultCode::InProgress,
            Error::NoCapacity => ResultCode::NoResource,
            Error::AppSecret(_) => ResultCode::AppSecretProblem,
            Error::Storage(_)
            | Error::Cache(_)
            | Error::Unavailable(_)
            | Error::Config(_)
            | Error::Internal(_) => ResultCode::InternalError,
        }
    }

    /// Text safe to send to the marketplace or a user: never the cause of a
    /// fault (it may name tables, hosts or values).
    pub fn public_message(&self) -> String {
        match self {
            Error::Storage(_)
            | Error::Cache(_)
            | Error::Unavailable(_)
            | Error::Config(_)
            | Error::Internal(_) => "internal error, please retry".to_string(),
            other => other.to_string(),
        }
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

/// User and admin routes: an HTTP status and `{"error", "message"}`; the
/// cause of a fault goes to the log, never to the client.
impl actix_web::ResponseError for Error {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Invalid(_) | Error::AppSecret(_) => StatusCode::BAD_REQUEST,
            Error::InstanceNotFound | Error::NotFound => StatusCode::NOT_FOUND,
            Error::InProgress => StatusCode::CONFLICT,
            Error::Storage(_) | Error::Cache(_) | Error::Unavailable(_) | Error::NoCapacity => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::Config(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let code = match self {
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::Invalid(_) | Error::AppSecret(_) => "invalid_request",
            Error::InstanceNotFound | Error::NotFound => "not_found",
            Error::InProgress => "in_progress",
            Error::NoCapacity => "no_capacity",
            Error::Storage(_) | Error::Cache(_) | Error::Unavailable(_) => "unavailable",
            Error::Config(_) | Error::Internal(_) => "internal",
        };
        if self.status_code().is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        actix_web::HttpResponse::build(self.status_code())
            .json(serde_json::json!({"error": code, "message": self.public_message()}))
    }
}
