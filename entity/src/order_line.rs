//! One order line as the seller Open API's order/query described it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub fetch_id: i64,
    pub instance_id: String,
    pub order_id: String,
    pub order_line_id: String,
    pub order_type: Option<String>,
    pub charging_mode: Option<String>,
    pub period_type: Option<String>,
    pub period_number: Option<i64>,
    pub expire_time: Option<String>,
    pub create_time: Option<String>,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub product_name: Option<String>,
    pub linear_value: Option<String>,
    pub currency: Option<String>,
    pub currency_after_discount: Option<String>,
    /// JSON `[{name, value}]`.
    pub extend_params: Option<String>,
    /// buyerInfo, sealed with the vault.
    pub buyer_sealed: Option<String>,
    /// The answer without buyerInfo.
    pub raw_answer: String,
    pub fetched_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
