//! OpenID Connect sign-in: a login state also keeps the hash of the
//! `nonce` its ID token must carry (NULL for the KooGallery dialect).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LoginStates::Table)
                    .add_column(ColumnDef::new(LoginStates::NonceHash).string_len(64).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LoginStates::Table)
                    .drop_column(LoginStates::NonceHash)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LoginStates {
    Table,
    NonceHash,
}
