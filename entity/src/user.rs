//! A tenant's user, as authSync describes it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_name: String,
    pub name: String,
    pub org_code: Option<String>,
    /// `admin` or `user`.
    pub role: String,
    pub enabled: bool,
    pub deleted: bool,
    pub position: Option<String>,
    pub employee_code: Option<String>,
    pub employee_type: Option<String>,
    /// Mobile, email, work place and entry date as JSON, sealed with the
    /// master key; erased with the tenant's data.
    pub personal_sealed: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
