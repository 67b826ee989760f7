//! Wiring: connect, migrate, build the state, list the routes, serve.
//! `Application::build` then `run_until_stopped`, so tests start the real
//! app on port 0.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use secrecy::ExposeSecret;

use crate::error::Error;
use crate::kv::Kv;
use crate::settings::Settings;
use crate::store::Db;
use crate::vault::Vault;
use crate::{admin, health, lifecycle, telemetry};

/// What every handler can reach.
pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub kv: Kv,
    pub vault: Vault,
    /// Lifecycle keys, the first signs answers (spec §3).
    pub access_keys: Vec<String>,
    /// Kit keys, the first signs Kit answers.
    pub kit_access_keys: Vec<String>,
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, Error> {
        let db = Db::connect(
            settings.database.url.expose_secret(),
            settings.database.max_connections,
        )
        .await?;
        if settings.database.migrate_on_start {
            db.migrate().await?;
        }
        let vault = open_vault(&settings)?;
        let kv = Kv::new(db.clone(), settings.redis.url.expose_secret())?;
        let access_keys = settings.access_keys();
        if access_keys.is_empty() {
            tracing::warn!(
                "marketplace.access_key is empty: every marketplace call will answer 000001"
            );
        }
        let state = web::Data::new(AppState {
            kit_access_keys: settings.kit_access_keys(),
            access_keys,
            kv,
            db,
            vault,
            settings,
        });
        let listener = TcpListener::bind(&state.settings.server.bind).map_err(|e| {
            Error::Config(format!(
                "cannot listen on {}: {e}",
                state.settings.server.bind
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Internal(e.to_string()))?
            .port();
        spawn_housekeeping(state.clone());
        let server_state = state.clone();
        let server = HttpServer::new(move || {
            let path = server_state.settings.marketplace.path.clone();
            App::new()
                .app_data(server_state.clone())
                .wrap(from_fn(telemetry::log_request))
                .configure(|cfg| routes(cfg, &path))
        })
        .listen(listener)
        .map_err(|e| Error::Internal(e.to_string()))?
        .shutdown_timeout(10)
        .run();
        tracing::info!(port, "koogate listening");
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Every route, in one table.
fn routes(cfg: &mut web::ServiceConfig, marketplace_path: &str) {
    cfg.route(
        marketplace_path,
        web::post().to(lifecycle::handlers::lifecycle_v2),
    )
    .route(
        marketplace_path,
        web::get().to(lifecycle::handlers::lifecycle_v1),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route(
        "/admin/api/instances",
        web::get().to(admin::api::list_instances),
    )
    .route(
        "/admin/api/instances/{instance_id}",
        web::get().to(admin::api::instance),
    )
    .route("/admin/api/events", web::get().to(admin::api::events));
}

/// The master key: configured, or (SQLite only) kept in a file beside the
/// database, or for an in-memory database a fresh one.
fn open_vault(settings: &Settings) -> Result<Vault, Error> {
    let configured = settings.security.master_key.expose_secret();
    if !configured.is_empty() {
        return Vault::from_base64(configured);
    }
    let url = settings.database.url.expose_secret();
    let Some(path) = sqlite_path(url) else {
        if url.starts_with("sqlite:") {
            return Vault::from_base64(&crate::vault::random_key());
        }
        return Err(Error::Config(
            "security.master_key is required with PostgreSQL (32 bytes, base64)".to_string(),
        ));
    };
    let key_path = path
        .parent()
        .map(|dir| dir.join("koogate.master.key"))
        .unwrap_or_else(|| PathBuf::from("koogate.master.key"));
    let (vault, created) = Vault::from_file_or_create(&key_path)?;
    if created {
        tracing::warn!(path = %key_path.display(), "generated a master key for secrets at rest; back it up, or set security.master_key");
    }
    Ok(vault)
}

/// The file of a `sqlite://path?…` URL; `None` for in-memory databases.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Background chores: forget expired nonces once a minute.
fn spawn_housekeeping(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(err) = state.kv.purge().await {
                tracing::warn!(error = ?err, "nonce purge failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://koogate.db?mode=rwc"),
            Some(PathBuf::from("koogate.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/kg/k.db"),
            Some(PathBuf::from("/var/lib/kg/k.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
