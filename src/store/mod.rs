//! The only place that builds SeaORM queries. Domain code calls these
//! functions with any `ConnectionTrait`, usually the call's transaction.

pub mod admin_sessions;
pub mod apps;
pub mod departments;
pub mod events;
pub mod instances;
pub mod nonces;
pub mod order_details;
pub mod orders;
pub mod outbox;
pub mod revocations;
pub mod sessions;
pub mod signing_keys;
pub mod tenants;
pub mod transitions;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::Error;

/// The advisory lock key replicas take turns on while migrating ("kgmi").
const MIGRATION_LOCK: i64 = 0x6b67_6d69;

/// How long a statement waits for a row lock another request holds before
/// the call answers `000004`; well inside the marketplace's 5 s.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// The database, plus (on SQLite) the single-writer lock.
///
/// SQLite allows one writer at a time; a deferred transaction that reads and
/// then writes can fail at once with `SQLITE_BUSY` instead of waiting. One
/// node owns the file (ARCHITECTURE §6), so serialising write transactions
/// in-process is both correct and the fastest way to use it.
#[derive(Clone)]
pub struct Db {
    pub conn: DatabaseConnection,
    sqlite_writer: Option<Arc<Mutex<()>>>,
}

/// A write transaction; holds the SQLite writer lock until dropped.
pub struct WriteTx {
    pub txn: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), Error> {
        self.txn.commit().await.map_err(Error::from)
    }
}

impl Db {
    /// Connects (SQLite file or PostgreSQL URL) with koogate's pool options.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, Error> {
        let is_sqlite = url.starts_with("sqlite:");
        let mut options = ConnectOptions::new(url.to_string());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(3))
            .acquire_timeout(Duration::from_secs(3))
            .sqlx_logging(false)
            // No ping before every use (a round trip per call, about a fifth
            // of the throughput); a connection an outage cut fails once, is
            // dropped, and that call answers a retryable 000005.
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(LOCK_WAIT)
            })
            .map_sqlx_postgres_opts(|o: PgConnectOptions| {
                // Bounded waits: a row held by a concurrent request answers
                // 000004, a stuck statement 000005, both before the
                // marketplace's 5 s timeout.
                o.options([("lock_timeout", "2s"), ("statement_timeout", "4s")])
            });
        let conn = Database::connect(options).await.map_err(Error::Storage)?;
        Ok(Db { conn, sqlite_writer: is_sqlite.then(|| Arc::new(Mutex::new(()))) })
    }

    /// Applies pending migrations. On PostgreSQL they run in one
    /// transaction behind an advisory lock, so replicas starting together
    /// take turns, and without the request timeouts (an index on a big
    /// table may take longer than a request should).
    pub async fn migrate(&self) -> Result<(), Error> {
        if self.is_sqlite() {
            return Migrator::up(&self.conn, None).await.map_err(Error::Storage);
        }
        let turn = self.conn.begin().await?;
        for sql in [
            "SET LOCAL lock_timeout = 0".to_string(),
            "SET LOCAL statement_timeout = 0".to_string(),
            format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"),
        ] {
            turn.execute(Statement::from_string(DbBackend::Postgres, sql)).await?;
        }
        Migrator::up(&turn, None).await.map_err(Error::Storage)?;
        turn.commit().await?;
        Ok(())
    }

    /// Begins the transaction of one write; waits for the SQLite writer lock
    /// no longer than a row lock would wait on PostgreSQL.
    pub async fn begin_write(&self) -> Result<WriteTx, Error> {
        let writer = match &self.sqlite_writer {
            Some(lock) => Some(
                tokio::time::timeout(LOCK_WAIT, lock.clone().lock_owned())
                    .await
                    .map_err(|_| Error::InProgress)?,
            ),
            None => None,
        };
        let txn = self.conn.begin().await?;
        Ok(WriteTx { txn, _writer: writer })
    }

    /// `SELECT 1`, for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    pub fn is_sqlite(&self) -> bool {
        self.sqlite_writer.is_some()
    }
}

/// Serialises the writes about one tenant across every replica until the
/// transaction ends (PostgreSQL advisory lock; SQLite has a single writer
/// already). Sync calls read before they write (grants' sync times, the
/// department tree), so two at once must not interleave.
pub async fn lock_tenant(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<(), Error> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [format!("koogate:tenant:{tenant_id}").into()],
    );
    conn.execute(statement).await?;
    Ok(())
}

/// True when the error is a unique-constraint violation: the idempotency
/// key already exists.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
