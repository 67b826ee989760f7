//! The outbox: events for the vendor's app, written in the transaction of
//! the change they describe and delivered by a relay on every replica.
//! Times are epoch milliseconds so that both backends compare them as
//! numbers in the relay's claim query.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(
                        ColumnDef::new(Outbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Outbox::WebhookId).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Outbox::EventType).string_len(48).not_null())
                    .col(ColumnDef::new(Outbox::TenantId).string_len(128).null())
                    .col(ColumnDef::new(Outbox::InstanceId).string_len(128).null())
                    .col(ColumnDef::new(Outbox::Payload).text().not_null())
                    .col(ColumnDef::new(Outbox::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Outbox::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Outbox::RetryFrom).big_integer().not_null())
                    .col(ColumnDef::new(Outbox::Attempts).integer().not_null())
                    .col(ColumnDef::new(Outbox::NextAttemptAt).big_integer().not_null())
                    .col(ColumnDef::new(Outbox::ClaimedUntil).big_integer().null())
                    .col(ColumnDef::new(Outbox::ClaimToken).string_len(32).null())
                    .col(ColumnDef::new(Outbox::LastError).string_len(200).null())
                    .col(ColumnDef::new(Outbox::DeliveredAt).big_integer().null())
                    .col(ColumnDef::new(Outbox::DeadAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // The relay walks pending events in id order, and asks of each
        // whether an older pending one shares its tenant or its instance:
        // one index probe each (see store::outbox::claim).
        for (name, columns) in [
            ("idx_outbox_status", vec![Outbox::Status, Outbox::Id]),
            ("idx_outbox_tenant", vec![Outbox::TenantId, Outbox::Status, Outbox::Id]),
            ("idx_outbox_instance", vec![Outbox::InstanceId, Outbox::Status, Outbox::Id]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Outbox::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Outbox::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    /// `msg_…`: the same on every attempt, so the receiver can deduplicate.
    WebhookId,
    EventType,
    /// Events sharing a tenant or an instance are delivered in id order.
    TenantId,
    InstanceId,
    /// The event's `data`, JSON.
    Payload,
    /// `pending`, `delivered` or `dead`.
    Status,
    CreatedAt,
    /// Retries stop this long after it (creation, or the last redelivery).
    RetryFrom,
    Attempts,
    NextAttemptAt,
    /// A relay is delivering it until then (a lease, so a replica killed
    /// mid-delivery lets another take over).
    ClaimedUntil,
    /// Which claim may record the outcome.
    ClaimToken,
    LastError,
    DeliveredAt,
    DeadAt,
}
