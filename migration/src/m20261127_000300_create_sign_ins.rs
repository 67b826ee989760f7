//! Sign-ins: every attempt to sign in (marketplace or local account), how
//! it ended, and the reference its refusal page showed, so an operator can
//! answer "why can't alice sign in?". Kept for `sign_ins.retention_days`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignIns::Table)
                    .col(
                        ColumnDef::new(SignIns::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SignIns::At).big_integer().not_null())
                    .col(ColumnDef::new(SignIns::TenantId).string_len(64).null())
                    .col(ColumnDef::new(SignIns::InstanceId).string_len(64).null())
                    .col(ColumnDef::new(SignIns::UserName).string_len(128).null())
                    .col(ColumnDef::new(SignIns::Dialect).string_len(16).not_null())
                    .col(ColumnDef::new(SignIns::Outcome).string_len(32).not_null())
                    .col(ColumnDef::new(SignIns::Refusal).string_len(64).null())
                    .col(ColumnDef::new(SignIns::Reference).string_len(16).null())
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_sign_ins_at", vec![SignIns::At]),
            ("idx_sign_ins_tenant_at", vec![SignIns::TenantId, SignIns::At]),
            ("idx_sign_ins_reference", vec![SignIns::Reference]),
        ] {
            let mut index = Index::create();
            index.name(name).table(SignIns::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SignIns::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum SignIns {
    Table,
    Id,
    /// Epoch milliseconds.
    At,
    TenantId,
    /// A local account's subscription.
    InstanceId,
    UserName,
    Dialect,
    Outcome,
    /// The refusal's catalogue key (`refusal.<key>`), when refused.
    Refusal,
    /// The reference the refusal page showed.
    Reference,
}
