//! Departments, written in bulk.

use entity::department::{self, Entity as Department};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::error::Error;

/// Rows per INSERT: keeps a statement under SQLite's 32,766 parameters.
const BATCH: usize = 1000;

pub async fn find(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    org_code: &str,
) -> Result<Option<department::Model>, Error> {
    Ok(Department::find_by_id((tenant_id.to_string(), org_code.to_string())).one(conn).await?)
}

/// Every department of the tenant, retired ones included.
pub async fn all(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Vec<department::Model>, Error> {
    Ok(Department::find().filter(department::Column::TenantId.eq(tenant_id)).all(conn).await?)
}

/// The live departments, by code.
pub async fn live(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Vec<department::Model>, Error> {
    Ok(Department::find()
        .filter(department::Column::TenantId.eq(tenant_id))
        .filter(department::Column::Retired.eq(false))
        .order_by_asc(department::Column::OrgCode)
        .all(conn)
        .await?)
}

pub async fn count_live(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<u64, Error> {
    Ok(Department::find()
        .filter(department::Column::TenantId.eq(tenant_id))
        .filter(department::Column::Retired.eq(false))
        .count(conn)
        .await?)
}

/// Inserts or replaces departments, `BATCH` rows per statement.
pub async fn upsert_many(
    conn: &impl ConnectionTrait,
    rows: Vec<department::Model>,
) -> Result<(), Error> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<department::ActiveModel> =
            rows.by_ref().take(BATCH).map(department::ActiveModel::from).collect();
        Department::insert_many(batch)
            .on_conflict(
                OnConflict::columns([department::Column::TenantId, department::Column::OrgCode])
                    .update_columns([
                        department::Column::OrgName,
                        department::Column::ParentCode,
                        department::Column::Retired,
                        department::Column::SyncMark,
                        department::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Retires one department; `Ok(false)` when there was none live.
pub async fn retire(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    org_code: &str,
) -> Result<bool, Error> {
    let result = Department::update_many()
        .col_expr(department::Column::Retired, Expr::value(true))
        .col_expr(department::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(department::Column::TenantId.eq(tenant_id))
        .filter(department::Column::OrgCode.eq(org_code))
        .filter(department::Column::Retired.eq(false))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Retires the live departments a full sync did not mark.
pub async fn retire_unmarked(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    mark: &str,
) -> Result<u64, Error> {
    let result = Department::update_many()
        .col_expr(department::Column::Retired, Expr::value(true))
        .col_expr(department::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(department::Column::TenantId.eq(tenant_id))
        .filter(department::Column::Retired.eq(false))
        .filter(department::Column::SyncMark.ne(mark))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
