//! The only place that builds SeaORM queries. Domain code calls these
//! functions with any `ConnectionTrait`, usually the call's transaction.

pub mod admin_sessions;
pub mod apps;
pub mod claims;
pub mod departments;
pub mod drift;
pub mod events;
pub mod instances;
pub mod login_attempts;
pub mod nonces;
pub mod operators;
pub mod order_details;
pub mod orders;
pub mod outbox;
pub mod purchases;
pub mod revocations;
pub mod sessions;
pub mod sign_ins;
pub mod signing_keys;
pub mod tenant_sign_ins;
pub mod tenants;
pub mod transitions;
pub mod usage;
pub mod users;
pub mod v1_stamps;
pub mod write_health;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::pool::{PoolConnectionMetadata, PoolOptions};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::Error;
use write_health::WriteHealth;

/// The advisory lock key replicas take turns on while migrating ("kgmi").
const MIGRATION_LOCK: i64 = 0x6b67_6d69;

/// How long a statement waits for a row lock another request holds before
/// the call answers `000004`; well inside the marketplace's 5 s.
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// How long a command run beside a serving koogate (`koogate reconcile`,
/// `koogate operator add`) waits for SQLite's writer: nobody is waiting on
/// its answer, and a busy server may hold the writer for a while.
const COMMAND_LOCK_WAIT: Duration = Duration::from_secs(30);

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
    /// How long a write waits for SQLite's writer.
    lock_wait: Duration,
    health: Arc<WriteHealth>,
}

/// What [`Db::write_statement`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Done,
    /// A unique key was already taken: nothing was written.
    KeyTaken,
}

/// A write transaction; holds the SQLite writer lock until dropped.
pub struct WriteTx {
    pub txn: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
    health: Arc<WriteHealth>,
}

impl WriteTx {
    /// Commits; `Ok` only once the database said the commit succeeded, so
    /// a call answers `000000` only for what is durably stored. A failed
    /// commit is an error (`000005`, or `000004` for a lock wait) and its
    /// connection never serves another call in an unknown state: see
    /// [`release_check`].
    pub async fn commit(self) -> Result<(), Error> {
        let health = self.health.clone();
        match self.txn.commit().await {
            Ok(()) => {
                health.succeeded();
                Ok(())
            }
            Err(err) => {
                health.failed(&err);
                Err(Error::from(err))
            }
        }
    }
}

/// Runs on every connection the pool takes back, before anyone else may
/// use it; `Ok(false)` or an error closes the connection instead.
///
/// # Why
/// After a failed `COMMIT` (SQLITE_FULL, SQLITE_IOERR, a cut PostgreSQL
/// connection) SeaORM drops the transaction with only a queued, unchecked
/// `ROLLBACK`, and sqlx keeps its transaction depth at 1 when the commit
/// or that rollback fails. SQLite may or may not have ended the
/// transaction itself. A connection reused in that state runs every later
/// `BEGIN` as a `SAVEPOINT` and every `COMMIT` as a `RELEASE` inside a
/// transaction that never commits: calls answered `000000` that vanish
/// when the connection closes (issue 17). On SQLite (`FLUSH`) a ping
/// first makes the queued rollback run, since its worker counts the depth
/// only once it has executed it (commands run in order); PostgreSQL
/// counts it when the rollback is queued, and sqlx's own ping after this
/// hook sends it. A connection still inside a transaction then is closed,
/// which rolls it back for certain.
fn release_check<C: Connection, const FLUSH: bool>(
    conn: &mut C,
    _meta: PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if FLUSH {
            conn.ping().await?;
        }
        if conn.is_in_transaction() {
            tracing::warn!("a connection left inside a transaction is closed, not reused");
            return Ok(false);
        }
        Ok(true)
    })
}

impl Db {
    /// Connects (SQLite file or PostgreSQL URL) with koogate's pool options.
    ///
    /// The sqlx pools are built here rather than by SeaORM so every
    /// returned connection passes [`release_check`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, Error> {
        Self::connect_waiting(url, max_connections, LOCK_WAIT).await
    }

    /// [`Db::connect`] for a command run beside a serving koogate: on
    /// SQLite its writes wait longer for the writer (see `COMMAND_LOCK_WAIT`).
    pub async fn connect_for_command(url: &str, max_connections: u32) -> Result<Db, Error> {
        Self::connect_waiting(url, max_connections, COMMAND_LOCK_WAIT).await
    }

    async fn connect_waiting(
        url: &str,
        max_connections: u32,
        lock_wait: Duration,
    ) -> Result<Db, Error> {
        let is_sqlite = url.starts_with("sqlite:");
        let conn = if is_sqlite {
            // FULL, not NORMAL: in WAL mode NORMAL lets a power cut or an
            // OS crash take back the last commits, and a purchase answered
            // 000000 is never sent again. FULL syncs the WAL at each commit.
            let options = url
                .parse::<SqliteConnectOptions>()
                .map_err(connect_error)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(lock_wait)
                .disable_statement_logging();
            let pool = pool_options(max_connections)
                .after_release(release_check::<_, true>)
                .connect_with(options)
                .await;
            SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.map_err(connect_error)?)
        } else {
            // Bounded waits: a row held by a concurrent request answers
            // 000004, a stuck statement 000005, both before the
            // marketplace's 5 s timeout.
            let options = url
                .parse::<PgConnectOptions>()
                .map_err(connect_error)?
                .options([("lock_timeout", "2s"), ("statement_timeout", "4s")])
                .disable_statement_logging();
            let pool = pool_options(max_connections)
                .after_release(release_check::<_, false>)
                .connect_with(options)
                .await;
            SqlxPostgresConnector::from_sqlx_postgres_pool(pool.map_err(connect_error)?)
        };
        Ok(Db {
            conn,
            sqlite_writer: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            lock_wait,
            health: Arc::new(WriteHealth::default()),
        })
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
                tokio::time::timeout(self.lock_wait, lock.clone().lock_owned())
                    .await
                    .map_err(|_| Error::InProgress)?,
            ),
            None => None,
        };
        let txn = self.conn.begin().await.inspect_err(|err| self.health.failed(err))?;
        if writer.is_some() {
            // SQLite begins a transaction as a reader; one that reads and
            // then writes, after another process (a `koogate reconcile`
            // beside the server) committed in between, fails at once with
            // SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out. A
            // write that changes nothing, first, takes the writer lock now
            // (waiting as long as the busy timeout allows) and starts the
            // snapshot with it.
            txn.execute(Statement::from_string(DbBackend::Sqlite, "DELETE FROM nonces WHERE 0"))
                .await
                .inspect_err(|err| self.health.failed(err))?;
        }
        Ok(WriteTx { txn, _writer: writer, health: self.health.clone() })
    }

    /// Runs one statement as its own transaction (no `BEGIN`, no
    /// `COMMIT`: one round trip), counted in write health as a commit is.
    /// A unique violation writes nothing and is no write failure: it comes
    /// back as [`Written::KeyTaken`] for the caller to handle.
    pub async fn write_statement(&self, statement: Statement) -> Result<Written, Error> {
        match self.conn.execute(statement).await {
            Ok(_) => {
                self.health.succeeded();
                Ok(Written::Done)
            }
            Err(err) if is_unique_violation(&err) => Ok(Written::KeyTaken),
            Err(err) => {
                self.health.failed(&err);
                Err(Error::from(err))
            }
        }
    }

    /// The write failure classes seen since the last successful commit.
    pub fn failing_writes(&self) -> Vec<write_health::WriteFailure> {
        self.health.failing()
    }

    /// Proves the database takes a write again (for `/readyz` while writes
    /// fail, so readiness recovers without waiting for a call): a row in
    /// the nonce table under a key no call can claim, already expired.
    pub async fn probe_write(&self) -> Result<(), Error> {
        let tx = self.begin_write().await?;
        let now = chrono::Utc::now().timestamp_millis();
        let statement = Statement::from_sql_and_values(
            tx.txn.get_database_backend(),
            "DELETE FROM nonces WHERE nonce = $1",
            ["koogate:readyz-probe".into()],
        );
        tx.txn.execute(statement).await?;
        nonces::remember(&tx.txn, "koogate:readyz-probe", now - 1).await?;
        tx.commit().await
    }

    /// `SELECT 1`, for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    pub fn is_sqlite(&self) -> bool {
        self.sqlite_writer.is_some()
    }
}

/// sqlx's pool settings: bounded waits, no ping before every use (a round
/// trip per call, about a fifth of the throughput: a connection an outage
/// cut fails once, is dropped, and that call answers a retryable 000005).
fn pool_options<DB: sqlx::Database>(max_connections: u32) -> PoolOptions<DB> {
    PoolOptions::<DB>::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(false)
}

fn connect_error(err: sqlx::Error) -> Error {
    Error::Storage(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err)))
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
/// A row offset SQL can bind (a signed 64-bit integer: the binder refuses
/// more, by panicking). Past `i64::MAX` rows every table is over anyway.
pub fn bindable_offset(offset: u64) -> u64 {
    offset.min(i64::MAX as u64)
}

pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
