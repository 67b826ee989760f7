//! The `timeStamp` of the last V1 state change applied to a subject.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "v1_stamps")]
pub struct Model {
    /// `instance:{instanceId}` or `tenant:{tenantId}`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    /// Epoch milliseconds.
    pub sent_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
