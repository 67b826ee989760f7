//! Operators' admin-site sessions and the generated admin password.

use entity::admin_credential::{self, Entity as AdminCredential};
use entity::admin_session::{self, Entity as AdminSession};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::Error;

pub async fn insert(conn: &impl ConnectionTrait, row: admin_session::Model) -> Result<(), Error> {
    admin_session::ActiveModel::from(row).insert(conn).await?;
    Ok(())
}

pub async fn find(
    conn: &impl ConnectionTrait,
    id_hash: &str,
) -> Result<Option<admin_session::Model>, Error> {
    Ok(AdminSession::find_by_id(id_hash.to_string()).one(conn).await?)
}

pub async fn touch(conn: &impl ConnectionTrait, id_hash: &str, now_ms: i64) -> Result<(), Error> {
    AdminSession::update_many()
        .col_expr(admin_session::Column::LastSeenAt, Expr::value(now_ms))
        .filter(admin_session::Column::IdHash.eq(id_hash))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, id_hash: &str) -> Result<(), Error> {
    AdminSession::delete_by_id(id_hash.to_string()).exec(conn).await?;
    Ok(())
}

/// Forgets sessions past their absolute end or idle for `idle_ms`.
pub async fn purge_expired(
    conn: &impl ConnectionTrait,
    now_ms: i64,
    idle_ms: i64,
) -> Result<u64, Error> {
    let result = AdminSession::delete_many()
        .filter(
            admin_session::Column::ExpiresAt
                .lt(now_ms)
                .or(admin_session::Column::LastSeenAt.lt(now_ms.saturating_sub(idle_ms))),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// The stored hash of a generated password, by name.
pub async fn generated_password_hash(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<String>, Error> {
    Ok(AdminCredential::find_by_id(name.to_string()).one(conn).await?.map(|c| c.password_hash))
}

/// Stores a generated password's hash unless one is stored already (two
/// replicas starting at once); `Ok(true)` when this one was stored.
pub async fn store_generated_password_hash(
    conn: &impl ConnectionTrait,
    name: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<bool, Error> {
    let row = admin_credential::ActiveModel::from(admin_credential::Model {
        name: name.to_string(),
        password_hash: password_hash.to_string(),
        created_at: now_ms,
    });
    let result = AdminCredential::insert(row)
        .on_conflict(OnConflict::column(admin_credential::Column::Name).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(result == 1)
}
