//! A department of a tenant. `parent_code` is kept as sent, so a child
//! that arrives before its parent is attached as soon as the parent does.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "departments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_code: String,
    pub org_name: String,
    pub parent_code: Option<String>,
    pub retired: bool,
    /// Marks the rows a full sync saw; the others are retired.
    pub sync_mark: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
