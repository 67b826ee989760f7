//! A usage record of a pay-per-use instance, as the vendor's app sent it,
//! and where its push to the marketplace stands. Times are epoch milliseconds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The app's own id for the record.
    pub record_id: String,
    pub instance_id: String,
    pub begin_at: i64,
    pub end_at: i64,
    /// The decimal string the app sent, kept exactly.
    pub value: String,
    pub metering_sn: String,
    /// `pending`, `pushed` or `refused`.
    pub state: String,
    pub solo: bool,
    pub relate_pkg_instance: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub claim_token: Option<String>,
    pub last_error: Option<String>,
    pub refusal_code: Option<String>,
    pub refusal_message: Option<String>,
    pub received_at: i64,
    pub pushed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
