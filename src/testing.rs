//! What a domain function needs, for the library's own tests: a fresh
//! migrated SQLite database, the default settings, a vault and an outbox.
//! No HTTP server, no application state.

use chrono::{DateTime, Utc};

use crate::outbox::Outbox;
use crate::settings::{Settings, Sources};
use crate::store::Db;
use crate::vault::Vault;

/// The access key of the shared test vectors.
pub const ACCESS_KEY: &str = "9fa6c870-8bb0-4e9b-b71e-4c223300156f";

pub struct Domain {
    pub db: Db,
    pub settings: Settings,
    pub vault: Vault,
    pub outbox: Outbox,
    _dir: tempfile::TempDir,
}

impl Domain {
    pub async fn new() -> Domain {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("koogate.db").display());
        let db = Db::connect(&url, 2).await.expect("connects");
        db.migrate().await.expect("migrates");
        let (settings, _) = Settings::load(&Sources::default()).expect("default settings");
        let vault = Vault::from_base64(&crate::vault::random_key()).expect("vault");
        let outbox = Outbox::from_settings(&settings).expect("outbox");
        Domain { db, settings, vault, outbox, _dir: dir }
    }

    pub fn lifecycle(&self, now: DateTime<Utc>) -> crate::lifecycle::Ctx<'_> {
        crate::lifecycle::Ctx {
            db: &self.db,
            outbox: &self.outbox,
            vault: &self.vault,
            provisioning: &self.settings.provisioning,
            access_key: Some(ACCESS_KEY),
            encrypt_type: &self.settings.marketplace.encrypt_type,
            fetch_orders: false,
            now,
        }
    }

    pub fn sync(&self, now: DateTime<Utc>) -> crate::sync::Ctx<'_> {
        crate::sync::Ctx {
            db: &self.db,
            outbox: &self.outbox,
            vault: &self.vault,
            rsa_key: None,
            now,
        }
    }

    /// Every event recorded, oldest first.
    pub async fn events(&self) -> Vec<entity::event::Model> {
        let mut events = crate::store::events::latest(&self.db.conn, 100).await.expect("events");
        events.sort_by_key(|e| e.id);
        events
    }
}
