//! The order-details queue and the order lines it brings back (see
//! `crate::open_api::fetch`). Times are epoch milliseconds.

use entity::order_fetch::{self, Entity as OrderFetch};
use entity::order_line::{self, Entity as OrderLine};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement,
};

use crate::error::Error;

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

/// Queues an order (in the caller's transaction); an order already
/// queued stays as it is, so a repeated call queues nothing.
pub async fn queue(
    conn: &impl ConnectionTrait,
    row: order_fetch::ActiveModel,
) -> Result<(), Error> {
    OrderFetch::insert(row)
        .on_conflict(
            OnConflict::columns([order_fetch::Column::OrderId, order_fetch::Column::OrderLineId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` due fetches until `lease_until` and counts the
/// attempt. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets replicas pass over
/// each other's rows; the lease keeps them while the call runs, without a
/// lock or a connection held (as `store::outbox::claim`).
pub async fn claim(
    conn: &impl ConnectionTrait,
    now: i64,
    lease_until: i64,
    token: &str,
    limit: u64,
) -> Result<Vec<order_fetch::Model>, Error> {
    let backend = conn.get_database_backend();
    let lock = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "SELECT f.* FROM order_fetches f \
         WHERE f.status = 'pending' AND f.next_attempt_at <= $1 \
         AND (f.claimed_until IS NULL OR f.claimed_until <= $1) \
         ORDER BY f.id LIMIT $2{lock}"
    );
    let sql = match backend {
        DbBackend::Postgres => sql,
        _ => sql.replace('$', "?"),
    };
    let statement =
        Statement::from_sql_and_values(backend, sql, [now.into(), (limit as i64).into()]);
    let mut rows = OrderFetch::find().from_raw_sql(statement).all(conn).await?;
    if rows.is_empty() {
        return Ok(rows);
    }
    OrderFetch::update_many()
        .col_expr(order_fetch::Column::ClaimedUntil, Expr::value(lease_until))
        .col_expr(order_fetch::Column::ClaimToken, Expr::value(token))
        .col_expr(order_fetch::Column::Attempts, Expr::col(order_fetch::Column::Attempts).add(1))
        .filter(order_fetch::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .exec(conn)
        .await?;
    for row in &mut rows {
        row.attempts += 1;
        row.claimed_until = Some(lease_until);
        row.claim_token = Some(token.to_string());
    }
    Ok(rows)
}

/// Ends a fetch made under the claim `token` (`done`, or `failed` with
/// `error`); `false` when the claim was lost to another replica.
pub async fn finish(
    conn: &impl ConnectionTrait,
    id: i64,
    token: &str,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> Result<bool, Error> {
    let result = OrderFetch::update_many()
        .col_expr(order_fetch::Column::Status, Expr::value(status))
        .col_expr(order_fetch::Column::DoneAt, Expr::value(now))
        .col_expr(order_fetch::Column::LastError, Expr::value(error.map(str::to_string)))
        .col_expr(order_fetch::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(order_fetch::Column::ClaimToken, Expr::value(Option::<String>::None))
        .filter(order_fetch::Column::Id.eq(id))
        .filter(order_fetch::Column::ClaimToken.eq(token))
        .filter(order_fetch::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Puts a fetch back for another try at `at`; `false` when the claim was lost.
pub async fn retry_at(
    conn: &impl ConnectionTrait,
    id: i64,
    token: &str,
    error: &str,
    at: i64,
) -> Result<bool, Error> {
    let result = OrderFetch::update_many()
        .col_expr(order_fetch::Column::NextAttemptAt, Expr::value(at))
        .col_expr(order_fetch::Column::LastError, Expr::value(error))
        .col_expr(order_fetch::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(order_fetch::Column::ClaimToken, Expr::value(Option::<String>::None))
        .filter(order_fetch::Column::Id.eq(id))
        .filter(order_fetch::Column::ClaimToken.eq(token))
        .filter(order_fetch::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Stores order lines; a line already stored (another fetch of the same
/// order brought it) is kept as first stored.
pub async fn insert_lines(
    conn: &impl ConnectionTrait,
    rows: Vec<order_line::ActiveModel>,
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    OrderLine::insert_many(rows)
        .on_conflict(
            OnConflict::columns([order_line::Column::OrderId, order_line::Column::OrderLineId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// An instance's order lines in the order their calls arrived.
pub async fn lines_of(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<Vec<order_line::Model>, Error> {
    Ok(OrderLine::find()
        .filter(order_line::Column::InstanceId.eq(instance_id))
        .order_by_asc(order_line::Column::FetchId)
        .order_by_asc(order_line::Column::Id)
        .all(conn)
        .await?)
}

/// Whether an order of the instance still waits to be fetched.
pub async fn has_pending(conn: &impl ConnectionTrait, instance_id: &str) -> Result<bool, Error> {
    Ok(OrderFetch::find()
        .filter(order_fetch::Column::InstanceId.eq(instance_id))
        .filter(order_fetch::Column::Status.eq(PENDING))
        .one(conn)
        .await?
        .is_some())
}
