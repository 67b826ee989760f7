//! Indexes for the admin lists' sortable columns that had none: instances
//! by expiry, tenants by last change. With them a sorted page is an index
//! walk, not a sort of the whole table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_instances_expire_time")
                    .table(Instances::Table)
                    .col(Instances::ExpireTime)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tenants_updated_at")
                    .table(Tenants::Table)
                    .col(Tenants::UpdatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop().name("idx_tenants_updated_at").table(Tenants::Table).to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop().name("idx_instances_expire_time").table(Instances::Table).to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    ExpireTime,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    UpdatedAt,
}
