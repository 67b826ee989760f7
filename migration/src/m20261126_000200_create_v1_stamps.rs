//! The `timeStamp` of the last V1 state change applied to each subject (an
//! instance, a Kit tenant): V1 calls carry no nonce, so a captured call
//! could otherwise be sent again after a later one and undo it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(V1Stamps::Table)
                    .col(ColumnDef::new(V1Stamps::Subject).string_len(200).not_null().primary_key())
                    .col(ColumnDef::new(V1Stamps::SentAt).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(V1Stamps::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum V1Stamps {
    Table,
    /// `instance:{instanceId}` or `tenant:{tenantId}`.
    Subject,
    /// Epoch milliseconds of the newest applied call's `timeStamp`.
    SentAt,
}
