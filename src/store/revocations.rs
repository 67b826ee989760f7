//! Revocations: when access ended, for whom (see `sso::revoke`).

use entity::revocation::{self, Entity as Revocation};
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::Error;

pub async fn insert(
    conn: &impl ConnectionTrait,
    subject: String,
    reason: &str,
    at: i64,
) -> Result<(), Error> {
    Revocation::insert(revocation::ActiveModel {
        id: ActiveValue::NotSet,
        subject: ActiveValue::Set(subject),
        reason: ActiveValue::Set(reason.to_string()),
        at: ActiveValue::Set(at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Revocations made at or after `at` (epoch milliseconds), oldest first.
pub async fn since(conn: &impl ConnectionTrait, at: i64) -> Result<Vec<revocation::Model>, Error> {
    Ok(Revocation::find()
        .filter(revocation::Column::At.gte(at))
        .order_by_asc(revocation::Column::At)
        .all(conn)
        .await?)
}

/// Forgets revocations older than any session can be.
pub async fn purge_before(conn: &impl ConnectionTrait, at: i64) -> Result<u64, Error> {
    let result = Revocation::delete_many().filter(revocation::Column::At.lt(at)).exec(conn).await?;
    Ok(result.rows_affected)
}
