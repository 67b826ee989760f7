//! Users and their grants, written in bulk: one statement per call, not
//! one per user.

use entity::grant::{self, Entity as Grant};
use entity::user::{self, Entity as User};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::error::Error;

/// The stored grants of these users for one app.
pub async fn grants(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    app_id: &str,
    user_names: &[String],
) -> Result<Vec<grant::Model>, Error> {
    if user_names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Grant::find()
        .filter(grant::Column::TenantId.eq(tenant_id))
        .filter(grant::Column::AppId.eq(app_id))
        .filter(grant::Column::UserName.is_in(user_names.iter().cloned()))
        .all(conn)
        .await?)
}

/// These users of a tenant, as stored.
pub async fn find_many(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_names: &[String],
) -> Result<Vec<user::Model>, Error> {
    if user_names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(User::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::UserName.is_in(user_names.iter().cloned()))
        .all(conn)
        .await?)
}

/// Inserts or replaces users.
pub async fn upsert_users(
    conn: &impl ConnectionTrait,
    rows: Vec<user::Model>,
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    User::insert_many(rows.into_iter().map(user::ActiveModel::from))
        .on_conflict(
            OnConflict::columns([user::Column::TenantId, user::Column::UserName])
                .update_columns([
                    user::Column::Name,
                    user::Column::OrgCode,
                    user::Column::Role,
                    user::Column::Enabled,
                    user::Column::Deleted,
                    user::Column::Position,
                    user::Column::EmployeeCode,
                    user::Column::EmployeeType,
                    user::Column::PersonalSealed,
                    user::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Inserts or replaces grants.
pub async fn upsert_grants(
    conn: &impl ConnectionTrait,
    rows: Vec<grant::Model>,
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    Grant::insert_many(rows.into_iter().map(grant::ActiveModel::from))
        .on_conflict(
            OnConflict::columns([
                grant::Column::TenantId,
                grant::Column::AppId,
                grant::Column::UserName,
            ])
            .update_columns([
                grant::Column::Granted,
                grant::Column::SyncTime,
                grant::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Marks users deleted, erases their personal fields and withdraws every
/// grant they had in the tenant.
pub async fn delete(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    user_names: &[String],
) -> Result<(), Error> {
    if user_names.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    User::update_many()
        .col_expr(user::Column::Deleted, Expr::value(true))
        .col_expr(user::Column::PersonalSealed, Expr::value(Option::<String>::None))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::UserName.is_in(user_names.iter().cloned()))
        .exec(conn)
        .await?;
    Grant::update_many()
        .col_expr(grant::Column::Granted, Expr::value(false))
        .col_expr(grant::Column::UpdatedAt, Expr::value(now))
        .filter(grant::Column::TenantId.eq(tenant_id))
        .filter(grant::Column::UserName.is_in(user_names.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(())
}

/// A tenant's users (not deleted) with whether any app grant is active.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Vec<(user::Model, bool)>, Error> {
    let users = User::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Deleted.eq(false))
        .order_by_asc(user::Column::UserName)
        .all(conn)
        .await?;
    let granted: std::collections::HashSet<String> = Grant::find()
        .filter(grant::Column::TenantId.eq(tenant_id))
        .filter(grant::Column::Granted.eq(true))
        .all(conn)
        .await?
        .into_iter()
        .map(|g| g.user_name)
        .collect();
    Ok(users
        .into_iter()
        .map(|u| {
            let is_granted = granted.contains(&u.user_name);
            (u, is_granted)
        })
        .collect())
}

pub async fn count(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<u64, Error> {
    Ok(User::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Deleted.eq(false))
        .count(conn)
        .await?)
}

/// Erases the personal fields of every user of the tenant.
pub async fn erase_personal(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<(), Error> {
    User::update_many()
        .col_expr(user::Column::PersonalSealed, Expr::value(Option::<String>::None))
        .filter(user::Column::TenantId.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// What the access rule needs to know about a user signing in to one app
/// (none for a user never synced or deleted), and the row itself.
pub async fn sign_in_facts(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    app_id: &str,
    user_name: &str,
) -> Result<(Option<user::Model>, Option<crate::access::UserFacts>), Error> {
    let Some(found) = User::find_by_id((tenant_id.to_string(), user_name.to_string()))
        .one(conn)
        .await?
        .filter(|u| !u.deleted)
    else {
        return Ok((None, None));
    };
    let granted =
        Grant::find_by_id((tenant_id.to_string(), app_id.to_string(), user_name.to_string()))
            .one(conn)
            .await?
            .is_some_and(|g| g.granted);
    let facts = crate::access::UserFacts { granted, enabled: found.enabled };
    Ok((Some(found), Some(facts)))
}

/// The columns a tenant's user list sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserOrder {
    #[default]
    UserName,
    Name,
    Role,
    Enabled,
}

impl UserOrder {
    fn column(self) -> user::Column {
        match self {
            UserOrder::UserName => user::Column::UserName,
            UserOrder::Name => user::Column::Name,
            UserOrder::Role => user::Column::Role,
            UserOrder::Enabled => user::Column::Enabled,
        }
    }
}

/// One page of a tenant's users (not deleted) in the order asked for (the
/// user name breaks ties), each with the apps it is granted.
pub async fn page(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    sort: (UserOrder, sea_orm::Order),
    offset: u64,
    limit: u64,
) -> Result<Vec<(user::Model, Vec<String>)>, Error> {
    use sea_orm::QuerySelect;
    let (by, direction) = sort;
    let mut query = User::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Deleted.eq(false))
        .order_by(by.column(), direction.clone());
    if by != UserOrder::UserName {
        query = query.order_by(user::Column::UserName, direction);
    }
    let users = query.offset(super::bindable_offset(offset)).limit(limit).all(conn).await?;
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let grants = Grant::find()
        .filter(grant::Column::TenantId.eq(tenant_id))
        .filter(grant::Column::UserName.is_in(users.iter().map(|u| u.user_name.clone())))
        .filter(grant::Column::Granted.eq(true))
        .order_by_asc(grant::Column::AppId)
        .all(conn)
        .await?;
    Ok(users
        .into_iter()
        .map(|u| {
            let apps = grants
                .iter()
                .filter(|g| g.user_name == u.user_name)
                .map(|g| g.app_id.clone())
                .collect();
            (u, apps)
        })
        .collect())
}

/// Users granted at least one app, across every tenant.
pub async fn count_granted(conn: &impl ConnectionTrait) -> Result<i64, Error> {
    use sea_orm::sea_query::{Alias, Asterisk, Query};
    let granted = Query::select()
        .distinct()
        .columns([grant::Column::TenantId, grant::Column::UserName])
        .from(Grant)
        .and_where(Expr::col(grant::Column::Granted).eq(true))
        .to_owned();
    let count = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from_subquery(granted, Alias::new("g"))
        .to_owned();
    let statement = conn.get_database_backend().build(&count);
    let row = conn.query_one(statement).await?;
    Ok(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0))
}
