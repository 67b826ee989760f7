//! Revocations: when access ended for a tenant, a user or a local
//! account. Every replica reads them to end sessions wherever they are
//! stored (database or Redis), so the `ended` mark on database sessions
//! is no longer needed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Revocations::Table)
                    .col(
                        ColumnDef::new(Revocations::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Revocations::Subject).string_len(200).not_null())
                    .col(ColumnDef::new(Revocations::Reason).string_len(16).not_null())
                    .col(ColumnDef::new(Revocations::At).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_revocations_at")
                    .table(Revocations::Table)
                    .col(Revocations::At)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Sessions::Table).drop_column(Sessions::Ended).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(ColumnDef::new(Sessions::Ended).string_len(16).null())
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(Revocations::Table).to_owned()).await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Revocations {
    Table,
    Id,
    /// `tenant:{tenantId}`, `user:{tenantId}:{userName}` or
    /// `instance:{instanceId}` (a local account).
    Subject,
    Reason,
    /// Epoch milliseconds: sessions made at or before this end.
    At,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Ended,
}
