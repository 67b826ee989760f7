//! The outbox table: events waiting for, or done with, delivery to the
//! vendor's app (see `crate::outbox`). Times are epoch milliseconds.

use entity::outbox::{self, Entity as Outbox};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::claims;
use crate::error::Error;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const DEAD: &str = "dead";

/// Writes new events (in the caller's transaction).
pub async fn insert_many(
    conn: &impl ConnectionTrait,
    rows: Vec<outbox::ActiveModel>,
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    Outbox::insert_many(rows).exec_without_returning(conn).await?;
    Ok(())
}

/// Claims up to `limit` events due at `now` for delivery until
/// `lease_until`, and counts the attempt (see `store::claims`). Only the
/// oldest pending event of each tenant and of each instance is eligible,
/// so those are delivered in order; a later one waits until the earlier is
/// delivered or dead.
pub async fn claim(
    conn: &impl ConnectionTrait,
    now: i64,
    lease_until: i64,
    token: &str,
    limit: u64,
) -> Result<Vec<outbox::Model>, Error> {
    claims::claim::<Outbox>(conn, &QUEUE, now, lease_until, token, limit).await
}

const QUEUE: claims::Queue = claims::Queue {
    table: "outbox",
    waiting: "q.status = 'pending' \
        AND NOT EXISTS (SELECT 1 FROM outbox p \
          WHERE p.tenant_id = q.tenant_id AND p.status = 'pending' AND p.id < q.id) \
        AND NOT EXISTS (SELECT 1 FROM outbox p \
          WHERE p.instance_id = q.instance_id AND p.status = 'pending' AND p.id < q.id)",
    order: "q.id",
};

/// Records a delivery made under the claim `token`; `false` when the claim
/// was lost (its lease ran out and another relay took the event over).
pub async fn mark_delivered(
    conn: &impl ConnectionTrait,
    id: i64,
    token: &str,
    now: i64,
) -> Result<bool, Error> {
    let result = Outbox::update_many()
        .col_expr(outbox::Column::Status, Expr::value(DELIVERED))
        .col_expr(outbox::Column::DeliveredAt, Expr::value(now))
        .col_expr(outbox::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::ClaimToken, Expr::value(Option::<String>::None))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::ClaimToken.eq(token))
        .filter(outbox::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// What a failed attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(i64),
    Dead,
}

/// Records a failed attempt made under the claim `token`; `false` when the
/// claim was lost.
///
/// A retry also moves the events queued behind this one (same tenant or
/// instance) to its retry time: they cannot go before it anyway, and the
/// relay's scan then passes over them without a lookup each. Without this
/// a tenant with 20,000 events stuck behind a failing receiver made every
/// claim take about 0.2 s on PostgreSQL; with it about 11 ms
/// (`bench/outbox_claim.sh`).
pub async fn mark_failed(
    conn: &impl ConnectionTrait,
    row: &outbox::Model,
    token: &str,
    error: &str,
    after: AfterFailure,
    now: i64,
) -> Result<bool, Error> {
    let id = row.id;
    let mut update = Outbox::update_many()
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .col_expr(outbox::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::ClaimToken, Expr::value(Option::<String>::None));
    update = match after {
        AfterFailure::RetryAt(at) => {
            update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at))
        }
        AfterFailure::Dead => update
            .col_expr(outbox::Column::Status, Expr::value(DEAD))
            .col_expr(outbox::Column::DeadAt, Expr::value(now)),
    };
    let result = update
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::ClaimToken.eq(token))
        .filter(outbox::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    let kept = result.rows_affected == 1;
    if let (true, AfterFailure::RetryAt(at)) = (kept, after) {
        let keys = [
            (outbox::Column::TenantId, row.tenant_id.as_deref()),
            (outbox::Column::InstanceId, row.instance_id.as_deref()),
        ];
        for (column, value) in keys {
            let Some(value) = value else { continue };
            Outbox::update_many()
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(at))
                .filter(column.eq(value))
                .filter(outbox::Column::Status.eq(PENDING))
                .filter(outbox::Column::Id.gt(id))
                .filter(outbox::Column::NextAttemptAt.lt(at))
                .exec(conn)
                .await?;
        }
    }
    Ok(kept)
}

/// Pending events, oldest first: the backlog.
pub async fn backlog(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<outbox::Model>, Error> {
    Ok(Outbox::find()
        .filter(outbox::Column::Status.eq(PENDING))
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// A page of the events in `status` ([`PENDING`]: the backlog; [`DEAD`]):
/// up to `limit` after the one with id `after` (none: from the start),
/// oldest first or newest first; keyset on the id, so any depth costs the
/// same.
pub async fn page(
    conn: &impl ConnectionTrait,
    status: &str,
    newest_first: bool,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<outbox::Model>, Error> {
    let mut query = Outbox::find().filter(outbox::Column::Status.eq(status));
    query = match (newest_first, after) {
        (false, Some(id)) => query.filter(outbox::Column::Id.gt(id)),
        (true, Some(id)) => query.filter(outbox::Column::Id.lt(id)),
        (_, None) => query,
    };
    query = if newest_first {
        query.order_by_desc(outbox::Column::Id)
    } else {
        query.order_by_asc(outbox::Column::Id)
    };
    Ok(query.limit(limit).all(conn).await?)
}

/// How many pending events wait behind `row`: later ones of its tenant or
/// instance, which are delivered only after it (see [`claim`]).
pub async fn waiting_behind(
    conn: &impl ConnectionTrait,
    row: &outbox::Model,
) -> Result<u64, Error> {
    let mut same_queue = Condition::any();
    if let Some(tenant_id) = &row.tenant_id {
        same_queue = same_queue.add(outbox::Column::TenantId.eq(tenant_id.as_str()));
    }
    if let Some(instance_id) = &row.instance_id {
        same_queue = same_queue.add(outbox::Column::InstanceId.eq(instance_id.as_str()));
    }
    if row.tenant_id.is_none() && row.instance_id.is_none() {
        return Ok(0);
    }
    Ok(Outbox::find()
        .filter(outbox::Column::Status.eq(PENDING))
        .filter(outbox::Column::Id.gt(row.id))
        .filter(same_queue)
        .count(conn)
        .await?)
}

/// Dead letters, most recently given up first.
pub async fn dead(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<outbox::Model>, Error> {
    Ok(Outbox::find()
        .filter(outbox::Column::Status.eq(DEAD))
        .order_by_desc(outbox::Column::DeadAt)
        .order_by_desc(outbox::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

pub async fn find(
    conn: &impl ConnectionTrait,
    webhook_id: &str,
) -> Result<Option<outbox::Model>, Error> {
    Ok(Outbox::find().filter(outbox::Column::WebhookId.eq(webhook_id)).one(conn).await?)
}

/// Puts a dead letter back in line with a fresh retry period; `false` when
/// it is not (or no longer) dead.
pub async fn redeliver(
    conn: &impl ConnectionTrait,
    webhook_id: &str,
    now: i64,
) -> Result<bool, Error> {
    let result = Outbox::update_many()
        .col_expr(outbox::Column::Status, Expr::value(PENDING))
        .col_expr(outbox::Column::RetryFrom, Expr::value(now))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::DeadAt, Expr::value(Option::<i64>::None))
        .filter(outbox::Column::WebhookId.eq(webhook_id))
        .filter(outbox::Column::Status.eq(DEAD))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The backlog's size and age, and the dead letters' count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub pending: u64,
    pub dead: u64,
    /// Creation time of the oldest pending event.
    pub oldest_pending_at: Option<i64>,
}

pub async fn stats(conn: &impl ConnectionTrait) -> Result<Stats, Error> {
    let count =
        |status: &'static str| Outbox::find().filter(outbox::Column::Status.eq(status)).count(conn);
    let oldest: Option<i64> = Outbox::find()
        .select_only()
        .column(outbox::Column::CreatedAt)
        .filter(outbox::Column::Status.eq(PENDING))
        .order_by_asc(outbox::Column::Id)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(Stats {
        pending: count(PENDING).await?,
        dead: count(DEAD).await?,
        oldest_pending_at: oldest,
    })
}

/// Forgets delivered events older than `delivered_before` and dead letters
/// older than `dead_before`, so the table stays bounded.
pub async fn purge(
    conn: &impl ConnectionTrait,
    delivered_before: i64,
    dead_before: i64,
) -> Result<u64, Error> {
    let delivered = Outbox::delete_many()
        .filter(outbox::Column::Status.eq(DELIVERED))
        .filter(outbox::Column::DeliveredAt.lt(delivered_before))
        .exec(conn)
        .await?;
    let dead = Outbox::delete_many()
        .filter(outbox::Column::Status.eq(DEAD))
        .filter(outbox::Column::DeadAt.lt(dead_before))
        .exec(conn)
        .await?;
    Ok(delivered.rows_affected + dead.rows_affected)
}
