//! Operator accounts (see `admin::operators`).

use entity::operator::{self, Entity as Operator};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::Error;

pub async fn find(
    conn: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<operator::Model>, Error> {
    Ok(Operator::find_by_id(username.to_string()).one(conn).await?)
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<operator::Model>, Error> {
    Ok(Operator::find().order_by_asc(operator::Column::Username).all(conn).await?)
}

/// Adds an account; `false` when the name is taken.
pub async fn insert(conn: &impl ConnectionTrait, row: operator::Model) -> Result<bool, Error> {
    // One statement, no read first: the name's key decides.
    let added = Operator::insert(operator::ActiveModel::from(row))
        .on_conflict(OnConflict::column(operator::Column::Username).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(added == 1)
}

pub async fn set_password(
    conn: &impl ConnectionTrait,
    username: &str,
    password_hash: &str,
) -> Result<(), Error> {
    Operator::update_many()
        .col_expr(operator::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(operator::Column::MustChangePassword, Expr::value(false))
        .filter(operator::Column::Username.eq(username))
        .exec(conn)
        .await?;
    Ok(())
}

/// `false` when there is no such account.
pub async fn set_disabled(
    conn: &impl ConnectionTrait,
    username: &str,
    disabled: bool,
) -> Result<bool, Error> {
    let done = Operator::update_many()
        .col_expr(operator::Column::Disabled, Expr::value(disabled))
        .filter(operator::Column::Username.eq(username))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}
