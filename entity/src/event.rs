//! The inbound event log: every marketplace call, redacted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub received_at: DateTimeUtc,
    /// `lifecycle_v2`, `lifecycle_v1`, `kit_v2` or `kit_v1`.
    pub channel: String,
    pub activity: String,
    pub result_code: String,
    pub result_msg: String,
    pub instance_id: Option<String>,
    pub tenant_id: Option<String>,
    pub order_id: Option<String>,
    pub test_flag: bool,
    pub duration_ms: i64,
    /// The request with secrets and personal fields masked.
    pub request: String,
    /// The answer sent, with credentials masked.
    pub response: String,
    pub replay_of: Option<i64>,
    /// What the call changed, when worth keeping (a full sync's diff), JSON.
    pub detail: Option<String>,
    /// What an operator's replay needs (channel input, raw body), sealed
    /// with the master key; only for calls that authenticated.
    pub replay_sealed: Option<String>,
    /// Refused before it authenticated: kept for a shorter time.
    pub refused: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
