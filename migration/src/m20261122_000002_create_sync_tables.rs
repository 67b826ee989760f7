//! The tenants' organisations as the joint-operation (Kit) syncs deliver
//! them: tenants and the instances that bind them, app credentials, users
//! and their grants, departments. And a `detail` column on events for what
//! a call changed (the department diff of a full sync).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(ColumnDef::new(Tenants::TenantId).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Tenants::TenantCode).string_len(64).not_null())
                    .col(ColumnDef::new(Tenants::Name).string_len(255).not_null())
                    .col(ColumnDef::new(Tenants::DomainName).string_len(255).not_null())
                    .col(ColumnDef::new(Tenants::TestFlag).boolean().not_null())
                    .col(ColumnDef::new(Tenants::Deleted).boolean().not_null())
                    .col(ColumnDef::new(Tenants::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Tenants::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantInstances::Table)
                    .col(ColumnDef::new(TenantInstances::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(TenantInstances::InstanceId).string_len(64).not_null())
                    .col(
                        ColumnDef::new(TenantInstances::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(TenantInstances::TenantId)
                            .col(TenantInstances::InstanceId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tenant_instances_instance_id")
                    .table(TenantInstances::Table)
                    .col(TenantInstances::InstanceId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TenantApps::Table)
                    .col(ColumnDef::new(TenantApps::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(TenantApps::AppId).string_len(64).not_null())
                    .col(ColumnDef::new(TenantApps::InstanceId).string_len(64).not_null())
                    .col(ColumnDef::new(TenantApps::ClientId).string_len(64).not_null())
                    .col(ColumnDef::new(TenantApps::ClientSecretSealed).text().null())
                    .col(
                        ColumnDef::new(TenantApps::UpdatedAt).timestamp_with_time_zone().not_null(),
                    )
                    .primary_key(Index::create().col(TenantApps::TenantId).col(TenantApps::AppId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(Users::UserName).string_len(64).not_null())
                    .col(ColumnDef::new(Users::Name).string_len(64).not_null())
                    .col(ColumnDef::new(Users::OrgCode).string_len(64).null())
                    .col(ColumnDef::new(Users::Role).string_len(32).not_null())
                    .col(ColumnDef::new(Users::Enabled).boolean().not_null())
                    .col(ColumnDef::new(Users::Deleted).boolean().not_null())
                    .col(ColumnDef::new(Users::Position).string_len(64).null())
                    .col(ColumnDef::new(Users::EmployeeCode).string_len(64).null())
                    .col(ColumnDef::new(Users::EmployeeType).string_len(11).null())
                    .col(ColumnDef::new(Users::PersonalSealed).text().null())
                    .col(ColumnDef::new(Users::UpdatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(Users::TenantId).col(Users::UserName))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .col(ColumnDef::new(Grants::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(Grants::AppId).string_len(64).not_null())
                    .col(ColumnDef::new(Grants::UserName).string_len(64).not_null())
                    .col(ColumnDef::new(Grants::Granted).boolean().not_null())
                    .col(ColumnDef::new(Grants::SyncTime).string_len(17).not_null())
                    .col(ColumnDef::new(Grants::UpdatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create()
                            .col(Grants::TenantId)
                            .col(Grants::AppId)
                            .col(Grants::UserName),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Departments::Table)
                    .col(ColumnDef::new(Departments::TenantId).string_len(64).not_null())
                    .col(ColumnDef::new(Departments::OrgCode).string_len(64).not_null())
                    .col(ColumnDef::new(Departments::OrgName).string_len(128).not_null())
                    .col(ColumnDef::new(Departments::ParentCode).string_len(64).null())
                    .col(ColumnDef::new(Departments::Retired).boolean().not_null())
                    .col(ColumnDef::new(Departments::SyncMark).string_len(32).not_null())
                    .col(
                        ColumnDef::new(Departments::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create().col(Departments::TenantId).col(Departments::OrgCode),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Events::Table)
                    .add_column(ColumnDef::new(Events::Detail).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Events::Table).drop_column(Events::Detail).to_owned())
            .await?;
        for table in [
            Departments::Table.into_iden(),
            Grants::Table.into_iden(),
            Users::Table.into_iden(),
            TenantApps::Table.into_iden(),
            TenantInstances::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    TenantId,
    TenantCode,
    Name,
    DomainName,
    TestFlag,
    Deleted,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TenantInstances {
    Table,
    TenantId,
    InstanceId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantApps {
    Table,
    TenantId,
    AppId,
    InstanceId,
    ClientId,
    ClientSecretSealed,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    TenantId,
    UserName,
    Name,
    OrgCode,
    Role,
    Enabled,
    Deleted,
    Position,
    EmployeeCode,
    EmployeeType,
    PersonalSealed,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    TenantId,
    AppId,
    UserName,
    Granted,
    SyncTime,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Departments {
    Table,
    TenantId,
    OrgCode,
    OrgName,
    ParentCode,
    Retired,
    SyncMark,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Detail,
}
