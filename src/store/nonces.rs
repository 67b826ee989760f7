//! The database-backed nonce replay cache.

use entity::nonce::{self, Entity as Nonce};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::error::Error;

/// Remembers `key` until `expires_at` (epoch ms). `Ok(false)` when it was
/// already remembered: a replay.
pub async fn remember(
    conn: &impl ConnectionTrait,
    key: &str,
    expires_at: i64,
) -> Result<bool, Error> {
    let row = nonce::ActiveModel { nonce: Set(key.to_string()), expires_at: Set(expires_at) };
    // DO NOTHING rather than a unique violation: on PostgreSQL a violation
    // would abort the call's transaction.
    let inserted = Nonce::insert(row)
        .on_conflict(OnConflict::column(nonce::Column::Nonce).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether `key` is remembered and not expired at `now_ms`.
pub async fn is_remembered(
    conn: &impl ConnectionTrait,
    key: &str,
    now_ms: i64,
) -> Result<bool, Error> {
    let row = Nonce::find_by_id(key.to_string()).one(conn).await?;
    Ok(row.is_some_and(|n| n.expires_at >= now_ms))
}

/// Forgets nonces whose window has passed; returns how many.
pub async fn purge_expired(conn: &impl ConnectionTrait, now_ms: i64) -> Result<u64, Error> {
    let result =
        Nonce::delete_many().filter(nonce::Column::ExpiresAt.lt(now_ms)).exec(conn).await?;
    Ok(result.rows_affected)
}
