//! Sessions and the login states that lead to them.

use entity::login_attempt::{self, Entity as LoginAttempt};
use entity::login_state::{self, Entity as LoginState};
use entity::session::{self, Entity as Session};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::Error;

pub async fn insert_login_state(
    conn: &impl ConnectionTrait,
    row: login_state::Model,
) -> Result<(), Error> {
    login_state::ActiveModel::from(row).insert(conn).await?;
    Ok(())
}

/// Takes a login state out: it is returned once, to one caller, ever.
pub async fn take_login_state(
    conn: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<Option<login_state::Model>, Error> {
    let Some(row) = LoginState::find_by_id(state_hash.to_string()).one(conn).await? else {
        return Ok(None);
    };
    let deleted = LoginState::delete_by_id(state_hash.to_string()).exec(conn).await?;
    // Two callbacks racing with one state: only the one that deleted it wins.
    Ok((deleted.rows_affected == 1).then_some(row))
}

pub async fn insert(conn: &impl ConnectionTrait, row: session::Model) -> Result<(), Error> {
    session::ActiveModel::from(row).insert(conn).await?;
    Ok(())
}

pub async fn find(
    conn: &impl ConnectionTrait,
    id_hash: &str,
) -> Result<Option<session::Model>, Error> {
    Ok(Session::find_by_id(id_hash.to_string()).one(conn).await?)
}

pub async fn touch(conn: &impl ConnectionTrait, id_hash: &str, now_ms: i64) -> Result<(), Error> {
    Session::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(now_ms))
        .filter(session::Column::IdHash.eq(id_hash))
        .exec(conn)
        .await?;
    Ok(())
}

/// New tokens after a refresh.
pub async fn update_tokens(
    conn: &impl ConnectionTrait,
    id_hash: &str,
    access_token_sealed: String,
    refresh_token_sealed: Option<String>,
    access_expires_at: i64,
) -> Result<(), Error> {
    Session::update_many()
        .col_expr(session::Column::AccessTokenSealed, Expr::value(access_token_sealed))
        .col_expr(session::Column::RefreshTokenSealed, Expr::value(refresh_token_sealed))
        .col_expr(session::Column::AccessExpiresAt, Expr::value(access_expires_at))
        .filter(session::Column::IdHash.eq(id_hash))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, id_hash: &str) -> Result<(), Error> {
    Session::delete_by_id(id_hash.to_string()).exec(conn).await?;
    Ok(())
}

/// Sessions whose end reason `reason` may set: open ones, and for a
/// release (final) any not already released.
fn replaceable(reason: &str) -> sea_orm::sea_query::SimpleExpr {
    if reason == "released" {
        session::Column::Ended.is_null().or(session::Column::Ended.ne("released"))
    } else {
        session::Column::Ended.is_null()
    }
}

/// Ends every session of a tenant.
pub async fn end_for_tenant(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    reason: &str,
) -> Result<u64, Error> {
    let result = Session::update_many()
        .col_expr(session::Column::Ended, Expr::value(reason))
        .filter(session::Column::TenantId.eq(tenant_id))
        .filter(replaceable(reason))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Ends every session opened through an instance's local account.
pub async fn end_for_instance(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    reason: &str,
) -> Result<u64, Error> {
    let result = Session::update_many()
        .col_expr(session::Column::Ended, Expr::value(reason))
        .filter(session::Column::InstanceId.eq(instance_id))
        .filter(session::Column::TenantId.eq(""))
        .filter(replaceable(reason))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Failed attempts for `key` in the window that started last, or 0 when
/// the window has passed.
pub async fn failures(
    conn: &impl ConnectionTrait,
    key: &str,
    window_ms: i64,
    now_ms: i64,
) -> Result<i64, Error> {
    Ok(LoginAttempt::find_by_id(key.to_string())
        .one(conn)
        .await?
        .filter(|a| a.window_started_at + window_ms > now_ms)
        .map_or(0, |a| a.failures))
}

/// Counts one more failure for `key`, starting a new window if the last
/// one has passed.
pub async fn record_failure(
    conn: &impl ConnectionTrait,
    key: &str,
    window_ms: i64,
    now_ms: i64,
) -> Result<(), Error> {
    let current = LoginAttempt::find_by_id(key.to_string()).one(conn).await?;
    let row = match current {
        Some(a) if a.window_started_at + window_ms > now_ms => {
            login_attempt::Model { failures: a.failures + 1, ..a }
        }
        _ => login_attempt::Model {
            attempt_key: key.to_string(),
            failures: 1,
            window_started_at: now_ms,
        },
    };
    LoginAttempt::insert(login_attempt::ActiveModel::from(row))
        .on_conflict(
            OnConflict::column(login_attempt::Column::AttemptKey)
                .update_columns([
                    login_attempt::Column::Failures,
                    login_attempt::Column::WindowStartedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn clear_failures(conn: &impl ConnectionTrait, key: &str) -> Result<(), Error> {
    LoginAttempt::delete_by_id(key.to_string()).exec(conn).await?;
    Ok(())
}

/// Ends every session of these users of a tenant (their access was
/// withdrawn).
pub async fn end_for_users(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_names: &[String],
) -> Result<u64, Error> {
    if user_names.is_empty() {
        return Ok(0);
    }
    let result = Session::update_many()
        .col_expr(session::Column::Ended, Expr::value("revoked"))
        .filter(session::Column::Ended.is_null())
        .filter(session::Column::TenantId.eq(tenant_id))
        .filter(session::Column::UserName.is_in(user_names.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Forgets expired login states and sessions; returns how many.
pub async fn purge_expired(conn: &impl ConnectionTrait, now_ms: i64) -> Result<u64, Error> {
    let states = LoginState::delete_many()
        .filter(login_state::Column::ExpiresAt.lt(now_ms))
        .exec(conn)
        .await?;
    let sessions =
        Session::delete_many().filter(session::Column::ExpiresAt.lt(now_ms)).exec(conn).await?;
    Ok(states.rows_affected + sessions.rows_affected)
}
