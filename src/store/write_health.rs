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
                // A SQLSTATE (PostgreSQL) is always five characters; SQLite
                // reports a number of at most four digits, an extended code
                // whose primary code is the low byte.
                if code.len() == 5 {
                    // 57P: the server shutting down or restarting.
                    match (&code[..2], code.starts_with("57P")) {
                        ("53", _) => WriteFailure::DiskFull,
                        ("58", _) | ("XX", _) => WriteFailure::Io,
                        ("08", _) | (_, true) => WriteFailure::ConnectionLost,
                        _ => WriteFailure::Other,
                    }
                } else {
                    match code.parse::<i32>().map(|c| c & 0xff) {
                        Ok(13) => WriteFailure::DiskFull,
                        Ok(10) | Ok(11) | Ok(26) => WriteFailure::Io,
                        _ => WriteFailure::Other,
                    }
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sea_orm::sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A database error as a driver reports it: only its code matters.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "code {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn failed_commit(code: &'static str) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(Box::new(Coded(code)))))
    }

    #[test]
    fn commit_failures_are_told_apart_by_their_codes() {
        let cases = [
            ("13", WriteFailure::DiskFull),          // SQLITE_FULL
            ("53100", WriteFailure::DiskFull),       // PostgreSQL disk_full
            ("10", WriteFailure::Io),                // SQLITE_IOERR
            ("778", WriteFailure::Io),               // SQLITE_IOERR_WRITE
            ("58030", WriteFailure::Io),             // PostgreSQL io_error
            ("08006", WriteFailure::ConnectionLost), // connection_failure
            ("57P01", WriteFailure::ConnectionLost), // admin_shutdown
            ("57014", WriteFailure::Other),          // a statement timeout
            ("2067", WriteFailure::Other),           // SQLITE_CONSTRAINT_UNIQUE
            ("23505", WriteFailure::Other),          // unique_violation
        ];
        for (code, class) in cases {
            assert_eq!(WriteFailure::classify(&failed_commit(code)), class, "code {code}");
        }
        let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let cut = DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Io(cut)));
        assert_eq!(WriteFailure::classify(&cut), WriteFailure::ConnectionLost);
    }

    #[test]
    fn an_outage_is_said_once_until_writes_work_again() {
        let health = WriteHealth::default();
        health.failed(&failed_commit("13"));
        health.failed(&failed_commit("13"));
        health.failed(&failed_commit("2067"));
        assert_eq!(health.failing(), vec![WriteFailure::DiskFull], "a refusal is no outage");
        health.succeeded();
        assert!(health.failing().is_empty());
    }
}
