//! Database migrations, applied by `koogate migrate` and at start.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_lifecycle_tables;
mod m20261122_000002_create_sync_tables;
mod m20261122_000003_create_sessions;
mod m20261123_000001_add_login_state_nonce;
mod m20261123_000003_create_revocations;
mod m20261123_000010_create_admin_tables;
mod m20261123_000020_create_outbox;
mod m20261126_000001_create_order_details;
mod m20261126_000100_create_usage_records;
mod m20261126_000110_create_drift;
mod m20261126_000200_create_v1_stamps;
mod m20261126_000210_add_event_refused;
mod m20261127_000100_create_tenant_sign_ins;
mod m20261127_000300_create_sign_ins;
mod m20261127_000310_add_session_public_id;
mod m20261127_000320_create_operators;
mod m20261127_300_001_drop_login_states;
mod m20261127_400_001_index_list_sorts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_lifecycle_tables::Migration),
            Box::new(m20261122_000002_create_sync_tables::Migration),
            Box::new(m20261122_000003_create_sessions::Migration),
            Box::new(m20261123_000001_add_login_state_nonce::Migration),
            Box::new(m20261123_000003_create_revocations::Migration),
            Box::new(m20261123_000010_create_admin_tables::Migration),
            Box::new(m20261123_000020_create_outbox::Migration),
            Box::new(m20261126_000001_create_order_details::Migration),
            Box::new(m20261126_000100_create_usage_records::Migration),
            Box::new(m20261126_000110_create_drift::Migration),
            Box::new(m20261126_000200_create_v1_stamps::Migration),
            Box::new(m20261126_000210_add_event_refused::Migration),
            Box::new(m20261127_000100_create_tenant_sign_ins::Migration),
            Box::new(m20261127_000300_create_sign_ins::Migration),
            Box::new(m20261127_000310_add_session_public_id::Migration),
            Box::new(m20261127_000320_create_operators::Migration),
            Box::new(m20261127_300_001_drop_login_states::Migration),
            Box::new(m20261127_400_001_index_list_sorts::Migration),
        ]
    }
}
