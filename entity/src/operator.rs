//! A named operator account of the admin site.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub username: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// argon2id; never the password.
    pub password_hash: String,
    /// True while the password is the one-time one it was made with.
    pub must_change_password: bool,
    pub disabled: bool,
    pub created_by: String,
    /// Epoch milliseconds.
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
