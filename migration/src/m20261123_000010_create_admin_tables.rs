//! The operator admin site: its sessions, the generated one-time password,
//! the sealed raw request that lets an operator replay a call, and the
//! indexes its paged lists need.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AdminSessions::Table)
                    .col(
                        ColumnDef::new(AdminSessions::IdHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdminSessions::Username).string_len(128).not_null())
                    .col(ColumnDef::new(AdminSessions::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(AdminSessions::LastSeenAt).big_integer().not_null())
                    .col(ColumnDef::new(AdminSessions::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AdminCredentials::Table)
                    .col(
                        ColumnDef::new(AdminCredentials::Name)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdminCredentials::PasswordHash).text().not_null())
                    .col(ColumnDef::new(AdminCredentials::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(ColumnDef::new(Events::ReplaySealed).text().null())
                    .to_owned(),
            )
            .await?;
        for (name, table, columns) in indexes() {
            let mut index = Index::create().name(name).table(table).to_owned();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in indexes() {
            manager.drop_index(Index::drop().name(name).table(table).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter().table(Events::Table).drop_column(Events::ReplaySealed).to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(AdminCredentials::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(AdminSessions::Table).to_owned()).await
    }
}

/// The admin lists' indexes: tenants by name (sorted pages), events by
/// time with their result (the dashboard's last 24 h, read from the index
/// alone) and by result code or channel (filters).
fn indexes() -> Vec<(&'static str, DynIden, Vec<DynIden>)> {
    vec![
        ("idx_tenants_name", Tenants::Table.into_iden(), vec![Tenants::Name.into_iden()]),
        (
            "idx_tenants_tenant_code",
            Tenants::Table.into_iden(),
            vec![Tenants::TenantCode.into_iden()],
        ),
        (
            "idx_events_received_at",
            Events::Table.into_iden(),
            vec![Events::ReceivedAt.into_iden(), Events::ResultCode.into_iden()],
        ),
        (
            "idx_events_result_code",
            Events::Table.into_iden(),
            vec![Events::ResultCode.into_iden(), Events::Id.into_iden()],
        ),
        (
            "idx_events_channel",
            Events::Table.into_iden(),
            vec![Events::Channel.into_iden(), Events::Id.into_iden()],
        ),
        ("idx_instances_status", Instances::Table.into_iden(), vec![Instances::Status.into_iden()]),
        // Users granted: DISTINCT (tenant, user) over granted rows, read
        // in order from the index instead of sorted.
        (
            "idx_grants_granted_user",
            Grants::Table.into_iden(),
            vec![
                Grants::Granted.into_iden(),
                Grants::TenantId.into_iden(),
                Grants::UserName.into_iden(),
            ],
        ),
    ]
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    IdHash,
    Username,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AdminCredentials {
    Table,
    Name,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    ReceivedAt,
    ResultCode,
    Channel,
    ReplaySealed,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Name,
    TenantCode,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Granted,
    TenantId,
    UserName,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Status,
}
