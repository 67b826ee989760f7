//! Reconciliation (protocol §9): what the marketplace says that koogate's
//! records do not, one row per instance and kind, and the leases that let
//! one replica at a time run a scheduled job. Times are epoch milliseconds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DriftFindings::Table)
                    .col(
                        ColumnDef::new(DriftFindings::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(DriftFindings::InstanceId).string_len(128).not_null())
                    .col(ColumnDef::new(DriftFindings::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(DriftFindings::Here).text().not_null())
                    .col(ColumnDef::new(DriftFindings::There).text().not_null())
                    .col(ColumnDef::new(DriftFindings::FoundAt).big_integer().not_null())
                    .col(ColumnDef::new(DriftFindings::CheckedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_drift_findings_instance_kind")
                    .table(DriftFindings::Table)
                    .col(DriftFindings::InstanceId)
                    .col(DriftFindings::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .col(ColumnDef::new(JobLeases::Name).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(JobLeases::Holder).string_len(32).not_null())
                    .col(ColumnDef::new(JobLeases::Until).big_integer().not_null())
                    .col(ColumnDef::new(JobLeases::LastRunAt).big_integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(JobLeases::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(DriftFindings::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum DriftFindings {
    Table,
    Id,
    InstanceId,
    /// `renewed_there`, `unsubscribed_there`, `sku_differs`,
    /// `quantity_differs` or `unknown_order`.
    Kind,
    /// What koogate has (JSON).
    Here,
    /// What the marketplace says (JSON, never personal fields).
    There,
    /// When this drift was first found.
    FoundAt,
    /// The latest reconciliation that still found it.
    CheckedAt,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    /// `reconcile`.
    Name,
    Holder,
    Until,
    /// When the job last finished a run (on any replica).
    LastRunAt,
}
