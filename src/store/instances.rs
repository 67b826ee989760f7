//! Instance rows.

use chrono::Utc;
use entity::instance::{self, Entity as Instance};
use entity::order;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::access::{FreezeCause, InstanceStatus};
use crate::error::Error;

/// The row's status, parsed: a word koogate never writes is a fault.
pub fn status(row: &instance::Model) -> Result<InstanceStatus, Error> {
    InstanceStatus::parse(&row.status)
        .ok_or_else(|| Error::Internal(format!("unknown stored status {}", row.status)))
}

/// Why the row is frozen, parsed (none when it is not, or the word is
/// unknown: it is only shown).
pub fn freeze_cause(row: &instance::Model) -> Option<FreezeCause> {
    row.frozen_reason.as_deref().and_then(FreezeCause::parse)
}

pub async fn find(conn: &impl ConnectionTrait, id: &str) -> Result<Option<instance::Model>, Error> {
    Ok(Instance::find_by_id(id.to_string()).one(conn).await?)
}

/// Finds an instance to change it: on PostgreSQL the row stays locked until
/// the transaction ends, so two calls about one instance (a freeze and a
/// renewal, say) apply one after the other instead of overwriting each
/// other. SQLite has a single writer already.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<instance::Model>, Error> {
    Ok(Instance::find_by_id(id.to_string()).lock_exclusive().one(conn).await?)
}

/// Finds several instances by id, in no particular order.
pub async fn find_many(
    conn: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<instance::Model>, Error> {
    Ok(Instance::find()
        .filter(instance::Column::InstanceId.is_in(ids.iter().cloned()))
        .all(conn)
        .await?)
}

/// Inserts a new instance. Its id is the purchase's businessId, new on
/// every delivery: one already taken is a bad request, not a fault.
pub async fn insert(conn: &impl ConnectionTrait, row: instance::Model) -> Result<(), Error> {
    // No RETURNING: the caller has the row already.
    match Instance::insert(instance::ActiveModel::from(row)).exec_without_returning(conn).await {
        Ok(_) => Ok(()),
        Err(e) if super::is_unique_violation(&e) => {
            Err(Error::invalid("businessId already names another order's instance"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes back a changed instance, stamping `updated_at`.
pub async fn update(conn: &impl ConnectionTrait, mut row: instance::Model) -> Result<(), Error> {
    row.updated_at = Utc::now();
    // Every column may have changed: mark them all as set.
    let active: instance::ActiveModel = row.into();
    active.reset_all().update(conn).await?;
    Ok(())
}

/// Live production instances, for the capacity limit.
pub async fn count_live(conn: &impl ConnectionTrait) -> Result<u64, Error> {
    Ok(Instance::find()
        .filter(instance::Column::Status.ne(InstanceStatus::Released.as_str()))
        .filter(instance::Column::TestFlag.eq(false))
        .count(conn)
        .await?)
}

/// The columns the admin instance list sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstanceOrder {
    #[default]
    Created,
    Expires,
    Status,
    Instance,
    Order,
}

impl InstanceOrder {
    fn column(self) -> instance::Column {
        match self {
            InstanceOrder::Created => instance::Column::CreatedAt,
            InstanceOrder::Expires => instance::Column::ExpireTime,
            InstanceOrder::Status => instance::Column::Status,
            InstanceOrder::Instance => instance::Column::InstanceId,
            InstanceOrder::Order => instance::Column::OrderId,
        }
    }
}

/// Filters of the admin listing; all optional.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub order_id: Option<String>,
    pub tenant_id: Option<String>,
    pub status: Option<InstanceStatus>,
    /// Newest first when not set.
    pub sort: Option<(InstanceOrder, sea_orm::Order)>,
    pub offset: u64,
    pub limit: u64,
}

fn filtered(filter: &ListFilter) -> sea_orm::Select<Instance> {
    let mut query = Instance::find();
    if let Some(order_id) = &filter.order_id {
        let applied = Query::select()
            .column(order::Column::InstanceId)
            .from(order::Entity)
            .and_where(Expr::col(order::Column::OrderId).eq(order_id.as_str()))
            .to_owned();
        query = query.filter(
            instance::Column::OrderId
                .eq(order_id.as_str())
                .or(instance::Column::InstanceId.in_subquery(applied)),
        );
    }
    if let Some(tenant_id) = &filter.tenant_id {
        query = query.filter(instance::Column::TenantId.eq(tenant_id.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(instance::Column::Status.eq(status.as_str()));
    }
    query
}

/// Newest first, or in the order asked for (the instance id breaks ties,
/// so pages never overlap). `order_id` matches the purchase order or any
/// later order (renewal, upgrade) applied to the instance.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &ListFilter,
) -> Result<Vec<instance::Model>, Error> {
    let (by, direction) =
        filter.sort.clone().unwrap_or((InstanceOrder::Created, sea_orm::Order::Desc));
    let mut query = filtered(filter).order_by(by.column(), direction.clone());
    if by != InstanceOrder::Instance {
        query = query.order_by(instance::Column::InstanceId, direction);
    }
    Ok(query.offset(super::bindable_offset(filter.offset)).limit(filter.limit).all(conn).await?)
}

/// How many instances the filter matches.
pub async fn count(conn: &impl ConnectionTrait, filter: &ListFilter) -> Result<u64, Error> {
    Ok(filtered(filter).count(conn).await?)
}

/// Instances counted by (status, test flag).
pub async fn count_by_status(
    conn: &impl ConnectionTrait,
) -> Result<Vec<(InstanceStatus, bool, i64)>, Error> {
    let rows: Vec<(String, bool, i64)> = Instance::find()
        .select_only()
        .column(instance::Column::Status)
        .column(instance::Column::TestFlag)
        .column_as(Expr::col(instance::Column::InstanceId).count(), "n")
        .group_by(instance::Column::Status)
        .group_by(instance::Column::TestFlag)
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|(status, test, n)| {
            let status = InstanceStatus::parse(&status)
                .ok_or_else(|| Error::Internal(format!("unknown stored status {status}")))?;
            Ok((status, test, n))
        })
        .collect()
}

/// Active instances whose `expireTime` (the contract's `yyyyMMddHHmmss`,
/// UTC, which sorts as text) falls between `from` and `until`, soonest
/// first: what the dashboard lists as expiring.
pub async fn expiring_between(
    conn: &impl ConnectionTrait,
    from: &str,
    until: &str,
    limit: u64,
) -> Result<Vec<instance::Model>, Error> {
    Ok(Instance::find()
        .filter(instance::Column::Status.eq(InstanceStatus::Active.as_str()))
        .filter(instance::Column::ExpireTime.gte(from))
        .filter(instance::Column::ExpireTime.lte(until))
        .order_by_asc(instance::Column::ExpireTime)
        .limit(limit)
        .all(conn)
        .await?)
}
