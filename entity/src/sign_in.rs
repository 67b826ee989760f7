//! One attempt to sign in and how it ended.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_ins")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Epoch milliseconds.
    pub at: i64,
    pub tenant_id: Option<String>,
    /// A local account's subscription.
    pub instance_id: Option<String>,
    pub user_name: Option<String>,
    /// `koogallery`, `oidc`, `orgid`, `cas`, `local` or `unknown`.
    pub dialect: String,
    /// `signed_in`, `refused`, `bad_request`, `auth_centre_failed`,
    /// `wrong_credentials`, `locked` or `error`.
    pub outcome: String,
    /// The refusal's key (`refusal.<key>` in the catalogues).
    pub refusal: Option<String>,
    /// The reference the refusal page showed.
    pub reference: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
