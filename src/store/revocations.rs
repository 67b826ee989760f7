//! Revocations: when access ended, for whom (see `access::revoke`).

use entity::revocation::{self, Entity as Revocation};
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::access::RevocationReason;
use crate::error::Error;

/// A revocation as read back.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub subject: String,
    pub reason: RevocationReason,
    /// Epoch milliseconds.
    pub at: i64,
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    subject: String,
    reason: RevocationReason,
    at: i64,
) -> Result<(), Error> {
    Revocation::insert(revocation::ActiveModel {
        id: ActiveValue::NotSet,
        subject: ActiveValue::Set(subject),
        reason: ActiveValue::Set(reason.as_str().to_string()),
        at: ActiveValue::Set(at),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Revocations made at or after `at` (epoch milliseconds), oldest first.
pub async fn since(conn: &impl ConnectionTrait, at: i64) -> Result<Vec<Revoked>, Error> {
    let rows = Revocation::find()
        .filter(revocation::Column::At.gte(at))
        .order_by_asc(revocation::Column::At)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Revoked {
            reason: RevocationReason::parse_lenient(&r.reason),
            subject: r.subject,
            at: r.at,
        })
        .collect())
}

/// Forgets revocations older than any session can be.
pub async fn purge_before(conn: &impl ConnectionTrait, at: i64) -> Result<u64, Error> {
    let result = Revocation::delete_many().filter(revocation::Column::At.lt(at)).exec(conn).await?;
    Ok(result.rows_affected)
}
