//! Spawning the app and playing the marketplace against it.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use koogate::marketplace::signature;
use koogate::settings::{Settings, Sources};
use koogate::startup::Application;
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::Value;

/// The access key of the shared test vectors.
pub const ACCESS_KEY: &str = "9fa6c870-8bb0-4e9b-b71e-4c223300156f";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

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

/// Runs a scenario on SQLite and on PostgreSQL (when its URL is set).
#[macro_export]
macro_rules! on_both_backends {
    ($scenario:ident) => {
        on_both_backends!($scenario, &[]);
    };
    ($scenario:ident, $overrides:expr) => {
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let app =
                    $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite, $overrides).await;
                super::$scenario(app).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn_postgres_app($overrides).await {
                    super::$scenario(app).await;
                }
            }
        }
    };
}

/// Says, past the test harness's output capture, that tests are skipped;
/// in CI a missing service is a failure instead.
fn skip_loudly(variable: &str, service: &str) {
    use std::io::Write;
    assert!(std::env::var("CI").is_err(), "{variable} must be set in CI");
    let _ = writeln!(std::io::stderr(), "SKIPPED: a {service} test (set {variable} to run it)");
}

/// The PostgreSQL server for tests, or a loud skip (never in CI).
pub fn postgres_url() -> Option<String> {
    match std::env::var("KOOGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_loudly("KOOGATE_TEST_POSTGRES_URL", "PostgreSQL");
            None
        }
    }
}

/// The Redis server for tests, or a loud skip (never in CI).
pub fn redis_url() -> Option<String> {
    match std::env::var("KOOGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_loudly("KOOGATE_TEST_REDIS_URL", "Redis");
            None
        }
    }
}

pub async fn spawn_postgres_app(overrides: &[(&str, &str)]) -> Option<TestApp> {
    postgres_url()?;
    Some(spawn_app(Backend::Postgres, overrides).await)
}

/// A fresh, empty PostgreSQL database; returns its URL and name.
pub async fn fresh_postgres_database() -> (String, String) {
    let server = postgres_url().expect("postgres url");
    let name = format!(
        "kg_test_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 12).to_lowercase()
    );
    let admin = Database::connect(server.clone()).await.expect("connect to postgres");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    admin.close().await.ok();
    (replace_database(&server, &name), name)
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rsplit_once('/') {
        Some((prefix, _)) if prefix.contains("://") && prefix.len() > "postgres://".len() => {
            prefix.to_string()
        }
        _ => base.to_string(),
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
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
    let master_key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let mut all: Vec<(String, String)> = vec![
        ("server.bind".into(), "127.0.0.1:0".into()),
        ("database.url".into(), url.clone()),
        ("database.max_connections".into(), "8".into()),
        ("marketplace.access_key".into(), ACCESS_KEY.into()),
        ("admin.api_token".into(), ADMIN_TOKEN.into()),
        ("security.master_key".into(), master_key),
    ];
    all.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let sources = Sources { file: None, read_env: false, overrides: all };
    let (settings, _) = Settings::load(&sources).expect("test settings");
    let marketplace_path = settings.marketplace.path.clone();
    let app = Application::build(settings).await.expect("app builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
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

/// One answer from koogate's marketplace endpoint.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub raw: Vec<u8>,
    pub json: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.json["resultCode"].as_str().unwrap_or("<none>")
    }

    /// Asserts the `Body-Sign` header signs exactly these bytes.
    pub fn assert_signed_with(&self, key: &str) {
        let header =
            self.headers.get("body-sign").and_then(|v| v.to_str().ok()).expect("Body-Sign header");
        assert_eq!(header, signature::body_sign_header(key, &self.raw));
    }
}

/// How to sign a V2 call; the defaults make a correct one.
#[derive(Debug, Clone)]
pub struct V2Options {
    pub key: String,
    pub timestamp_ms: i64,
    pub nonce: String,
    /// Sign these bytes instead of the body sent.
    pub signed_bytes: Option<Vec<u8>>,
    /// The 2025 formula (no inner HMAC).
    pub kit_formula: bool,
}

impl Default for V2Options {
    fn default() -> Self {
        V2Options {
            key: ACCESS_KEY.to_string(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            nonce: random_nonce(),
            signed_bytes: None,
            kit_formula: false,
        }
    }
}

pub fn random_nonce() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 16))
}

impl TestApp {
    /// A correctly signed V2 lifecycle call.
    pub async fn v2(&self, body: &str) -> Reply {
        self.v2_with(body.as_bytes().to_vec(), V2Options::default()).await
    }

    pub async fn v2_with(&self, body: Vec<u8>, options: V2Options) -> Reply {
        let ts = options.timestamp_ms.to_string();
        let signed = options.signed_bytes.clone().unwrap_or_else(|| body.clone());
        let sig = if options.kit_formula {
            signature::kit_signature(&options.key, &options.nonce, &ts, &signed)
        } else {
            signature::lifecycle_v2_signature(&options.key, &options.nonce, &ts, &signed)
        };
        let url = format!(
            "{}{}?signature={sig}&timestamp={ts}&nonce={}",
            self.address, self.marketplace_path, options.nonce
        );
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/json;charset=utf8")
            .body(body)
            .send()
            .await
            .expect("request sent");
        reply(response).await
    }

    /// A correctly signed V1 lifecycle call (GET, authToken).
    pub async fn v1(&self, params: &[(&str, &str)]) -> Reply {
        let mut params: Vec<(String, String)> =
            params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if !params.iter().any(|(k, _)| k == "timeStamp") {
            params.push((
                "timeStamp".into(),
                koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 0),
            ));
        }
        let token = signature::v1_auth_token(ACCESS_KEY, &params);
        params.push(("authToken".into(), token));
        self.v1_raw(&params).await
    }

    /// A V1 call with exactly these parameters.
    pub async fn v1_raw(&self, params: &[(String, String)]) -> Reply {
        let query: String =
            form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let url = format!("{}{}?{query}", self.address, self.marketplace_path);
        let response = self.http.get(url).send().await.expect("request sent");
        reply(response).await
    }

    /// A signed V2 newInstance for a fresh order; returns (orderId, reply).
    pub async fn buy(&self) -> (String, Reply) {
        let order_id = random_id("CS");
        let reply = self.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
        assert_eq!(reply.code(), "000000", "purchase failed: {:?}", reply.json);
        (order_id, reply)
    }

    /// `GET` an admin API path with the admin token.
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn instance(&self, instance_id: &str) -> Value {
        let (status, body) = self.admin_get(&format!("/admin/api/instances/{instance_id}")).await;
        assert_eq!(status, 200, "instance {instance_id}: {body}");
        body
    }

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

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let raw = response.bytes().await.expect("body").to_vec();
    let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Reply { status, headers, raw, json }
}

/// The current V2 newInstance body.
pub fn new_instance_body(order_id: &str, business_id: &str) -> String {
    serde_json::json!({
        "activity": "newInstance",
        "orderId": order_id,
        "orderLineId": format!("{order_id}-000001"),
        "businessId": business_id,
        "testFlag": "0",
    })
    .to_string()
}
