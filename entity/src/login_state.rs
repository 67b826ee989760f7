//! A sign-in waiting for its callback: single use, bound to the browser
//! that started it by the hash of its login cookie.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub binding_hash: String,
    pub tenant_id: String,
    pub app_id: String,
    /// The PKCE verifier, sealed with the master key.
    pub verifier_sealed: String,
    pub next_path: String,
    /// SHA-256 of the OpenID Connect `nonce` sent with the request; `None`
    /// for a KooGallery-dialect sign-in.
    pub nonce_hash: Option<String>,
    /// Epoch milliseconds.
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
