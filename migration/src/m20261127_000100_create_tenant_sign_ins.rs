//! How each tenant's users sign in, when an operator chose it: the dialect
//! and, where the tenant's auth centre is not its `domainName`, its base URL.
//! A tenant without a row follows `sso.dialect`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantSignIns::Table)
                    .col(
                        ColumnDef::new(TenantSignIns::TenantId)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TenantSignIns::Dialect).string_len(16).not_null())
                    .col(ColumnDef::new(TenantSignIns::BaseUrl).string_len(2048).null())
                    .col(ColumnDef::new(TenantSignIns::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(TenantSignIns::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum TenantSignIns {
    Table,
    TenantId,
    /// `auto`, `koogallery`, `oidc`, `orgid` or `cas`.
    Dialect,
    BaseUrl,
    /// Epoch milliseconds.
    UpdatedAt,
}
