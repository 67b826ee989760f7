//! A difference reconciliation found between koogate's records of an
//! instance and the marketplace's orders. Times are epoch milliseconds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "drift_findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub instance_id: String,
    pub kind: String,
    /// JSON: what koogate has.
    pub here: String,
    /// JSON: what the marketplace says.
    pub there: String,
    pub found_at: i64,
    pub checked_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
