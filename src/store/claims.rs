//! Claiming due rows of a work queue with a lease: the one way the outbox
//! relay, the order-details fetcher and the usage pusher take work.
//!
//! A queue table has `id`, `next_attempt_at`, `claimed_until`,
//! `claim_token` and `attempts` (times in epoch milliseconds) and a column
//! saying whether the row still waits. One statement picks the due rows
//! and stamps them with the claimer's token and lease, and hands them back
//! (`UPDATE … RETURNING`). On PostgreSQL the pick takes `FOR UPDATE SKIP
//! LOCKED`, so replicas claiming at the same moment pass over each other's
//! rows instead of taking them twice; SQLite has one writer. The lease then
//! keeps the rows out of other claimers' reach while the slow work runs,
//! without a lock or a connection held; when it runs out (the claimer
//! died) the rows are due again, and the claimer's later writes, which all
//! check the token, change nothing.

use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Statement};

use crate::error::Error;

/// Which rows of which table a claim may take.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    pub table: &'static str,
    /// The condition a waiting row meets, on the row named `q`
    /// (`q.status = 'pending'`, say): the due time and the lease are added.
    pub waiting: &'static str,
    /// Ordering of the pick, on `q`.
    pub order: &'static str,
}

/// Claims up to `limit` rows of `queue` due at `now` until `lease_until`
/// under `token`, and counts the attempt; returns them with the claim and
/// attempt already counted, in id order.
pub async fn claim<E>(
    conn: &impl ConnectionTrait,
    queue: &Queue,
    now: i64,
    lease_until: i64,
    token: &str,
    limit: u64,
) -> Result<Vec<E::Model>, Error>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Id,
{
    let backend = conn.get_database_backend();
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let Queue { table, waiting, order } = queue;
    let sql = format!(
        "UPDATE {table} SET claimed_until = $1, claim_token = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT q.id FROM {table} q \
           WHERE {waiting} AND q.next_attempt_at <= $3 \
           AND (q.claimed_until IS NULL OR q.claimed_until <= $3) \
           ORDER BY {order} LIMIT $4{lock}) \
         RETURNING *"
    );
    let statement = Statement::from_sql_and_values(
        backend,
        placeholders(backend, &sql),
        [
            lease_until.into(),
            token.into(),
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    );
    let mut rows = E::find().from_raw_sql(statement).all(conn).await?;
    rows.sort_by_key(Id::id);
    Ok(rows)
}

/// A queue row's id, to hand claimed rows back in order.
pub trait Id {
    fn id(&self) -> i64;
}

impl Id for entity::outbox::Model {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Id for entity::order_fetch::Model {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Id for entity::usage_record::Model {
    fn id(&self) -> i64 {
        self.id
    }
}

/// SQLite numbers its parameters `?1`, PostgreSQL `$1`.
pub fn placeholders(backend: DbBackend, sql: &str) -> String {
    match backend {
        DbBackend::Postgres => sql.to_string(),
        _ => sql.replace('$', "?"),
    }
}
