//! The inbound event log.

use chrono::{DateTime, Utc};
use entity::event::{self, Entity as Event};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::error::Error;

/// Writes one event and returns its id.
pub async fn insert(conn: &impl ConnectionTrait, row: event::Model) -> Result<i64, Error> {
    let mut active = event::ActiveModel::from(row);
    active.id = NotSet;
    // Returns only the new id, not the whole row.
    Ok(Event::insert(active).exec(conn).await?.last_insert_id)
}

/// Newest first.
pub async fn latest(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<event::Model>, Error> {
    Ok(Event::find().order_by_desc(event::Column::Id).limit(limit).all(conn).await?)
}

pub async fn find(conn: &impl ConnectionTrait, id: i64) -> Result<Option<event::Model>, Error> {
    Ok(Event::find_by_id(id).one(conn).await?)
}

/// Filters of the admin event list; all optional.
#[derive(Debug, Default, Clone)]
pub struct PageFilter {
    pub channel: Option<String>,
    pub activity: Option<String>,
    pub result_code: Option<String>,
    /// Only failures (any result code but `000000`).
    pub failures_only: bool,
    /// Leave operators' actions out (marketplace calls only).
    pub marketplace_only: bool,
    pub tenant_id: Option<String>,
    pub instance_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Keyset pagination: events older than this id.
    pub before_id: Option<i64>,
    /// Keyset pagination: events newer than this id.
    pub after_id: Option<i64>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    pub limit: u64,
}

/// One page, newest first (or oldest first); keyset on the id, so page
/// 1,000 costs what page 1 does and no total is counted.
pub async fn page(
    conn: &impl ConnectionTrait,
    filter: &PageFilter,
) -> Result<Vec<event::Model>, Error> {
    let mut query = Event::find();
    if let Some(channel) = &filter.channel {
        query = query.filter(event::Column::Channel.eq(channel.as_str()));
    }
    if let Some(activity) = &filter.activity {
        query = query.filter(event::Column::Activity.eq(activity.as_str()));
    }
    if let Some(code) = &filter.result_code {
        query = query.filter(event::Column::ResultCode.eq(code.as_str()));
    }
    if filter.failures_only {
        query = query.filter(event::Column::ResultCode.ne("000000"));
    }
    if filter.marketplace_only {
        query = query.filter(event::Column::Channel.ne("operator"));
    }
    if let Some(tenant_id) = &filter.tenant_id {
        query = query.filter(event::Column::TenantId.eq(tenant_id.as_str()));
    }
    if let Some(instance_id) = &filter.instance_id {
        query = query.filter(event::Column::InstanceId.eq(instance_id.as_str()));
    }
    if let Some(since) = filter.since {
        query = query.filter(event::Column::ReceivedAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(event::Column::ReceivedAt.lt(until));
    }
    if let Some(before) = filter.before_id {
        query = query.filter(event::Column::Id.lt(before));
    }
    if let Some(after) = filter.after_id {
        query = query.filter(event::Column::Id.gt(after));
    }
    let order = if filter.oldest_first { Order::Asc } else { Order::Desc };
    Ok(query.order_by(event::Column::Id, order).limit(filter.limit).all(conn).await?)
}

/// The calls about a tenant: those naming it, and those naming one of its
/// instances (lifecycle calls carry no tenant id). Newest first.
pub async fn for_tenant(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    instance_ids: &[String],
    limit: u64,
) -> Result<Vec<event::Model>, Error> {
    let mut about = Condition::any().add(event::Column::TenantId.eq(tenant_id));
    if !instance_ids.is_empty() {
        about = about.add(event::Column::InstanceId.is_in(instance_ids.iter().cloned()));
    }
    Ok(Event::find().filter(about).order_by_desc(event::Column::Id).limit(limit).all(conn).await?)
}

/// Marketplace calls received since `since` (operators' actions left
/// out), counted by result code.
pub async fn count_by_result_since(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, Error> {
    Ok(Event::find()
        .select_only()
        .column(event::Column::ResultCode)
        .column_as(Expr::col(event::Column::Id).count(), "n")
        .filter(event::Column::ReceivedAt.gte(since))
        .filter(event::Column::Channel.ne("operator"))
        .group_by(event::Column::ResultCode)
        .order_by_asc(event::Column::ResultCode)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Marketplace calls received since `since` (operators' actions left
/// out), counted per UTC hour (`YYYY-MM-DD HH`) and by whether they
/// succeeded: `(hour, succeeded, count)`, for the dashboard's chart.
pub async fn count_by_hour_since(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<(String, bool, i64)>, Error> {
    // Each backend has its own way to cut a time to its hour: SQLite
    // keeps RFC 3339 text in UTC (`YYYY-MM-DDTHH:MM:SS…`), PostgreSQL a
    // timestamptz.
    let hour = match conn.get_database_backend() {
        DbBackend::Postgres => "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')",
        _ => "replace(substr(received_at, 1, 13), 'T', ' ')",
    };
    let ok = "CASE WHEN result_code = '000000' THEN 1 ELSE 0 END";
    let rows: Vec<(String, i32, i64)> = Event::find()
        .select_only()
        .column_as(Expr::cust(hour), "hour")
        .column_as(Expr::cust(ok), "ok")
        .column_as(Expr::col(event::Column::Id).count(), "n")
        .filter(event::Column::ReceivedAt.gte(since))
        .filter(event::Column::Channel.ne("operator"))
        .group_by(Expr::cust(hour))
        .group_by(Expr::cust(ok))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(hour, ok, n)| (hour, ok == 1, n)).collect())
}

/// The newest replay of an event.
pub async fn latest_replay_of(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<event::Model>, Error> {
    Ok(Event::find()
        .filter(event::Column::ReplayOf.eq(id))
        .order_by_desc(event::Column::Id)
        .one(conn)
        .await?)
}

/// Forgets the sealed replay input of calls received before `before`: an
/// old call is no longer replayed, and the bodies (up to megabytes for a
/// full department sync) would otherwise grow without end. The redacted
/// request and the answer stay.
pub async fn forget_replay_inputs(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, Error> {
    let result = Event::update_many()
        .col_expr(event::Column::ReplaySealed, Expr::value(Option::<String>::None))
        .filter(event::Column::ReceivedAt.lt(before))
        .filter(event::Column::ReplaySealed.is_not_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes up to `batch` events received before `before` (only refused
/// ones when `refused_only`); returns how many. Bounded, so housekeeping
/// never holds the writer long.
pub async fn purge_batch(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
    refused_only: bool,
    batch: u64,
) -> Result<u64, Error> {
    let mut old = Event::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::ReceivedAt.lt(before));
    if refused_only {
        old = old.filter(event::Column::Refused.eq(true));
    }
    let ids: Vec<i64> =
        old.order_by_asc(event::Column::Id).limit(batch).into_tuple().all(conn).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    // An instance's transitions stay (its history); their event_id then
    // names an event no longer kept.
    let result = Event::delete_many().filter(event::Column::Id.is_in(ids)).exec(conn).await?;
    Ok(result.rows_affected)
}
