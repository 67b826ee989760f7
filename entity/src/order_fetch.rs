//! An order whose details are to be fetched from the seller Open API.
//! Times are epoch milliseconds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_fetches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub instance_id: String,
    pub order_id: String,
    /// Empty when the call named no line.
    pub order_line_id: String,
    pub cause: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub claim_token: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
