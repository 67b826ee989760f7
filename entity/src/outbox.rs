//! An event for the vendor's app and the state of its delivery. Times
//! are epoch milliseconds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `msg_…`, the same on every attempt.
    #[sea_orm(unique)]
    pub webhook_id: String,
    /// `instance.created`, `tenant.deleted`, …
    pub event_type: String,
    pub tenant_id: Option<String>,
    pub instance_id: Option<String>,
    /// The event's `data`, JSON; no secret, no personal field.
    pub payload: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub created_at: i64,
    pub retry_from: i64,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub claim_token: Option<String>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub dead_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
