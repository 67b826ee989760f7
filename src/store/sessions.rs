//! Sessions and the failed sign-in attempts before them.

use entity::login_attempt::{self, Entity as LoginAttempt};
use entity::session::{self, Entity as Session};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::Error;

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

/// Writes a session's `last_seen_at` and tokens (the rest never changes).
pub async fn update(conn: &impl ConnectionTrait, row: &session::Model) -> Result<(), Error> {
    Session::update_many()
        .col_expr(session::Column::LastSeenAt, Expr::value(row.last_seen_at))
        .col_expr(session::Column::AccessTokenSealed, Expr::value(row.access_token_sealed.clone()))
        .col_expr(
            session::Column::RefreshTokenSealed,
            Expr::value(row.refresh_token_sealed.clone()),
        )
        .col_expr(session::Column::AccessExpiresAt, Expr::value(row.access_expires_at))
        .filter(session::Column::IdHash.eq(row.id_hash.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, id_hash: &str) -> Result<(), Error> {
    Session::delete_by_id(id_hash.to_string()).exec(conn).await?;
    Ok(())
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

/// Forgets expired sessions; returns how many.
pub async fn purge_expired(conn: &impl ConnectionTrait, now_ms: i64) -> Result<u64, Error> {
    let sessions =
        Session::delete_many().filter(session::Column::ExpiresAt.lt(now_ms)).exec(conn).await?;
    Ok(sessions.rows_affected)
}

/// Sessions not past their absolute lifetime.
pub async fn count_open(conn: &impl ConnectionTrait, now_ms: i64) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    Ok(Session::find().filter(session::Column::ExpiresAt.gte(now_ms)).count(conn).await?)
}

/// Which open sessions an operator lists: of one tenant and one user
/// when given; `before` (a session's `created_at` and public id) is the
/// cursor past which, newest first, the list goes on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionFilter<'a> {
    pub tenant_id: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub before: Option<(i64, &'a str)>,
}

impl SessionFilter<'_> {
    /// Whether a session is in the list (as [`list_open`] selects, for a
    /// store that cannot query: Redis).
    pub fn matches(&self, row: &session::Model) -> bool {
        self.tenant_id.is_none_or(|t| row.tenant_id == t)
            && self.user_name.is_none_or(|u| row.user_name == u)
            && self.before.is_none_or(|cursor| place(row) < cursor)
    }
}

/// What orders sessions (newest first: the greatest first): `created_at`,
/// then the public id.
pub fn place(row: &session::Model) -> (i64, &str) {
    (row.created_at, row.public_id.as_str())
}

/// Open sessions (not past their absolute lifetime) as `filter` selects,
/// newest first (the public id breaks ties); at most `limit`.
pub async fn list_open(
    conn: &impl ConnectionTrait,
    filter: SessionFilter<'_>,
    now_ms: i64,
    limit: u64,
) -> Result<Vec<session::Model>, Error> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut query = Session::find().filter(session::Column::ExpiresAt.gte(now_ms));
    if let Some(tenant_id) = filter.tenant_id {
        query = query.filter(session::Column::TenantId.eq(tenant_id));
    }
    if let Some(user_name) = filter.user_name {
        query = query.filter(session::Column::UserName.eq(user_name));
    }
    if let Some((at, id)) = filter.before {
        query = query.filter(
            sea_orm::Condition::any()
                .add(session::Column::CreatedAt.lt(at))
                .add(session::Column::CreatedAt.eq(at).and(session::Column::PublicId.lt(id))),
        );
    }
    Ok(query
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::PublicId)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The session an operator names by its public id.
pub async fn find_public(
    conn: &impl ConnectionTrait,
    public_id: &str,
) -> Result<Option<session::Model>, Error> {
    if public_id.is_empty() {
        return Ok(None);
    }
    Ok(Session::find().filter(session::Column::PublicId.eq(public_id)).one(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(created_at: i64, public_id: &str, tenant_id: &str) -> session::Model {
        session::Model {
            id_hash: format!("hash-{public_id}"),
            tenant_id: tenant_id.into(),
            app_id: "app".into(),
            instance_id: None,
            user_name: "u".into(),
            name: "U".into(),
            role: "user".into(),
            org_code: None,
            email_sealed: None,
            access_token_sealed: String::new(),
            refresh_token_sealed: None,
            access_expires_at: 0,
            created_at,
            last_seen_at: created_at,
            expires_at: i64::MAX,
            public_id: public_id.into(),
        }
    }

    /// What Redis selects is what the database's query selects: past the
    /// cursor newest first (earlier, or as early with a smaller id), the
    /// cursor's own session not again, the filters held.
    #[test]
    fn a_cursor_selects_the_sessions_past_it_newest_first() {
        let filter =
            SessionFilter { tenant_id: Some("t"), user_name: None, before: Some((100, "m")) };
        assert!(filter.matches(&session(99, "z", "t")), "signed in earlier");
        assert!(filter.matches(&session(100, "a", "t")), "as early, a smaller id");
        assert!(!filter.matches(&session(100, "m", "t")), "the cursor's own");
        assert!(!filter.matches(&session(100, "n", "t")), "as early, a greater id");
        assert!(!filter.matches(&session(101, "a", "t")), "signed in later");
        assert!(!filter.matches(&session(99, "z", "other")), "another tenant");
        let mut rows = [session(100, "a", "t"), session(101, "b", "t"), session(100, "c", "t")];
        rows.sort_by(|a, b| place(b).cmp(&place(a)));
        let order: Vec<&str> = rows.iter().map(|r| r.public_id.as_str()).collect();
        assert_eq!(order, ["b", "c", "a"], "newest first, then the greater id");
    }
}
