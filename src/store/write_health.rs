//! Whether the database takes writes: set by every commit, read by
//! `/readyz`. A full disk or a failing device is said once per failure
//! class in the log (not once per call) and counted in a metric.

use std::sync::Mutex;

use sea_orm::{sqlx, DbErr, RuntimeErr};

/// Why a commit failed, as far as an operator needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteFailure {
    /// SQLITE_FULL, PostgreSQL 53100 disk_full (and the other 53xxx
    /// "insufficient resources").
    DiskFull,
    /// SQLITE_IOERR (any extended code), SQLITE_CORRUPT/NOTADB.
    Io,
    /// The connection broke (reset, closed, timed out) mid-write.
    ConnectionLost,
    /// Anything else (constraint, lock wait, bug).
    Other,
}

impl WriteFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteFailure::DiskFull => "disk_full",
            WriteFailure::Io => "io_error",
            WriteFailure::ConnectionLost => "connection_lost",
            WriteFailure::Other => "other",
        }
    }

    pub fn classify(err: &DbErr) -> WriteFailure {
        let runtime = match err {
            DbErr::Exec(r) | DbErr::Query(r) | DbErr::Conn(r) => r,
            DbErr::ConnectionAcquire(_) => return WriteFailure::ConnectionLost,
            _ => return WriteFailure::Other,
        };
        let RuntimeErr::SqlxError(sqlx_err) = runtime else { return WriteFailure::Other };
        match sqlx_err {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                // SQLite reports extended codes; the primary code is the low byte.
                match code.parse::<i32>().map(|c| c & 0xff) {
                    Ok(13) => WriteFailure::DiskFull,
                    Ok(10) | Ok(11) | Ok(26) => WriteFailure::Io,
                    Ok(_) => WriteFailure::Other,
                    Err(_) if code.starts_with("53") => WriteFailure::DiskFull,
                    Err(_) if code.starts_with("08") || code.starts_with("57P") => {
                        WriteFailure::ConnectionLost
                    }
                    Err(_) if code.starts_with("58") => WriteFailure::Io,
                    Err(_) => WriteFailure::Other,
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => WriteFailure::ConnectionLost,
            _ => WriteFailure::Other,
        }
    }

    /// A failure that says the database cannot write right now (rather
    /// than that this one call was wrong).
    fn is_outage(self) -> bool {
        self != WriteFailure::Other
    }
}

/// The failure classes seen since the last successful commit.
#[derive(Default)]
pub struct WriteHealth {
    failing: Mutex<Vec<WriteFailure>>,
}

impl WriteHealth {
    /// A commit failed: counted always, logged the first time its class
    /// is seen since writes last worked.
    pub fn failed(&self, err: &DbErr) {
        let class = WriteFailure::classify(err);
        crate::prometheus::storage_write_failure(class.as_str());
        if !class.is_outage() {
            return;
        }
        let first = match self.failing.lock() {
            Ok(mut failing) if !failing.contains(&class) => {
                failing.push(class);
                true
            }
            _ => false,
        };
        if first {
            tracing::error!(class = class.as_str(), error = %err, "the database cannot write; calls answer 000005 until it can");
        }
    }

    /// A commit succeeded: writes work (again).
    pub fn succeeded(&self) {
        let was_failing = match self.failing.lock() {
            Ok(mut failing) if !failing.is_empty() => {
                failing.clear();
                true
            }
            _ => false,
        };
        if was_failing {
            tracing::warn!("the database writes again");
        }
    }

    /// The classes failing now; empty when the last commit worked.
    pub fn failing(&self) -> Vec<WriteFailure> {
        self.failing.lock().map(|f| f.clone()).unwrap_or_default()
    }
}
