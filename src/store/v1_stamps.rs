//! The newest V1 `timeStamp` applied per subject (V1 ordering).

use entity::v1_stamp::{self, Entity as V1Stamp};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QuerySelect, Set};

use crate::error::Error;

/// Advances `subject` to `sent_at` (epoch ms) unless a newer call was
/// applied already: `Ok(false)` means the call is stale and must change
/// nothing. An equal stamp is the same call again, applied harmlessly.
/// Call it inside the call's transaction: the row lock orders replicas.
pub async fn advance(
    conn: &impl ConnectionTrait,
    subject: &str,
    sent_at: i64,
) -> Result<bool, Error> {
    let first = v1_stamp::ActiveModel { subject: Set(subject.to_string()), sent_at: Set(sent_at) };
    // DO NOTHING rather than a unique violation: on PostgreSQL a violation
    // would abort the call's transaction.
    let inserted = V1Stamp::insert(first)
        .on_conflict(OnConflict::column(v1_stamp::Column::Subject).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    if inserted == 1 {
        return Ok(true);
    }
    let Some(row) = V1Stamp::find_by_id(subject.to_string()).lock_exclusive().one(conn).await?
    else {
        return Err(Error::Internal("a V1 stamp vanished inside its transaction".to_string()));
    };
    if sent_at < row.sent_at {
        return Ok(false);
    }
    if sent_at > row.sent_at {
        let mut row = row.into_active_model();
        row.sent_at = Set(sent_at);
        row.update(conn).await?;
    }
    Ok(true)
}
