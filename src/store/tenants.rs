//! Tenant rows and the instances that bind them.

use chrono::Utc;
use entity::instance;
use entity::tenant::{self, Entity as Tenant};
use entity::tenant_instance::{self, Entity as TenantInstance};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use crate::access::{InstanceStatus, TenantStatus};
use crate::error::Error;

pub async fn find(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Option<tenant::Model>, Error> {
    Ok(Tenant::find_by_id(tenant_id.to_string()).one(conn).await?)
}

/// Inserts or replaces the tenant (keeping its creation time).
pub async fn upsert(conn: &impl ConnectionTrait, row: tenant::Model) -> Result<(), Error> {
    Tenant::insert(tenant::ActiveModel::from(row))
        .on_conflict(
            OnConflict::column(tenant::Column::TenantId)
                .update_columns([
                    tenant::Column::TenantCode,
                    tenant::Column::Name,
                    tenant::Column::DomainName,
                    tenant::Column::TestFlag,
                    tenant::Column::Deleted,
                    tenant::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Binds an instance to the tenant (a repeat changes nothing) and notes
/// the tenant on the instance.
pub async fn link_instance(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    instance_id: &str,
) -> Result<(), Error> {
    let row = tenant_instance::ActiveModel {
        tenant_id: Set(tenant_id.to_string()),
        instance_id: Set(instance_id.to_string()),
        created_at: Set(Utc::now()),
    };
    TenantInstance::insert(row)
        .on_conflict(
            OnConflict::columns([
                tenant_instance::Column::TenantId,
                tenant_instance::Column::InstanceId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    instance::Entity::update_many()
        .col_expr(instance::Column::TenantId, Expr::value(tenant_id))
        .filter(instance::Column::InstanceId.eq(instance_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The instances bound to a tenant, oldest binding first.
pub async fn instance_ids(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Vec<String>, Error> {
    use sea_orm::QueryOrder;
    Ok(TenantInstance::find()
        .select_only()
        .column(tenant_instance::Column::InstanceId)
        .filter(tenant_instance::Column::TenantId.eq(tenant_id))
        .order_by_asc(tenant_instance::Column::CreatedAt)
        .order_by_asc(tenant_instance::Column::InstanceId)
        .into_tuple()
        .all(conn)
        .await?)
}

/// The tenant a person names by its code on the sign-in page: only when
/// exactly one live tenant has it (codes are the marketplace's, not ours
/// to assume unique).
pub async fn by_code(conn: &impl ConnectionTrait, code: &str) -> Result<Option<String>, Error> {
    let ids: Vec<String> = Tenant::find()
        .select_only()
        .column(tenant::Column::TenantId)
        .filter(tenant::Column::TenantCode.eq(code))
        .filter(tenant::Column::Deleted.eq(false))
        .limit(2)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(match ids.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// The tenants an instance binds.
pub async fn bound_by(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<Vec<String>, Error> {
    Ok(TenantInstance::find()
        .select_only()
        .column(tenant_instance::Column::TenantId)
        .filter(tenant_instance::Column::InstanceId.eq(instance_id))
        .into_tuple()
        .all(conn)
        .await?)
}

/// How many of the tenant's bound instances are not released.
pub async fn live_instance_count(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    let bound = instance_ids(conn, tenant_id).await?;
    if bound.is_empty() {
        return Ok(0);
    }
    Ok(instance::Entity::find()
        .filter(instance::Column::InstanceId.is_in(bound))
        .filter(instance::Column::Status.ne(InstanceStatus::Released.as_str()))
        .count(conn)
        .await?)
}

/// The tenant's bound instances with their statuses, oldest binding first.
pub async fn bound_statuses(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Vec<(String, InstanceStatus)>, Error> {
    let bound = instance_ids(conn, tenant_id).await?;
    if bound.is_empty() {
        return Ok(Vec::new());
    }
    let rows = crate::store::instances::find_many(conn, &bound).await?;
    let mut statuses = Vec::with_capacity(rows.len());
    for id in bound {
        if let Some(row) = rows.iter().find(|i| i.instance_id == id) {
            statuses.push((id, crate::store::instances::status(row)?));
        }
    }
    Ok(statuses)
}

/// The columns the admin tenant list sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TenantOrder {
    #[default]
    Name,
    Tenant,
    Code,
    Updated,
}

impl TenantOrder {
    fn column(self) -> tenant::Column {
        match self {
            TenantOrder::Name => tenant::Column::Name,
            TenantOrder::Tenant => tenant::Column::TenantId,
            TenantOrder::Code => tenant::Column::TenantCode,
            TenantOrder::Updated => tenant::Column::UpdatedAt,
        }
    }
}

/// Filters of the admin tenant list.
#[derive(Debug, Default, Clone)]
pub struct PageFilter {
    /// By name when not set.
    pub sort: Option<(TenantOrder, sea_orm::Order)>,
    /// Part of the name (any case), or the exact tenant id or code.
    pub q: Option<String>,
    /// `released`: no live instance.
    pub status: Option<TenantStatus>,
    /// Include the seller's test tenants.
    pub include_test: bool,
    pub offset: u64,
    pub limit: u64,
}

/// One page of tenants in the order asked for (by name), and how many
/// match in all. LIMIT/OFFSET: at ten thousand tenants the deepest page
/// is still a short index walk.
pub async fn page(
    conn: &impl ConnectionTrait,
    filter: &PageFilter,
) -> Result<(Vec<tenant::Model>, u64), Error> {
    use sea_orm::PaginatorTrait;
    let total = filtered(filter).count(conn).await?;
    Ok((rows(conn, filter).await?, total))
}

/// One page of tenants in the order asked for, without the count.
pub async fn rows(
    conn: &impl ConnectionTrait,
    filter: &PageFilter,
) -> Result<Vec<tenant::Model>, Error> {
    use sea_orm::QueryOrder;
    let (by, direction) = filter.sort.clone().unwrap_or((TenantOrder::Name, sea_orm::Order::Asc));
    let mut query = filtered(filter).order_by(by.column(), direction.clone());
    if by != TenantOrder::Tenant {
        query = query.order_by(tenant::Column::TenantId, direction);
    }
    Ok(query.offset(super::bindable_offset(filter.offset)).limit(filter.limit).all(conn).await?)
}

fn filtered(filter: &PageFilter) -> sea_orm::Select<Tenant> {
    use sea_orm::sea_query::{Func, LikeExpr, Query};
    use sea_orm::Condition;
    let mut query = Tenant::find();
    if !filter.include_test {
        query = query.filter(tenant::Column::TestFlag.eq(false));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped =
            q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
        query = query.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(tenant::Column::Name))).like(pattern))
                .add(tenant::Column::TenantId.eq(q))
                .add(tenant::Column::TenantCode.eq(q)),
        );
    }
    let with_status = |status: InstanceStatus| {
        Query::select()
            .column((tenant_instance::Entity, tenant_instance::Column::TenantId))
            .from(tenant_instance::Entity)
            .inner_join(
                instance::Entity,
                Expr::col((instance::Entity, instance::Column::InstanceId))
                    .equals((tenant_instance::Entity, tenant_instance::Column::InstanceId)),
            )
            .and_where(Expr::col((instance::Entity, instance::Column::Status)).eq(status.as_str()))
            .to_owned()
    };
    let (active, frozen) = (InstanceStatus::Active, InstanceStatus::Frozen);
    // The SQL twin of `access::rule::tenant_access`: a test tenant that no
    // instance binds is open (the rule's unit tests and the admin stories
    // hold the two together).
    let unbound_test = || {
        Condition::all().add(tenant::Column::TestFlag.eq(true)).add(
            tenant::Column::TenantId.not_in_subquery(
                Query::select()
                    .column(tenant_instance::Column::TenantId)
                    .from(tenant_instance::Entity)
                    .to_owned(),
            ),
        )
    };
    match filter.status {
        Some(TenantStatus::Deleted) => query = query.filter(tenant::Column::Deleted.eq(true)),
        Some(TenantStatus::Active) => {
            query = query.filter(tenant::Column::Deleted.eq(false)).filter(
                Condition::any()
                    .add(tenant::Column::TenantId.in_subquery(with_status(active)))
                    .add(unbound_test()),
            );
        }
        Some(TenantStatus::Frozen) => {
            query = query
                .filter(tenant::Column::Deleted.eq(false))
                .filter(tenant::Column::TenantId.not_in_subquery(with_status(active)))
                .filter(tenant::Column::TenantId.in_subquery(with_status(frozen)));
        }
        Some(TenantStatus::Released) => {
            query = query
                .filter(tenant::Column::Deleted.eq(false))
                .filter(tenant::Column::TenantId.not_in_subquery(with_status(active)))
                .filter(tenant::Column::TenantId.not_in_subquery(with_status(frozen)))
                .filter(unbound_test().not());
        }
        None => {}
    }
    query
}

/// The instances bound to each of these tenants.
pub async fn instances_of(
    conn: &impl ConnectionTrait,
    tenant_ids: &[String],
) -> Result<Vec<(String, instance::Model)>, Error> {
    if tenant_ids.is_empty() {
        return Ok(Vec::new());
    }
    let links = TenantInstance::find()
        .filter(tenant_instance::Column::TenantId.is_in(tenant_ids.iter().cloned()))
        .all(conn)
        .await?;
    let ids: Vec<String> = links.iter().map(|l| l.instance_id.clone()).collect();
    let instances = crate::store::instances::find_many(conn, &ids).await?;
    Ok(links
        .into_iter()
        .filter_map(|link| {
            instances
                .iter()
                .find(|i| i.instance_id == link.instance_id)
                .map(|i| (link.tenant_id, i.clone()))
        })
        .collect())
}

/// Tenants not deleted, counted by test flag: (production, test).
pub async fn count_listed(conn: &impl ConnectionTrait) -> Result<(u64, u64), Error> {
    use sea_orm::PaginatorTrait;
    let base = Tenant::find().filter(tenant::Column::Deleted.eq(false));
    let production = base.clone().filter(tenant::Column::TestFlag.eq(false)).count(conn).await?;
    let test = base.filter(tenant::Column::TestFlag.eq(true)).count(conn).await?;
    Ok((production, test))
}
