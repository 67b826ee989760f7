//! The order-details queue and the order lines it brings back (see
//! `crate::open_api::fetch`). Times are epoch milliseconds.

use entity::order_fetch::{self, Entity as OrderFetch};
use entity::order_line::{self, Entity as OrderLine};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::claims;
use crate::error::Error;

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

/// A fetch of an order line, waiting for its first try.
pub fn new_fetch(
    instance_id: &str,
    order_id: &str,
    order_line_id: &str,
    cause: &str,
    now: i64,
) -> order_fetch::ActiveModel {
    order_fetch::ActiveModel {
        id: NotSet,
        instance_id: Set(instance_id.to_string()),
        order_id: Set(order_id.to_string()),
        order_line_id: Set(order_line_id.to_string()),
        cause: Set(cause.to_string()),
        status: Set(PENDING.to_string()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        claim_token: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        done_at: Set(None),
    }
}

/// Queues a fetch of an order line; one already queued stays as it is.
pub async fn queue(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    order_id: &str,
    order_line_id: &str,
    cause: &str,
    now: i64,
) -> Result<(), Error> {
    insert(conn, new_fetch(instance_id, order_id, order_line_id, cause, now)).await
}

/// Writes a fetch made by [`new_fetch`]; one already queued stays as it is.
pub async fn insert(
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
/// attempt (see `store::claims`).
pub async fn claim(
    conn: &impl ConnectionTrait,
    now: i64,
    lease_until: i64,
    token: &str,
    limit: u64,
) -> Result<Vec<order_fetch::Model>, Error> {
    let queue =
        claims::Queue { table: "order_fetches", waiting: "q.status = 'pending'", order: "q.id" };
    claims::claim::<OrderFetch>(conn, &queue, now, lease_until, token, limit).await
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

/// The stored line `(order_id, order_line_id)`, if any.
pub async fn find_line(
    conn: &impl ConnectionTrait,
    order_id: &str,
    order_line_id: &str,
) -> Result<Option<order_line::Model>, Error> {
    Ok(OrderLine::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .filter(order_line::Column::OrderLineId.eq(order_line_id))
        .one(conn)
        .await?)
}

/// The fetch that brought (or will bring) an order, if any.
pub async fn fetch_of(
    conn: &impl ConnectionTrait,
    order_id: &str,
) -> Result<Option<order_fetch::Model>, Error> {
    Ok(OrderFetch::find()
        .filter(order_fetch::Column::OrderId.eq(order_id))
        .order_by_asc(order_fetch::Column::Id)
        .one(conn)
        .await?)
}

/// Writes a line (new, or over the stored one with its id).
pub async fn save_line(conn: &impl ConnectionTrait, row: order_line::Model) -> Result<(), Error> {
    let mut active: order_line::ActiveModel = row.into();
    if active.id.as_ref() == &0 {
        active.id = NotSet;
        OrderLine::insert(active).exec_without_returning(conn).await?;
    } else {
        active.reset_all().update(conn).await?;
    }
    Ok(())
}
