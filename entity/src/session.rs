//! A signed-in user's session. The cookie holds a random id; only its
//! hash is stored, so a database dump yields no usable cookie.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    pub tenant_id: String,
    pub app_id: String,
    pub instance_id: Option<String>,
    pub user_name: String,
    pub name: String,
    pub role: String,
    pub org_code: Option<String>,
    pub email_sealed: Option<String>,
    pub access_token_sealed: String,
    pub refresh_token_sealed: Option<String>,
    /// Epoch milliseconds, like every time below.
    pub access_expires_at: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// What operators name the session by; random, unrelated to the
    /// cookie. Empty for sessions opened before it existed.
    #[serde(default)]
    pub public_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
