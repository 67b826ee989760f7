//! The app under test: spawning it in-process on SQLite or PostgreSQL,
//! its settings, and looking at what it stored.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use koogate::settings::{Settings, Sources};
use koogate::startup::Application;
use sea_orm::{Database, DatabaseConnection, EntityTrait, PaginatorTrait};

use super::databases::{fresh_postgres_database, postgres_url, redis_url};

/// The access key of the shared test vectors.
pub const ACCESS_KEY: &str = "9fa6c870-8bb0-4e9b-b71e-4c223300156f";
/// The Kit key of the shared test vectors: a key of its own, as the
/// seller console issues one per application credential.
pub const KIT_KEY: &str = "3c1f7f2e-5d7a-4a39-9b7e-0f2d41a9c8e1";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Settings of an app that takes Kit sync calls: its own Kit key and the
/// ISV private key that opens `clientSecret`s.
pub const KIT_SETTINGS: &[(&str, &str)] = &[
    ("marketplace.kit_access_key", KIT_KEY),
    (
        "marketplace.rsa_private_key_file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
    ),
];

/// [`KIT_SETTINGS`] with `sso.cookie_secure` on, as behind TLS.
pub const SECURE_COOKIE_KIT_SETTINGS: &[(&str, &str)] = &[
    ("marketplace.kit_access_key", KIT_KEY),
    (
        "marketplace.rsa_private_key_file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
    ),
    ("sso.cookie_secure", "true"),
];

/// [`KIT_SETTINGS`] with the marketplace's unified login page.
pub const UNIFIED_KIT_SETTINGS: &[(&str, &str)] = &[
    ("marketplace.kit_access_key", KIT_KEY),
    (
        "marketplace.rsa_private_key_file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
    ),
    ("sso.mode", "unified"),
];

/// `server.public_url` as tests leave it (the default): the base of the
/// `redirect_uri` koogate announces. Tests reach the app at `address`.
pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The ISV public key the seller uploaded: the marketplace encrypts
/// `clientSecret`s with it.
pub const ISV_PUBLIC_KEY_FILE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-public.pem");

/// The application credential the Kit scenarios bind.
pub const APP_ID: &str = "kit-test-app-0001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub backend: Backend,
    /// A connection of the test's own, for looking at what was stored.
    pub db: DatabaseConnection,
    pub database_name: Option<String>,
    pub marketplace_path: String,
    pub database_url: String,
    pub http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

pub async fn spawn_postgres_app(overrides: &[(&str, &str)]) -> Option<TestApp> {
    postgres_url()?;
    Some(spawn_app(Backend::Postgres, overrides).await)
}

/// An app on PostgreSQL that keeps nonces and sessions in Redis.
pub async fn spawn_redis_app(overrides: &[(&str, &str)]) -> Option<TestApp> {
    postgres_url()?;
    let redis = redis_url()?;
    let mut all: Vec<(&str, &str)> = overrides.to_vec();
    all.push(("redis.url", &redis));
    Some(spawn_app(Backend::Postgres, &all).await)
}

pub async fn spawn_app(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let (url, dir, database_name) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("koogate.db").display());
            (url, Some(dir), None)
        }
        Backend::Postgres => {
            let (url, name) = fresh_postgres_database().await;
            (url, None, Some(name))
        }
    };
    start_app(backend, url, dir, database_name, overrides).await
}

/// Three replicas started at the same moment on one fresh PostgreSQL
/// database (they migrate it together).
pub async fn spawn_three_replicas_together(overrides: &[(&str, &str)]) -> [TestApp; 3] {
    let (url, name) = fresh_postgres_database().await;
    let start =
        |database_name| start_app(Backend::Postgres, url.clone(), None, database_name, overrides);
    let (a, b, c) = tokio::join!(start(Some(name.clone())), start(None), start(None));
    [a, b, c]
}

impl TestApp {
    /// A client of a `koogate serve` process at `address`, with `db` a
    /// connection of the test's own to its database.
    pub fn of_process(
        address: &str,
        backend: Backend,
        db: DatabaseConnection,
        database_url: &str,
    ) -> TestApp {
        TestApp {
            address: address.to_string(),
            port: address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port"),
            backend,
            db,
            database_name: None,
            marketplace_path: "/koogallery".to_string(),
            database_url: database_url.to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .expect("client"),
            _dir: None,
        }
    }
}

impl TestApp {
    /// This app's database and client, reaching a replica the test
    /// started by itself at `address`.
    pub fn at(&self, address: &str) -> TestApp {
        let port = address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
        TestApp {
            address: address.to_string(),
            port,
            backend: self.backend,
            db: self.db.clone(),
            database_name: None,
            marketplace_path: self.marketplace_path.clone(),
            database_url: self.database_url.clone(),
            http: self.http.clone(),
            _dir: None,
        }
    }

    /// Another replica on this app's PostgreSQL database, with its own
    /// settings (for instance the same `redis.url`).
    pub async fn replica(&self, overrides: &[(&str, &str)]) -> TestApp {
        assert_eq!(self.backend, Backend::Postgres, "replicas share a PostgreSQL database");
        start_app(Backend::Postgres, self.database_url.clone(), None, None, overrides).await
    }
}

async fn start_app(
    backend: Backend,
    url: String,
    dir: Option<tempfile::TempDir>,
    database_name: Option<String>,
    overrides: &[(&str, &str)],
) -> TestApp {
    let (port, marketplace_path) = run_app(&url, overrides).await;
    let db = Database::connect(url.clone()).await.expect("test connection");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        backend,
        db,
        database_name,
        marketplace_path,
        database_url: url,
        http: reqwest::Client::builder().timeout(Duration::from_secs(15)).build().expect("client"),
        _dir: dir,
    }
}

/// Builds the app on `database_url` with the test settings and
/// `overrides`, and runs it on the current runtime (it stops with the
/// runtime); its port and marketplace path.
pub async fn run_app(database_url: &str, overrides: &[(&str, &str)]) -> (u16, String) {
    let master_key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let mut all: Vec<(String, String)> = vec![
        ("server.bind".into(), "127.0.0.1:0".into()),
        ("database.url".into(), database_url.to_string()),
        ("database.max_connections".into(), "8".into()),
        ("marketplace.access_key".into(), ACCESS_KEY.into()),
        ("admin.api_token".into(), ADMIN_TOKEN.into()),
        ("security.master_key".into(), master_key),
        // The stories read English texts; the language stories choose
        // their language explicitly.
        ("ui.default_language".into(), "en".into()),
        // The stand-in auth centres listen on 127.0.0.1.
        ("sso.allow_private_auth_centres".into(), "true".into()),
    ];
    all.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let sources = Sources { file: None, read_env: false, overrides: all };
    let (settings, _) = Settings::load(&sources).expect("test settings");
    let marketplace_path = settings.marketplace.path.clone();
    let app = Application::build(settings).await.expect("app builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    (port, marketplace_path)
}

/// [`spawn_app`] with owned settings; `None` when PostgreSQL is skipped.
pub async fn spawn_with(backend: Backend, settings: &[(String, String)]) -> Option<TestApp> {
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match backend {
        Backend::Sqlite => Some(spawn_app(Backend::Sqlite, &pairs).await),
        Backend::Postgres => spawn_postgres_app(&pairs).await,
    }
}

impl TestApp {
    /// Counts of every table koogate writes for orders, to prove a refused
    /// call changed nothing.
    pub async fn footprint(&self) -> HashMap<&'static str, u64> {
        let mut counts = HashMap::new();
        counts.insert(
            "instances",
            entity::instance::Entity::find().count(&self.db).await.expect("count"),
        );
        counts
            .insert("orders", entity::order::Entity::find().count(&self.db).await.expect("count"));
        counts.insert(
            "transitions",
            entity::transition::Entity::find().count(&self.db).await.expect("count"),
        );
        counts
    }

    /// Rows in every table of the database, by table: what an anonymous
    /// request must leave unchanged.
    pub async fn row_counts(&self) -> std::collections::BTreeMap<String, i64> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let list = match self.backend {
            Backend::Sqlite => {
                "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            Backend::Postgres => "SELECT tablename::text AS t FROM pg_tables WHERE schemaname = current_schema()",
        };
        let tables =
            self.db.query_all(Statement::from_string(backend, list)).await.expect("tables");
        let mut counts = std::collections::BTreeMap::new();
        for row in tables {
            let table: String = row.try_get("", "t").expect("name");
            let count = format!("SELECT COUNT(*) AS n FROM \"{table}\"");
            let row = self
                .db
                .query_one(Statement::from_string(backend, count))
                .await
                .expect("count")
                .expect("a row");
            counts.insert(table, row.try_get::<i64>("", "n").expect("n"));
        }
        counts
    }

    /// The full state of the instances table, to compare before and after.
    pub async fn instances_snapshot(&self) -> Vec<entity::instance::Model> {
        use sea_orm::QueryOrder;
        entity::instance::Entity::find()
            .order_by_asc(entity::instance::Column::InstanceId)
            .all(&self.db)
            .await
            .expect("instances")
    }

    /// The newest event in the log.
    pub async fn last_event(&self) -> entity::event::Model {
        use sea_orm::QueryOrder;
        entity::event::Entity::find()
            .order_by_desc(entity::event::Column::Id)
            .one(&self.db)
            .await
            .expect("events")
            .expect("at least one event")
    }

    pub async fn events(&self) -> Vec<entity::event::Model> {
        entity::event::Entity::find().all(&self.db).await.expect("events")
    }
}

/// (from, to, cause) of an instance, oldest first; each with its event.
pub async fn transitions(app: &TestApp, id: &str) -> Vec<(String, String, String)> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let rows = entity::transition::Entity::find()
        .filter(entity::transition::Column::InstanceId.eq(id))
        .order_by_asc(entity::transition::Column::Id)
        .all(&app.db)
        .await
        .expect("transitions");
    assert!(rows.iter().all(|t| t.event_id.is_some()), "every transition names its event");
    rows.into_iter().map(|t| (t.from_status, t.to_status, t.cause)).collect()
}
