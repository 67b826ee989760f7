//! Instances, the orders applied to them, their state transitions, the
//! inbound event log and the nonce replay cache.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .col(
                        ColumnDef::new(Instances::InstanceId)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Instances::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Instances::Trial).boolean().not_null())
                    .col(ColumnDef::new(Instances::FrozenReason).string_len(16).null())
                    .col(ColumnDef::new(Instances::ExpireTime).string_len(14).null())
                    .col(ColumnDef::new(Instances::OrderId).string_len(64).not_null())
                    .col(ColumnDef::new(Instances::OrderLineId).string_len(64).null())
                    .col(ColumnDef::new(Instances::ProductId).string_len(64).null())
                    .col(ColumnDef::new(Instances::SkuCode).string_len(64).null())
                    .col(ColumnDef::new(Instances::CustomerId).string_len(100).null())
                    .col(ColumnDef::new(Instances::TenantId).string_len(64).null())
                    .col(ColumnDef::new(Instances::TestFlag).boolean().not_null())
                    .col(ColumnDef::new(Instances::Channel).string_len(8).not_null())
                    .col(ColumnDef::new(Instances::Details).text().null())
                    .col(ColumnDef::new(Instances::BuyerSealed).text().null())
                    .col(ColumnDef::new(Instances::AppUserSealed).text().null())
                    .col(ColumnDef::new(Instances::AppPasswordSealed).text().null())
                    .col(ColumnDef::new(Instances::AppPasswordHash).text().null())
                    .col(ColumnDef::new(Instances::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Instances::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_instances_order_id", Instances::OrderId),
            ("idx_instances_tenant_id", Instances::TenantId),
            ("idx_instances_created_at", Instances::CreatedAt),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(Instances::Table).col(column).to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(
                        ColumnDef::new(Orders::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Orders::InstanceId).string_len(64).not_null())
                    .col(ColumnDef::new(Orders::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(Orders::OrderId).string_len(64).not_null())
                    .col(ColumnDef::new(Orders::OrderLineId).string_len(64).not_null())
                    .col(ColumnDef::new(Orders::ProductKey).string_len(64).not_null())
                    .col(ColumnDef::new(Orders::ProductId).string_len(64).null())
                    .col(ColumnDef::new(Orders::SkuCode).string_len(64).null())
                    .col(ColumnDef::new(Orders::ExpireTime).string_len(14).null())
                    .col(ColumnDef::new(Orders::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        // The idempotency key of spec §5, enforced by the database. It
        // leads with order_id, so it also serves the admin lookup by order.
        manager
            .create_index(
                Index::create()
                    .name("uq_orders_idempotency")
                    .table(Orders::Table)
                    .col(Orders::OrderId)
                    .col(Orders::OrderLineId)
                    .col(Orders::Kind)
                    .col(Orders::ProductKey)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Transitions::Table)
                    .col(
                        ColumnDef::new(Transitions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Transitions::InstanceId).string_len(64).not_null())
                    .col(ColumnDef::new(Transitions::FromStatus).string_len(16).not_null())
                    .col(ColumnDef::new(Transitions::ToStatus).string_len(16).not_null())
                    .col(ColumnDef::new(Transitions::Cause).string_len(64).not_null())
                    .col(ColumnDef::new(Transitions::EventId).big_integer().null())
                    .col(
                        ColumnDef::new(Transitions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_transitions_instance_id")
                    .table(Transitions::Table)
                    .col(Transitions::InstanceId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(
                        ColumnDef::new(Events::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Events::ReceivedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Events::Channel).string_len(16).not_null())
                    .col(ColumnDef::new(Events::Activity).string_len(64).not_null())
                    .col(ColumnDef::new(Events::ResultCode).string_len(6).not_null())
                    .col(ColumnDef::new(Events::ResultMsg).string_len(255).not_null())
                    .col(ColumnDef::new(Events::InstanceId).string_len(64).null())
                    .col(ColumnDef::new(Events::TenantId).string_len(64).null())
                    .col(ColumnDef::new(Events::OrderId).string_len(64).null())
                    .col(ColumnDef::new(Events::TestFlag).boolean().not_null())
                    .col(ColumnDef::new(Events::DurationMs).big_integer().not_null())
                    .col(ColumnDef::new(Events::Request).text().not_null())
                    .col(ColumnDef::new(Events::Response).text().not_null())
                    .col(ColumnDef::new(Events::ReplayOf).big_integer().null())
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_events_instance_id", Events::InstanceId),
            ("idx_events_tenant_id", Events::TenantId),
        ] {
            manager
                .create_index(
                    Index::create().name(name).table(Events::Table).col(column).to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Nonces::Table)
                    .col(ColumnDef::new(Nonces::Nonce).string_len(160).not_null().primary_key())
                    .col(ColumnDef::new(Nonces::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        // No index on expires_at: the purge runs once a minute over a table
        // bounded by the nonce window, while every call would pay for it.
        // Events are listed newest first by id, not by received_at.
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Nonces::Table.into_iden(),
            Events::Table.into_iden(),
            Transitions::Table.into_iden(),
            Orders::Table.into_iden(),
            Instances::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    InstanceId,
    Status,
    Trial,
    FrozenReason,
    ExpireTime,
    OrderId,
    OrderLineId,
    ProductId,
    SkuCode,
    CustomerId,
    TenantId,
    TestFlag,
    Channel,
    Details,
    BuyerSealed,
    AppUserSealed,
    AppPasswordSealed,
    AppPasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    InstanceId,
    Kind,
    OrderId,
    OrderLineId,
    ProductKey,
    ProductId,
    SkuCode,
    ExpireTime,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Transitions {
    Table,
    Id,
    InstanceId,
    FromStatus,
    ToStatus,
    Cause,
    EventId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    ReceivedAt,
    Channel,
    Activity,
    ResultCode,
    ResultMsg,
    InstanceId,
    TenantId,
    OrderId,
    TestFlag,
    DurationMs,
    Request,
    Response,
    ReplayOf,
}

#[derive(DeriveIden)]
enum Nonces {
    Table,
    Nonce,
    ExpiresAt,
}
