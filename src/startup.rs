//! Wiring: connect, migrate, build the state, list the routes, serve.
//! `Application::build` then `run_until_stopped`, so tests start the real
//! app on port 0.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use secrecy::ExposeSecret;

use crate::error::Error;
use crate::kv::Kv;
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::Db;
use crate::telemetry;
use crate::vault::Vault;

pub struct Application {
    port: u16,
    server: Server,
    stop: tokio::sync::watch::Sender<bool>,
    refused: crate::inbound::RefusedLog,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, Error> {
        let db =
            Db::connect(settings.database.url.expose_secret(), settings.database.max_connections)
                .await?;
        if settings.database.migrate_on_start {
            db.migrate().await?;
        }
        crate::admin::auth::ensure_password(&db, &settings).await?;
        let vault = open_vault(&settings)?;
        let kv = Kv::new(db.clone(), settings.redis.url.expose_secret())?;
        let access_keys = settings.access_keys();
        if access_keys.is_empty() {
            tracing::warn!(
                "marketplace.access_key is empty: every marketplace call will answer 000001"
            );
        }
        let rsa_key = load_rsa_key(&settings.marketplace.rsa_private_key_file)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        let auth_centres =
            crate::outbound::AuthCentreHttp::new(settings.sso.allow_private_auth_centres)
                .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        let upstream_connector = crate::gate::upstream::connector()
            .map_err(|e| Error::Internal(format!("cannot build the upstream client: {e}")))?;
        let outbox = std::sync::Arc::new(crate::outbox::Outbox::from_settings(&settings)?);
        let open_api = crate::open_api::client::OpenApi::from_settings(
            &settings.open_api,
            access_keys.first().map(String::as_str),
        )
        .map_err(|e| Error::Internal(format!("cannot build the Open API client: {e}")))?
        .map(std::sync::Arc::new);
        let identity = crate::gate::identity::Keys::load_or_create(&db, &vault).await?;
        crate::prometheus::install();
        crate::prometheus::spawn_upkeep();
        crate::telemetry::spawn_drop_report();
        let revocations = crate::access::revoke::Revocations::new(settings.sso.session_ttl_secs);
        revocations.refresh(&db.conn).await?;
        let state = web::Data::new(AppState {
            rsa_key,
            http,
            auth_centres,
            upstream_connector,
            // One large body per core at a time, and never fewer than two.
            large_bodies: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            ),
            identity,
            revocations,
            oidc: Default::default(),
            pages: {
                let mut env = crate::sso::pages::environment();
                crate::admin::render::register(&mut env);
                crate::ui::Pages::new(env, &settings.ui)
            },
            outbox,
            open_api,
            refused: crate::inbound::RefusedLog::start(db.clone()),
            sign_ins: crate::sso::sign_ins::SignInLog::new(db.clone()),
            kit_access_keys: settings.kit_access_keys(),
            access_keys,
            kv,
            db,
            vault,
            settings,
        });
        let listener = TcpListener::bind(&state.settings.server.bind).map_err(|e| {
            Error::Config(format!("cannot listen on {}: {e}", state.settings.server.bind))
        })?;
        let port = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?.port();
        spawn_housekeeping(state.clone());
        spawn_revocation_reader(state.clone());
        crate::outbox::relay::spawn(state.db.clone(), state.outbox.clone(), state.http.clone());
        if let Some(api) = state.open_api.clone() {
            let settings = &state.settings.open_api;
            let db = &state.db;
            crate::open_api::fetch::spawn(
                db.clone(),
                api.clone(),
                state.vault.clone(),
                state.outbox.clone(),
                settings.clone(),
            );
            crate::open_api::usage::push::spawn(db.clone(), api.clone(), settings.clone());
            crate::open_api::reconcile::spawn(db.clone(), api, state.outbox.clone(), settings);
        }
        let own_state = state.clone();
        let local_addr = listener.local_addr().map_err(|e| Error::Internal(e.to_string()))?;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let own =
            move |shared: &crate::front::WorkerShared| own_servers(&own_state, shared, local_addr);
        let server = crate::front::server(listener, state.clone(), own, stopping)
            .map_err(|e| Error::Internal(e.to_string()))?;
        tracing::info!(port, "koogate listening");
        let refused = state.refused.clone();
        Ok(Application { port, server, stop, refused })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped (SIGINT or SIGTERM: connections finish the
    /// answer in flight, idle ones close, for at most 10 s); then writes
    /// the refused-call records still queued (the server has answered its
    /// last requests by then).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let stop = self.stop;
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping");
            let _ = stop.send(true);
            handle.stop(true).await;
        });
        let served = self.server.await;
        self.refused.flush().await;
        served
    }
}

/// A worker's own servers: every route of koogate and its middleware,
/// with what the worker's front shares with them; one answers what the
/// front hands it, the other the connections the front gives it whole
/// (see `front`).
fn own_servers(
    state: &web::Data<AppState>,
    shared: &crate::front::WorkerShared,
    local_addr: std::net::SocketAddr,
) -> crate::front::OwnServers {
    crate::front::OwnServers {
        // The front's connection to it lives as long as the client's.
        linked: own_server(state, shared, local_addr, Duration::from_secs(3600)),
        direct: own_server(state, shared, local_addr, crate::front::HEAD_WITHIN),
    }
}

fn own_server<T>(
    state: &web::Data<AppState>,
    shared: &crate::front::WorkerShared,
    local_addr: std::net::SocketAddr,
    keep_alive: Duration,
) -> crate::front::Own<T>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    use actix_service::ServiceFactoryExt;
    let path = state.settings.marketplace.path.clone();
    let app = App::new()
        .app_data(state.clone())
        .app_data(shared.client.clone())
        .app_data(shared.callers.clone())
        .wrap(from_fn(crate::unread_body::bounded))
        .wrap(from_fn(crate::security_headers::protect))
        .wrap(from_fn(telemetry::request_span))
        .configure(|cfg| crate::routes::routes(cfg, &path));
    let stop = shared.stop.clone();
    let http = actix_http::HttpService::build()
        .keep_alive(keep_alive)
        // No lingering after an answer to a request whose body was not
        // read: `unread_body` has already received what is worth
        // receiving (see there); actix's default would read for up to a
        // second more.
        .client_disconnect_timeout(Duration::ZERO)
        .local_addr(local_addr)
        // On stop, idle connections close and answers in flight finish.
        .graceful_shutdown_signal(move || {
            let stop = stop.clone();
            async move { stop.requested().await }
        })
        .h1(actix_service::map_config(app, |_| actix_web::dev::AppConfig::default()));
    actix_service::boxed::factory(http.map_err(|_| ()))
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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

/// The applicationSync private key, when one is configured. A configured
/// key that cannot be read stops the start: every app sync would fail.
fn load_rsa_key(path: &str) -> Result<Option<rsa::RsaPrivateKey>, Error> {
    if path.is_empty() {
        tracing::warn!(
            "marketplace.rsa_private_key_file is empty: applicationSync will answer 000101"
        );
        return Ok(None);
    }
    let pem = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(format!("cannot read marketplace.rsa_private_key_file {path}: {e}"))
    })?;
    crate::marketplace::client_secret::load_private_key_pem(&pem)
        .map(Some)
        .map_err(|_| Error::Config(format!("{path} is not an RSA private key in PEM")))
}

/// The file of a `sqlite://path?…` URL; `None` for in-memory databases.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

async fn purge_sessions(state: &AppState) -> Result<u64, Error> {
    let tx = state.db.begin_write().await?;
    let purged =
        crate::store::sessions::purge_expired(&tx.txn, chrono::Utc::now().timestamp_millis())
            .await?
            + state.revocations.purge(&tx.txn).await?;
    let admin_purged = crate::store::admin_sessions::purge_expired(
        &tx.txn,
        chrono::Utc::now().timestamp_millis(),
        crate::admin::auth::idle_ms(state),
    )
    .await?;
    tx.commit().await?;
    Ok(purged + admin_purged)
}

/// Reads new revocations several times a second, so a session ends on
/// this replica soon after any replica takes its access away. Says so once
/// when reading starts failing and once when it recovers.
fn spawn_revocation_reader(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::access::revoke::REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match state.revocations.refresh(&state.db.conn).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("revocations are read again");
                }
                Ok(()) => {}
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(error = ?err, "cannot read revocations; sessions will be refused until the database answers");
                }
                Err(_) => {}
            }
        }
    });
}

/// Background chores once a minute: forget expired nonces, login states,
/// sessions, admin sessions, old delivered or dead outbox events and old
/// replay inputs, apply the event log's retention in bounded batches;
/// count the open sessions for `/metrics`.
fn spawn_housekeeping(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(err) = state.kv.purge().await {
                tracing::warn!(error = ?err, "nonce purge failed");
            }
            if let Err(err) = purge_sessions(&state).await {
                tracing::warn!(error = ?err, "session purge failed");
            }
            if let Err(err) = crate::outbox::relay::purge(&state.db).await {
                tracing::warn!(error = ?err, "outbox purge failed");
            }
            if let Err(err) = crate::inbound::replay::forget_old_replay_inputs(&state.db).await {
                tracing::warn!(error = ?err, "forgetting old replay inputs failed");
            }
            let events = &state.settings.events;
            let purged = crate::inbound::replay::purge_old_events(
                &state.db,
                events.retention_days,
                events.refused_retention_days,
            )
            .await;
            if let Err(err) = purged {
                tracing::warn!(error = ?err, "event log retention failed");
            }
            if let Err(err) = crate::sso::sign_ins::purge_old(&state.db).await {
                tracing::warn!(error = ?err, "sign-in record retention failed");
            }
            match state.kv.count_sessions().await {
                Ok(count) => crate::prometheus::active_sessions(count),
                Err(err) => tracing::warn!(error = ?err, "cannot count sessions"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite://koogate.db?mode=rwc"), Some(PathBuf::from("koogate.db")));
        assert_eq!(
            sqlite_path("sqlite:///var/lib/kg/k.db"),
            Some(PathBuf::from("/var/lib/kg/k.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
