//! Sign-in: login states waiting for their callback, and sessions.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::IdHash).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Sessions::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::AppId).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::InstanceId).string_len(64).null())
                    .col(ColumnDef::new(Sessions::UserName).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::Name).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::Role).string_len(32).not_null())
                    .col(ColumnDef::new(Sessions::OrgCode).string_len(64).null())
                    .col(ColumnDef::new(Sessions::EmailSealed).text().null())
                    .col(ColumnDef::new(Sessions::AccessTokenSealed).text().not_null())
                    .col(ColumnDef::new(Sessions::RefreshTokenSealed).text().null())
                    .col(ColumnDef::new(Sessions::AccessExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::LastSeenAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::Ended).string_len(16).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(
                        ColumnDef::new(LoginAttempts::AttemptKey)
                            .string_len(160)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginAttempts::Failures).big_integer().not_null())
                    .col(ColumnDef::new(LoginAttempts::WindowStartedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(ColumnDef::new(SigningKeys::Kid).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(SigningKeys::PrivateSealed).text().not_null())
                    .col(ColumnDef::new(SigningKeys::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_instance")
                    .table(Sessions::Table)
                    .col(Sessions::InstanceId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_tenant_user")
                    .table(Sessions::Table)
                    .col(Sessions::TenantId)
                    .col(Sessions::UserName)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SigningKeys::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(LoginAttempts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(LoginStates::Table).to_owned()).await
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
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    TenantId,
    AppId,
    InstanceId,
    UserName,
    Name,
    Role,
    OrgCode,
    EmailSealed,
    AccessTokenSealed,
    RefreshTokenSealed,
    AccessExpiresAt,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    Ended,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    AttemptKey,
    Failures,
    WindowStartedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    PrivateSealed,
    CreatedAt,
}
