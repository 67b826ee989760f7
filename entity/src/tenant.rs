//! A buyer's enterprise (tenant), as tenantSync describes it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub tenant_code: String,
    pub name: String,
    /// The tenant's auth-centre base URL.
    pub domain_name: String,
    /// The latest tenantSync carried `testFlag` = 1.
    pub test_flag: bool,
    pub deleted: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
