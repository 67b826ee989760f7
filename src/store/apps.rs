//! A tenant's app credentials.

use entity::tenant_app::{self, Entity as TenantApp};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::Error;

/// Inserts or replaces the app's client id and sealed secret.
pub async fn upsert(conn: &impl ConnectionTrait, row: tenant_app::Model) -> Result<(), Error> {
    TenantApp::insert(tenant_app::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([tenant_app::Column::TenantId, tenant_app::Column::AppId])
                .update_columns([
                    tenant_app::Column::InstanceId,
                    tenant_app::Column::ClientId,
                    tenant_app::Column::ClientSecretSealed,
                    tenant_app::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Forgets the app and its secret; nothing to forget is fine.
pub async fn delete(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    app_id: &str,
) -> Result<(), Error> {
    TenantApp::delete_many()
        .filter(tenant_app::Column::TenantId.eq(tenant_id))
        .filter(tenant_app::Column::AppId.eq(app_id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn for_tenant(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Vec<tenant_app::Model>, Error> {
    Ok(TenantApp::find()
        .filter(tenant_app::Column::TenantId.eq(tenant_id))
        .order_by_asc(tenant_app::Column::AppId)
        .all(conn)
        .await?)
}

/// Erases every secret of the tenant's apps (the client ids stay).
pub async fn erase_secrets(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<(), Error> {
    TenantApp::update_many()
        .col_expr(tenant_app::Column::ClientSecretSealed, Expr::value(Option::<String>::None))
        .filter(tenant_app::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}
