//! Order details from the seller Open API (protocol §9): the queue of
//! orders to fetch, written in the lifecycle call's own transaction, and
//! the order lines each fetch brought back. Times are epoch milliseconds,
//! compared as numbers by the fetcher's claim query on both backends.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrderFetches::Table)
                    .col(
                        ColumnDef::new(OrderFetches::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OrderFetches::InstanceId).string_len(128).not_null())
                    .col(ColumnDef::new(OrderFetches::OrderId).string_len(128).not_null())
                    .col(ColumnDef::new(OrderFetches::OrderLineId).string_len(128).not_null())
                    .col(ColumnDef::new(OrderFetches::Cause).string_len(48).not_null())
                    .col(ColumnDef::new(OrderFetches::Status).string_len(16).not_null())
                    .col(ColumnDef::new(OrderFetches::Attempts).integer().not_null())
                    .col(ColumnDef::new(OrderFetches::NextAttemptAt).big_integer().not_null())
                    .col(ColumnDef::new(OrderFetches::ClaimedUntil).big_integer().null())
                    .col(ColumnDef::new(OrderFetches::ClaimToken).string_len(32).null())
                    .col(ColumnDef::new(OrderFetches::LastError).string_len(200).null())
                    .col(ColumnDef::new(OrderFetches::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(OrderFetches::DoneAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_order_fetches_order")
                    .table(OrderFetches::Table)
                    .col(OrderFetches::OrderId)
                    .col(OrderFetches::OrderLineId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_fetches_due")
                    .table(OrderFetches::Table)
                    .col(OrderFetches::Status)
                    .col(OrderFetches::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderLines::Table)
                    .col(
                        ColumnDef::new(OrderLines::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OrderLines::FetchId).big_integer().not_null())
                    .col(ColumnDef::new(OrderLines::InstanceId).string_len(128).not_null())
                    .col(ColumnDef::new(OrderLines::OrderId).string_len(128).not_null())
                    .col(ColumnDef::new(OrderLines::OrderLineId).string_len(128).not_null())
                    .col(ColumnDef::new(OrderLines::OrderType).string_len(32).null())
                    .col(ColumnDef::new(OrderLines::ChargingMode).string_len(32).null())
                    .col(ColumnDef::new(OrderLines::PeriodType).string_len(16).null())
                    .col(ColumnDef::new(OrderLines::PeriodNumber).big_integer().null())
                    .col(ColumnDef::new(OrderLines::ExpireTime).string_len(32).null())
                    .col(ColumnDef::new(OrderLines::CreateTime).string_len(32).null())
                    .col(ColumnDef::new(OrderLines::ProductId).string_len(128).null())
                    .col(ColumnDef::new(OrderLines::SkuCode).string_len(128).null())
                    .col(ColumnDef::new(OrderLines::ProductName).string_len(512).null())
                    .col(ColumnDef::new(OrderLines::LinearValue).string_len(32).null())
                    .col(ColumnDef::new(OrderLines::Currency).string_len(32).null())
                    .col(ColumnDef::new(OrderLines::CurrencyAfterDiscount).string_len(32).null())
                    .col(ColumnDef::new(OrderLines::ExtendParams).text().null())
                    .col(ColumnDef::new(OrderLines::BuyerSealed).text().null())
                    .col(ColumnDef::new(OrderLines::RawAnswer).text().not_null())
                    .col(ColumnDef::new(OrderLines::FetchedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_order_lines_line")
                    .table(OrderLines::Table)
                    .col(OrderLines::OrderId)
                    .col(OrderLines::OrderLineId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_lines_instance")
                    .table(OrderLines::Table)
                    .col(OrderLines::InstanceId)
                    .col(OrderLines::FetchId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OrderLines::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OrderFetches::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum OrderFetches {
    Table,
    Id,
    InstanceId,
    OrderId,
    /// Empty when the call named none (V1): the whole order is fetched.
    OrderLineId,
    /// `new_instance`, `upgrade`, `refresh:renewal`, …
    Cause,
    /// `pending`, `done` or `failed` (the marketplace refused the order).
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    ClaimToken,
    LastError,
    CreatedAt,
    DoneAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    /// The fetch that brought it: orders apply to an instance in this order.
    FetchId,
    InstanceId,
    OrderId,
    OrderLineId,
    OrderType,
    ChargingMode,
    PeriodType,
    PeriodNumber,
    ExpireTime,
    CreateTime,
    ProductId,
    SkuCode,
    ProductName,
    /// The quantity (seats, storage…), as the marketplace wrote it.
    LinearValue,
    Currency,
    CurrencyAfterDiscount,
    ExtendParams,
    /// buyerInfo, sealed with the vault (personal fields).
    BuyerSealed,
    /// The answer with buyerInfo removed, for the event view.
    RawAnswer,
    FetchedAt,
}
