//! Each tenant's chosen sign-in dialect (and base URL), when an operator
//! chose one.

use entity::tenant_sign_in::{self, Entity as TenantSignIn};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::error::Error;

pub async fn find(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Option<tenant_sign_in::Model>, Error> {
    Ok(TenantSignIn::find_by_id(tenant_id.to_string()).one(conn).await?)
}

/// Writes the tenant's choice, replacing the one before.
pub async fn set(conn: &impl ConnectionTrait, row: tenant_sign_in::Model) -> Result<(), Error> {
    let active = tenant_sign_in::ActiveModel {
        tenant_id: Set(row.tenant_id),
        dialect: Set(row.dialect),
        base_url: Set(row.base_url),
        updated_at: Set(row.updated_at),
    };
    TenantSignIn::insert(active)
        .on_conflict(
            OnConflict::column(tenant_sign_in::Column::TenantId)
                .update_columns([
                    tenant_sign_in::Column::Dialect,
                    tenant_sign_in::Column::BaseUrl,
                    tenant_sign_in::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
