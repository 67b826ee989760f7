//! The password-guess limit, claimed atomically before a password is
//! checked.

use entity::login_attempt::{self, Entity as LoginAttempt};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QuerySelect, Set};

use crate::error::Error;

/// Claims one password check for `key`: `Ok(false)` when `max` checks
/// were already claimed in the current window. The claim counts as a
/// failure until [`super::sessions::clear_failures`] forgets it on a
/// success, so a burst of concurrent guesses gets at most `max` checks:
/// counting after the check let every guess in flight through. Run it in
/// its own committed write transaction, before the check.
pub async fn claim(
    conn: &impl ConnectionTrait,
    key: &str,
    max: i64,
    window_ms: i64,
    now_ms: i64,
) -> Result<bool, Error> {
    let first = login_attempt::ActiveModel {
        attempt_key: Set(key.to_string()),
        failures: Set(0),
        window_started_at: Set(now_ms),
    };
    // DO NOTHING rather than a unique violation: on PostgreSQL a violation
    // would abort the transaction.
    LoginAttempt::insert(first)
        .on_conflict(OnConflict::column(login_attempt::Column::AttemptKey).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    let Some(row) = LoginAttempt::find_by_id(key.to_string()).lock_exclusive().one(conn).await?
    else {
        return Err(Error::Internal("a login attempt row vanished in its transaction".to_string()));
    };
    let (failures, started) = if row.window_started_at + window_ms > now_ms {
        (row.failures, row.window_started_at)
    } else {
        (0, now_ms)
    };
    if failures >= max {
        return Ok(false);
    }
    let mut row = row.into_active_model();
    row.failures = Set(failures + 1);
    row.window_started_at = Set(started);
    row.update(conn).await?;
    Ok(true)
}
