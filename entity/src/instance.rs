//! A purchased instance of the product, as the marketplace created it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance_id: String,
    /// `active`, `frozen` or `released`.
    pub status: String,
    pub trial: bool,
    /// Why it is frozen: `expiry`, `arrears`, `marketplace` or `operator`.
    pub frozen_reason: Option<String>,
    /// As the marketplace sent it: `yyyyMMddHHmmss`.
    pub expire_time: Option<String>,
    pub order_id: String,
    pub order_line_id: Option<String>,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub customer_id: Option<String>,
    pub tenant_id: Option<String>,
    pub test_flag: bool,
    /// `v2` or `v1`: the interface version that created it.
    pub channel: String,
    /// Non-personal order details (charging mode, period, quantities,
    /// extension parameters) as JSON.
    pub details: Option<String>,
    /// Personal buyer fields (names, phone, email), sealed with the master key.
    pub buyer_sealed: Option<String>,
    /// Local account credentials, sealed with the master key.
    pub app_user_sealed: Option<String>,
    pub app_password_sealed: Option<String>,
    /// argon2id hash of the local password, for local sign-in.
    pub app_password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
