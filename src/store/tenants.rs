//! Tenant rows and the instances that bind them.

use chrono::Utc;
use entity::instance;
use entity::tenant::{self, Entity as Tenant};
use entity::tenant_instance::{self, Entity as TenantInstance};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

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
        .filter(instance::Column::Status.ne("released"))
        .count(conn)
        .await?)
}

/// Whether a tenant's users may use the app (ARCHITECTURE §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Not deleted, and at least one bound instance active (or a test
    /// tenant of the seller console).
    Open,
    /// Bound instances exist and are frozen (none active).
    Frozen,
    /// Every bound instance is released, or none is bound.
    Released,
}

/// The tenant's access and the active instance that grants it.
pub async fn access(
    conn: &impl ConnectionTrait,
    row: &tenant::Model,
) -> Result<(Access, Option<String>), Error> {
    let bound = instance_ids(conn, &row.tenant_id).await?;
    let instances = if bound.is_empty() {
        Vec::new()
    } else {
        instance::Entity::find().filter(instance::Column::InstanceId.is_in(bound)).all(conn).await?
    };
    if let Some(active) = instances.iter().find(|i| i.status == "active") {
        return Ok((Access::Open, Some(active.instance_id.clone())));
    }
    if instances.iter().any(|i| i.status == "frozen") {
        return Ok((Access::Frozen, None));
    }
    if row.test_flag && instances.is_empty() {
        return Ok((Access::Open, None));
    }
    Ok((Access::Released, None))
}
