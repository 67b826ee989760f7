//! When access ended for a tenant, a user or a local account: sessions
//! made at or before `at` for that subject are over, on every replica.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revocations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `tenant:{tenantId}`, `user:{tenantId}:{userName}` or
    /// `instance:{instanceId}` or `session:{publicId}`.
    pub subject: String,
    /// `frozen`, `released` or `revoked`.
    pub reason: String,
    /// Epoch milliseconds.
    pub at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
