//! An order applied to an instance: the idempotency record of a purchase,
//! renewal, trial conversion, renewal cancellation or upgrade. The unique
//! key (kind, order_id, order_line_id, product_key) makes a repeat of the
//! same order a no-op in the same transaction as its effect.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub instance_id: String,
    /// `new`, `renewal`, `trial_to_formal`, `unsubscribe_renewal_period`
    /// or `upgrade`.
    pub kind: String,
    pub order_id: String,
    /// Empty when the call carries none (V1).
    pub order_line_id: String,
    /// The productId for pay-per-use purchases (one order may hold several
    /// billing items), empty otherwise.
    pub product_key: String,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub expire_time: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
