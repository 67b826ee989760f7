//! Login states leave the database: a sign-in waiting for its callback now
//! lives in the browser's login cookie, sealed with the master key (see
//! `koogate::sso::pending`), so an anonymous `/sso/login` writes nothing.
//! Sign-ins started before the upgrade are asked to start again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LoginStates::Table).if_exists().to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginStates::Table)
                    .col(
                        ColumnDef::new(LoginStates::StateHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginStates::BindingHash).string_len(64).not_null())
                    .col(ColumnDef::new(LoginStates::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(LoginStates::AppId).string_len(64).not_null())
                    .col(ColumnDef::new(LoginStates::VerifierSealed).text().not_null())
                    .col(ColumnDef::new(LoginStates::NextPath).string_len(2048).not_null())
                    .col(ColumnDef::new(LoginStates::ExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(LoginStates::NonceHash).string_len(64).null())
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LoginStates {
    Table,
    StateHash,
    BindingHash,
    TenantId,
    AppId,
    VerifierSealed,
    NextPath,
    ExpiresAt,
    NonceHash,
}
