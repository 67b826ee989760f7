//! Usage records of pay-per-use instances (protocol §9): taken from the
//! vendor's app once per app record id, pushed to the marketplace's
//! `isv/usage-data` with a `metering_sn` fixed when the record arrived, so
//! a retried push never bills twice. Times are epoch milliseconds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageRecords::Table)
                    .col(
                        ColumnDef::new(UsageRecords::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(UsageRecords::RecordId).string_len(64).not_null())
                    .col(ColumnDef::new(UsageRecords::InstanceId).string_len(128).not_null())
                    .col(ColumnDef::new(UsageRecords::BeginAt).big_integer().not_null())
                    .col(ColumnDef::new(UsageRecords::EndAt).big_integer().not_null())
                    .col(ColumnDef::new(UsageRecords::Value).string_len(24).not_null())
                    .col(ColumnDef::new(UsageRecords::MeteringSn).string_len(64).not_null())
                    .col(ColumnDef::new(UsageRecords::State).string_len(16).not_null())
                    .col(ColumnDef::new(UsageRecords::Solo).boolean().not_null())
                    .col(ColumnDef::new(UsageRecords::RelatePkgInstance).string_len(128).null())
                    .col(ColumnDef::new(UsageRecords::Attempts).integer().not_null())
                    .col(ColumnDef::new(UsageRecords::NextAttemptAt).big_integer().not_null())
                    .col(ColumnDef::new(UsageRecords::ClaimedUntil).big_integer().null())
                    .col(ColumnDef::new(UsageRecords::ClaimToken).string_len(32).null())
                    .col(ColumnDef::new(UsageRecords::LastError).string_len(200).null())
                    .col(ColumnDef::new(UsageRecords::RefusalCode).string_len(32).null())
                    .col(ColumnDef::new(UsageRecords::RefusalMessage).string_len(200).null())
                    .col(ColumnDef::new(UsageRecords::ReceivedAt).big_integer().not_null())
                    .col(ColumnDef::new(UsageRecords::PushedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_usage_records_record")
                    .table(UsageRecords::Table)
                    .col(UsageRecords::RecordId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_usage_records_sn")
                    .table(UsageRecords::Table)
                    .col(UsageRecords::MeteringSn)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_records_due")
                    .table(UsageRecords::Table)
                    .col(UsageRecords::State)
                    .col(UsageRecords::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_records_instance")
                    .table(UsageRecords::Table)
                    .col(UsageRecords::InstanceId)
                    .col(UsageRecords::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(UsageRecords::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum UsageRecords {
    Table,
    Id,
    /// The app's own id for the record: the same id is stored once.
    RecordId,
    InstanceId,
    BeginAt,
    EndAt,
    /// The decimal string the app sent, kept exactly.
    Value,
    /// Fixed when the record arrived; every push of it carries this one.
    MeteringSn,
    /// `pending`, `pushed` or `refused`.
    State,
    /// Pushed alone: its batch was refused, so each record learns its own answer.
    Solo,
    RelatePkgInstance,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    ClaimToken,
    LastError,
    /// The marketplace's code when it refused the record.
    RefusalCode,
    RefusalMessage,
    ReceivedAt,
    PushedAt,
}
