//! Named operator accounts of the admin site, each with a role. The
//! account of `admin.username` / `admin.password_hash` stays in the
//! settings and is not a row here.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Operators::Table)
                    .col(
                        ColumnDef::new(Operators::Username).string_len(64).not_null().primary_key(),
                    )
                    .col(ColumnDef::new(Operators::Role).string_len(16).not_null())
                    .col(ColumnDef::new(Operators::PasswordHash).string_len(255).not_null())
                    .col(ColumnDef::new(Operators::MustChangePassword).boolean().not_null())
                    .col(ColumnDef::new(Operators::Disabled).boolean().not_null().default(false))
                    .col(ColumnDef::new(Operators::CreatedBy).string_len(64).not_null())
                    .col(ColumnDef::new(Operators::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Operators::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Operators {
    Table,
    Username,
    /// `viewer`, `operator` or `admin`.
    Role,
    /// argon2id.
    PasswordHash,
    /// True while the password is the one-time one `operator add` printed.
    MustChangePassword,
    Disabled,
    CreatedBy,
    /// Epoch milliseconds.
    CreatedAt,
}
