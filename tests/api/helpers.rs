//! Spawning the app and playing the marketplace against it.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use koogate::marketplace::signature;
use koogate::settings::{Settings, Sources};
use koogate::startup::Application;
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

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

/// Runs a scenario wherever sessions can live: SQLite, PostgreSQL, and
/// PostgreSQL with Redis (`redis.url` set: sessions in Redis).
#[macro_export]
macro_rules! on_every_session_store {
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

            #[tokio::test]
            async fn postgres_redis() {
                if let Some(app) = $crate::helpers::spawn_redis_app($overrides).await {
                    super::$scenario(app).await;
                }
            }
        }
    };
}

/// Runs a Kit scenario wherever sessions can live, with [`KIT_SETTINGS`].
#[macro_export]
macro_rules! kit_on_every_session_store {
    ($scenario:ident) => {
        $crate::on_every_session_store!($scenario, $crate::helpers::KIT_SETTINGS);
    };
}

/// Runs a Kit scenario on both backends, with [`KIT_SETTINGS`].
#[macro_export]
macro_rules! kit_on_both_backends {
    ($scenario:ident) => {
        $crate::on_both_backends!($scenario, $crate::helpers::KIT_SETTINGS);
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

/// An app on PostgreSQL that keeps nonces and sessions in Redis.
pub async fn spawn_redis_app(overrides: &[(&str, &str)]) -> Option<TestApp> {
    postgres_url()?;
    let redis = redis_url()?;
    let mut all: Vec<(&str, &str)> = overrides.to_vec();
    all.push(("redis.url", &redis));
    Some(spawn_app(Backend::Postgres, &all).await)
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

    /// Asserts a Kit call succeeded and its answer is signed with the Kit key.
    pub fn assert_kit_ok(&self) {
        assert_eq!(self.status, 200);
        assert_eq!(self.code(), "000000", "Kit call failed: {:?}", self.json);
        self.assert_signed_with(KIT_KEY);
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

/// How to sign a Kit V2 call; the defaults make a correct one.
#[derive(Debug, Clone)]
pub struct KitOptions {
    pub key: String,
    pub timestamp_ms: i64,
    pub nonce: String,
    /// Sign these bytes instead of the body sent.
    pub signed_bytes: Option<Vec<u8>>,
    /// Leave these headers out (`x-sign`, `x-timestamp`, `x-nonce`).
    pub omit: Vec<&'static str>,
}

impl Default for KitOptions {
    fn default() -> Self {
        KitOptions {
            key: KIT_KEY.to_string(),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            nonce: random_nonce(),
            signed_bytes: None,
            omit: Vec::new(),
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

    /// A correctly signed Kit V2 call: `POST {path}/produceAPI/v2/{call}`.
    pub async fn kit_v2(&self, call: &str, body: &Value) -> Reply {
        self.kit_v2_with(call, body.to_string().into_bytes(), KitOptions::default()).await
    }

    pub async fn kit_v2_with(&self, call: &str, body: Vec<u8>, options: KitOptions) -> Reply {
        let timestamp = options.timestamp_ms.to_string();
        let signed = options.signed_bytes.clone().unwrap_or_else(|| body.clone());
        let sign = signature::kit_signature(&options.key, &options.nonce, &timestamp, &signed);
        let mut request = self
            .http
            .post(format!("{}{}/produceAPI/v2/{call}", self.address, self.marketplace_path))
            .header("Content-Type", "application/json");
        for (name, value) in
            [("x-sign", sign), ("x-timestamp", timestamp), ("x-nonce", options.nonce)]
        {
            if !options.omit.contains(&name) {
                request = request.header(name, value);
            }
        }
        reply(request.body(body).send().await.expect("request sent")).await
    }

    /// A correctly signed Kit V1 call (`authToken` header over the body's
    /// fields); a Beijing-time `timeStamp` is added when the body has none.
    pub async fn kit_v1(&self, call: &str, body: &Value) -> Reply {
        let mut body = body.clone();
        if body.get("timeStamp").is_none() {
            body["timeStamp"] = json!(beijing_now());
        }
        let bytes = body.to_string().into_bytes();
        let params = signature::kit_v1_params(&bytes).expect("a JSON object");
        let token = signature::v1_auth_token(KIT_KEY, &params);
        self.kit_v1_raw(call, bytes, Some(&token)).await
    }

    /// A Kit V1 call with exactly this body and `authToken`.
    pub async fn kit_v1_raw(&self, call: &str, body: Vec<u8>, auth_token: Option<&str>) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{}/produceAPI/{call}", self.address, self.marketplace_path))
            .header("Content-Type", "application/json");
        if let Some(token) = auth_token {
            request = request.header("authToken", token);
        }
        reply(request.body(body).send().await.expect("request sent")).await
    }

    /// Buys an instance and binds a fresh enterprise to it (tenantSync add).
    pub async fn bound_enterprise(&self) -> Enterprise {
        let (order_id, bought) = self.buy().await;
        let enterprise = Enterprise {
            tenant_id: random_id("tenant-"),
            instance_id: bought.json["instanceId"].as_str().expect("instanceId").to_string(),
            order_id,
        };
        self.kit_v2("tenantSync", &enterprise.tenant_sync(1)).await.assert_kit_ok();
        enterprise
    }

    /// A bound enterprise that has also received its application
    /// credential ([`APP_ID`]), as the marketplace sends both on binding.
    pub async fn bound_enterprise_with_app(&self) -> Enterprise {
        let enterprise = self.bound_enterprise().await;
        let app = enterprise.application_sync(
            APP_ID,
            &random_id("client-"),
            &encrypt_client_secret(&random_id("secret-"), OaepDigest::Sha256WithMgf1Sha1),
            1,
        );
        self.kit_v2("applicationSync", &app).await.assert_kit_ok();
        enterprise
    }

    /// Buys an instance and binds a fresh enterprise whose auth centre is
    /// at `domain_name` (tenantSync add).
    pub async fn enterprise_at(&self, domain_name: &str) -> Enterprise {
        let (order_id, bought) = self.buy().await;
        let enterprise = Enterprise {
            tenant_id: random_id("tenant-"),
            instance_id: bought.json["instanceId"].as_str().expect("instanceId").to_string(),
            order_id,
        };
        let mut bind = enterprise.tenant_sync(1);
        bind["domainName"] = json!(domain_name);
        self.kit_v2("tenantSync", &bind).await.assert_kit_ok();
        enterprise
    }

    /// Gives the enterprise its OAuth client for [`APP_ID`] (applicationSync add).
    pub async fn give_app_credential(
        &self,
        enterprise: &Enterprise,
        client_id: &str,
        client_secret: &str,
    ) {
        let sealed = encrypt_client_secret(client_secret, OaepDigest::Sha256WithMgf1Sha1);
        let credential = enterprise.application_sync(APP_ID, client_id, &sealed, 1);
        self.kit_v2("applicationSync", &credential).await.assert_kit_ok();
    }

    /// A V2 updateInstanceStatus (`FREEZE` or `UNFREEZE`) that must succeed.
    pub async fn set_instance_status(&self, instance_id: &str, status: &str) {
        let body = json!({"activity": "updateInstanceStatus", "instanceId": instance_id, "status": status});
        let reply = self.v2(&body.to_string()).await;
        assert_eq!(reply.code(), "000000", "{status} failed: {:?}", reply.json);
    }

    /// A V2 releaseInstance that must succeed.
    pub async fn release_instance(&self, instance_id: &str) {
        let body = json!({"activity": "releaseInstance", "instanceId": instance_id});
        let reply = self.v2(&body.to_string()).await;
        assert_eq!(reply.code(), "000000", "release failed: {:?}", reply.json);
    }

    /// The tenant as the admin API shows it (lists sorted); asserts it exists.
    pub async fn tenant(&self, tenant_id: &str) -> Value {
        let (status, body) = self.admin_get(&format!("/admin/api/tenants/{tenant_id}")).await;
        assert_eq!(status, 200, "tenant {tenant_id}: {body}");
        sorted_tenant(body)
    }

    /// The tenant's live departments, sorted by orgCode.
    pub async fn departments(&self, tenant_id: &str) -> Vec<Department> {
        let (status, body) =
            self.admin_get(&format!("/admin/api/tenants/{tenant_id}/departments")).await;
        assert_eq!(status, 200, "departments of {tenant_id}: {body}");
        let mut list: Vec<Department> = body
            .as_array()
            .expect("a list of departments")
            .iter()
            .map(|d| Department {
                code: d["orgCode"].as_str().expect("orgCode").to_string(),
                name: d["orgName"].as_str().expect("orgName").to_string(),
                // Top level is null or "" (either is allowed).
                parent: d["parentCode"].as_str().filter(|p| !p.is_empty()).map(str::to_string),
            })
            .collect();
        list.sort();
        list
    }

    /// The tenant's users, sorted by userName.
    pub async fn users(&self, tenant_id: &str) -> Vec<Value> {
        let (status, body) = self.admin_get(&format!("/admin/api/tenants/{tenant_id}/users")).await;
        assert_eq!(status, 200, "users of {tenant_id}: {body}");
        let list = sorted_by(body, "userName");
        list.as_array().expect("a list of users").clone()
    }

    /// One user of the tenant, if listed.
    pub async fn user(&self, tenant_id: &str, user_name: &str) -> Option<Value> {
        self.users(tenant_id).await.into_iter().find(|u| u["userName"] == user_name)
    }

    /// Everything the admin API says about a tenant (status and body of
    /// each endpoint, lists sorted), to prove a refused call changed nothing.
    pub async fn sync_footprint(&self, tenant_id: &str) -> Value {
        let mut all = serde_json::Map::new();
        for (name, suffix) in [("tenant", ""), ("departments", "/departments"), ("users", "/users")]
        {
            let (status, body) =
                self.admin_get(&format!("/admin/api/tenants/{tenant_id}{suffix}")).await;
            let body = match name {
                "tenant" => sorted_tenant(body),
                "departments" => sorted_by(body, "orgCode"),
                _ => sorted_by(body, "userName"),
            };
            all.insert(name.to_string(), json!({"status": status, "body": body}));
        }
        Value::Object(all)
    }

    /// Asserts none of `needles` shows in the tenant's admin answers, the
    /// admin event list, or any stored event (request and response).
    pub async fn assert_never_shown(&self, tenant_id: &str, needles: &[&str]) {
        let (_, events) = self.admin_get("/admin/api/events?limit=1000").await;
        let answers = format!("{}\n{events}", self.sync_footprint(tenant_id).await);
        let stored: String = self
            .events()
            .await
            .iter()
            .map(|e| format!("{}\n{}\n", e.request, e.response))
            .collect();
        for needle in needles {
            assert!(!answers.contains(needle), "{needle} shows in an admin answer:\n{answers}");
            assert!(!stored.contains(needle), "{needle} is in the event log:\n{stored}");
        }
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

/// A buyer's enterprise (tenant) as the Kit calls name it.
#[derive(Debug, Clone)]
pub struct Enterprise {
    pub tenant_id: String,
    /// Empty for a seller's test credential.
    pub instance_id: String,
    pub order_id: String,
}

impl Enterprise {
    /// A Kit body about this enterprise: its ids, a production `testFlag`
    /// and a Beijing-time `timeStamp`, plus `fields` (which win).
    pub fn body(&self, fields: Value) -> Value {
        let mut body = json!({
            "instanceId": self.instance_id,
            "tenantId": self.tenant_id,
            "testFlag": 0,
            "timeStamp": beijing_now(),
        });
        for (name, value) in fields.as_object().expect("fields as an object") {
            body[name] = value.clone();
        }
        body
    }

    /// A tenantSync body, as the documentation's example has it.
    pub fn tenant_sync(&self, flag: i64) -> Value {
        self.body(json!({
            "orderId": self.order_id,
            "tenantCode": "huawei",
            "name": "Example Enterprise",
            "domainName": "https://example.tenantaccount.com",
            "flag": flag,
        }))
    }

    /// An applicationSync body; `client_secret` is already encrypted.
    pub fn application_sync(
        &self,
        app_id: &str,
        client_id: &str,
        client_secret: &str,
        flag: i64,
    ) -> Value {
        self.body(json!({
            "appId": app_id,
            "clientId": client_id,
            "clientSecret": client_secret,
            "flag": flag,
        }))
    }

    /// An authSync body for [`APP_ID`].
    pub fn auth_sync(&self, flag: i64, current_sync_time: &str, users: Value) -> Value {
        self.body(json!({
            "appId": APP_ID,
            "userList": users,
            "currentSyncTime": current_sync_time,
            "flag": flag,
        }))
    }

    /// A singleOrgSync body; `parent` "" for a top-level department.
    pub fn single_org_sync(&self, flag: i64, code: &str, name: &str, parent: &str) -> Value {
        self.body(json!({
            "orgCode": code,
            "orgName": name,
            "parentCode": parent,
            "flag": flag,
        }))
    }
}

/// One user of an authSync `userList`, with the mandatory fields only.
pub fn person(user_name: &str, name: &str, org_code: &str, role: &str, enable: &str) -> Value {
    json!({"userName": user_name, "name": name, "orgCode": org_code, "role": role, "enable": enable})
}

/// One department as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Department {
    pub code: String,
    pub name: String,
    /// `None` at the top level.
    pub parent: Option<String>,
}

/// A department; `parent` "" for the top level.
pub fn department(code: &str, name: &str, parent: &str) -> Department {
    Department {
        code: code.to_string(),
        name: name.to_string(),
        parent: (!parent.is_empty()).then(|| parent.to_string()),
    }
}

/// Now in Beijing time, `yyyyMMddHHmmssSSS`: the Kit `timeStamp`.
pub fn beijing_now() -> String {
    koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 8)
}

/// The three OAEP variants the `clientSecret` may come in (spec §4).
#[derive(Debug, Clone, Copy)]
pub enum OaepDigest {
    Sha1,
    /// Java's `OAEPWithSHA-256AndMGF1Padding`.
    Sha256WithMgf1Sha1,
    Sha256,
}

impl OaepDigest {
    pub fn padding(self) -> rsa::Oaep {
        match self {
            OaepDigest::Sha1 => rsa::Oaep::new::<sha1::Sha1>(),
            OaepDigest::Sha256WithMgf1Sha1 => {
                rsa::Oaep::new_with_mgf_hash::<sha2::Sha256, sha1::Sha1>()
            }
            OaepDigest::Sha256 => rsa::Oaep::new::<sha2::Sha256>(),
        }
    }
}

/// What the marketplace sends as `clientSecret`: BASE64 of RSA-OAEP under
/// the ISV public key.
pub fn encrypt_client_secret(secret: &str, digest: OaepDigest) -> String {
    use rsa::pkcs8::DecodePublicKey;
    let pem = std::fs::read_to_string(ISV_PUBLIC_KEY_FILE).expect("ISV public key");
    let key = rsa::RsaPublicKey::from_public_key_pem(&pem).expect("a public key");
    encrypt_with(&key, secret, digest)
}

pub fn encrypt_with(key: &rsa::RsaPublicKey, secret: &str, digest: OaepDigest) -> String {
    let cipher = key
        .encrypt(&mut rand::thread_rng(), digest.padding(), secret.as_bytes())
        .expect("encrypts");
    base64::engine::general_purpose::STANDARD.encode(cipher)
}

/// A JSON list sorted by one field of its items (order is unspecified).
pub fn sorted_by(mut list: Value, field: &str) -> Value {
    if let Some(items) = list.as_array_mut() {
        items.sort_by_key(|item| item[field].to_string());
    }
    list
}

/// A tenant answer with its lists sorted.
fn sorted_tenant(mut tenant: Value) -> Value {
    if let Some(ids) = tenant.get_mut("instanceIds").and_then(Value::as_array_mut) {
        ids.sort_by_key(Value::to_string);
    }
    if let Some(apps) = tenant.get_mut("apps") {
        *apps = sorted_by(apps.take(), "appId");
    }
    tenant
}

/// A browser with its own cookie jar that follows no redirect by itself,
/// so a test walks koogate → auth centre → koogate one hop at a time.
pub struct Browser {
    client: reqwest::Client,
    app_address: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        let client = reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client");
        Browser { client, app_address: app.address.clone() }
    }

    /// The same browser (cookies and all) talking to another replica, as
    /// a load balancer would send it there.
    pub fn behind(&self, replica: &TestApp) -> Browser {
        Browser { client: self.client.clone(), app_address: replica.address.clone() }
    }

    /// `GET` any absolute URL.
    pub async fn get(&self, url: &str) -> Page {
        Page::read(self.client.get(url).send().await.expect("request sent")).await
    }

    /// The browser's HTTP client (its cookie jar included), for requests
    /// a test shapes itself.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `GET` a path of koogate.
    pub async fn open(&self, path: &str) -> Page {
        self.get(&format!("{}{path}", self.app_address)).await
    }

    /// `POST` (empty form) to a path of koogate.
    pub async fn post(&self, path: &str) -> Page {
        let request = self
            .client
            .post(format!("{}{path}", self.app_address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("");
        Page::read(request.send().await.expect("request sent")).await
    }

    /// `GET /sso/login?{query}`: the start of a sign-in.
    pub async fn login(&self, query: &str) -> Page {
        self.open(&format!("/sso/login?{query}")).await
    }

    /// Follows the login's 302 to the auth centre, which answers 302 back
    /// to koogate's `redirect_uri`; returns the query koogate is to get.
    pub async fn authorize(&self, login: &Page) -> String {
        let back = self.get(login.redirect()).await;
        let (callback, query) = back.redirect().split_once('?').expect("a query on the way back");
        assert_eq!(callback, format!("{PUBLIC_URL}/sso/callback"));
        query.to_string()
    }

    /// `GET /sso/callback?{query}` (on `address`, not on the public URL).
    pub async fn callback(&self, query: &str) -> Page {
        self.open(&format!("/sso/callback?{query}")).await
    }

    /// The whole sign-in from `/sso/login?{login_query}`; the callback's answer.
    pub async fn sign_in(&self, login_query: &str) -> Page {
        let login = self.login(login_query).await;
        let query = self.authorize(&login).await;
        self.callback(&query).await
    }

    /// `GET /sso/me`: status and body.
    pub async fn me(&self) -> (u16, Value) {
        let page = self.open("/sso/me").await;
        (page.status, serde_json::from_str(&page.body).unwrap_or(Value::Null))
    }

    /// Asserts `/sso/me` answers 401 within a second (polled every 50 ms).
    pub async fn assert_signed_out_within_a_second(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            let (status, body) = self.me().await;
            if status == 401 {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "still signed in after 1 s: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One answer as a browser sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub cookies: Vec<SetCookie>,
    pub body: String,
}

impl Page {
    pub async fn read(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers();
        let location =
            headers.get("location").map(|v| v.to_str().expect("an ASCII Location").to_string());
        let cookies = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| SetCookie::parse(v.to_str().expect("an ASCII Set-Cookie")))
            .collect();
        let body = response.text().await.unwrap_or_default();
        Page { status, location, cookies, body }
    }

    /// The `Location` of a 302; panics on anything else.
    pub fn redirect(&self) -> &str {
        assert_eq!(self.status, 302, "expected a 302: {self:#?}");
        self.location.as_deref().expect("a Location")
    }

    /// The cookie of this name the answer sets.
    pub fn cookie(&self, name: &str) -> Option<&SetCookie> {
        self.cookies.iter().find(|c| c.name == name)
    }

    /// Asserts a refusal page with this status and no trace of a crash.
    pub fn assert_refused(&self, status: u16) {
        assert_eq!(self.status, status, "{self:#?}");
        for crash in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!self.body.contains(crash), "a crash shows: {}", self.body);
        }
    }

    /// Asserts a 302 to `path` of koogate (relative, or under the public URL).
    pub fn assert_lands_on(&self, path: &str) {
        let location = self.redirect();
        assert!(
            location == path || location == format!("{PUBLIC_URL}{path}"),
            "expected to land on {path}, sent to {location}"
        );
    }
}

/// One `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// (name, value) as sent; the value is empty for a flag.
    pub attributes: Vec<(String, String)>,
}

impl SetCookie {
    pub fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts.next().and_then(|p| p.split_once('=')).expect("name=value");
        let attributes = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        SetCookie { name: name.to_string(), value: value.to_string(), attributes }
    }

    /// The value of an attribute, its name compared case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }
}

// ---------------------------------------------------------------------------
// Fault fixtures (storage faults, issue 17): a `koogate serve` process the
// test can stop cleanly or kill, and a small filesystem it can fill.
// ---------------------------------------------------------------------------

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// One `koogate serve` process with the test settings; killed when dropped.
pub struct Process {
    pub child: tokio::process::Child,
    pub address: String,
    pub database_url: String,
    pub log: std::path::PathBuf,
    _workdir: tempfile::TempDir,
}

impl Process {
    /// Starts `koogate serve` on `database_url` with `settings` (as
    /// `KOOGATE__SECTION__KEY` pairs) and waits until `/healthz` answers.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Process {
        let port = free_port();
        let workdir = tempfile::tempdir().expect("tempdir");
        let log = workdir.path().join("koogate.log");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_koogate"));
        command
            .arg("serve")
            .current_dir(workdir.path())
            .env("KOOGATE__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("KOOGATE__DATABASE__URL", database_url)
            .env("KOOGATE__DATABASE__MAX_CONNECTIONS", "4")
            .env("KOOGATE__MARKETPLACE__ACCESS_KEY", ACCESS_KEY)
            .env("KOOGATE__ADMIN__API_TOKEN", ADMIN_TOKEN)
            .env(
                "KOOGATE__SECURITY__MASTER_KEY",
                base64::engine::general_purpose::STANDARD.encode([42u8; 32]),
            )
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        let file = std::fs::File::create(&log).expect("log file");
        command.stdout(file.try_clone().expect("log file")).stderr(file);
        for (key, value) in settings {
            command.env(key, value);
        }
        let child = command.spawn().expect("koogate starts");
        let address = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if reqwest::get(format!("{address}/healthz")).await.is_ok_and(|r| r.status() == 200) {
                return Process {
                    child,
                    address,
                    database_url: database_url.to_string(),
                    log,
                    _workdir: workdir,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "koogate on {address} never answered: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// A client for this process (signing, admin API) plus a connection
    /// of the test's own to its database.
    pub async fn client(&self) -> TestApp {
        let backend = if self.database_url.starts_with("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        TestApp {
            address: self.address.clone(),
            port: self.address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port"),
            backend,
            db: Database::connect(self.database_url.clone()).await.expect("test connection"),
            database_name: None,
            marketplace_path: "/koogallery".to_string(),
            database_url: self.database_url.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("client"),
            _dir: None,
        }
    }

    /// A client for the process at `address`, without a database
    /// connection of the test's own (for a task that only sends calls).
    pub fn client_at(address: &str) -> TestApp {
        TestApp {
            address: address.to_string(),
            port: address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port"),
            backend: Backend::Postgres,
            db: DatabaseConnection::Disconnected,
            database_name: None,
            marketplace_path: "/koogallery".to_string(),
            database_url: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("client"),
            _dir: None,
        }
    }

    fn pid(&self) -> String {
        self.child.id().expect("still running").to_string()
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) -> String {
        let pid = self.pid();
        tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("stops within 20 s")
            .expect("exit status");
        assert!(status.success(), "a clean stop: {status}");
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill_hard(mut self) {
        let pid = self.pid();
        tokio::process::Command::new("kill").args(["-KILL", &pid]).status().await.expect("kill");
        self.child.wait().await.expect("exit status");
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A tmpfs of `bytes` mounted on a fresh directory, unmounted when
/// dropped; `None` (said loudly, never in CI) where the test may not mount.
pub struct SmallDisk {
    pub dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            Some(SmallDisk { dir })
        } else {
            skip_loudly("root (to mount a tmpfs)", "full-disk");
            None
        }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a filler file until the filesystem says it is full.
    pub fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path("filler")).expect("filler");
        let block = vec![0u8; 4096];
        while filler.write_all(&block).and_then(|_| filler.flush()).is_ok() {}
        let _ = filler.sync_all();
    }

    /// Gives the space back.
    pub fn free(&self) {
        std::fs::remove_file(self.path("filler")).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// A TCP relay to `127.0.0.1:target_port` the test can cut: while cut,
/// every connection through it is dropped and new ones hang unanswered,
/// as when the network to the server is partitioned.
pub struct Relay {
    pub port: u16,
    connected: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Relay {
    pub fn start(target_port: u16) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let connected = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (flag, cuts) = (connected.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = cuts.subscribe();
                if !flag.load(Ordering::SeqCst) {
                    // A partition, not a refusal: the connection is taken
                    // and never answered until the cable is back.
                    let flag = flag.clone();
                    tokio::spawn(async move {
                        while !flag.load(Ordering::SeqCst) {
                            let _ = tokio::time::timeout(Duration::from_millis(50), cut.changed())
                                .await;
                        }
                        drop(inbound);
                    });
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Relay { port, connected, cut }
    }

    pub fn cut(&self) {
        self.connected.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn reconnect(&self) {
        self.connected.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` (PostgreSQL) with its port replaced by the relay's.
    pub fn in_front_of(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).expect("a URL");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }
}

/// A `redis-server` of the test's own on a free port (never the shared
/// one), killed when dropped or by [`OwnRedis::kill`].
pub struct OwnRedis {
    child: Option<std::process::Child>,
    pub url: String,
}

impl OwnRedis {
    /// `None` (said loudly, never in CI) where `redis-server` is missing.
    pub async fn start() -> Option<OwnRedis> {
        let port = free_port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            skip_loudly("redis-server on PATH", "Redis-killing");
            return None;
        };
        let url = format!("redis://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Some(OwnRedis { child: Some(child), url });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on {port} never listened");
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill redis-server");
            child.wait().expect("redis-server exits");
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
