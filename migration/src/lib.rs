//! Database migrations, applied by `koogate migrate` and at start.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_lifecycle_tables;
mod m20261122_000002_create_sync_tables;
mod m20261122_000003_create_sessions;
mod m20261123_000001_add_login_state_nonce;
mod m20261123_000003_create_revocations;
mod m20261123_000010_create_admin_tables;
mod m20261123_000020_create_outbox;
mod m20261126_000001_create_v1_stamps;
mod m20261126_000002_add_event_refused;

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
            Box::new(m20261126_000001_create_v1_stamps::Migration),
            Box::new(m20261126_000002_add_event_refused::Migration),
        ]
    }
}
