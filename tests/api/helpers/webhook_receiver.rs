//! The vendor's side of the outbox stories: a webhook receiver of the
//! test's own that checks Standard Webhooks signatures with its own HMAC
//! code, counts attempts and acceptances per webhook-id, and can be told
//! to fail or hang.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::Value;
use sha2::Sha256;

use super::*;

/// The HMAC key the vendor shares with koogate, and its `whsec_` form.
pub const KEY: &[u8] = b"the vendor's webhook key, 32 b.!";

pub fn webhook_secret() -> String {
    format!("whsec_{}", STANDARD.encode(KEY))
}

/// The outbox's clock, shortened: retries from 50 ms, a 2 s lease, a 1 s
/// attempt timeout, polling every 50 ms.
pub const FAST: &[(&str, &str)] = &[
    ("outbox.retry_base_ms", "50"),
    ("outbox.retry_cap_ms", "400"),
    ("outbox.lease_ms", "2000"),
    ("outbox.timeout_ms", "1000"),
    ("outbox.poll_ms", "50"),
];

/// What the receiver does with the attempts it gets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Answer 500 to the first attempts of every webhook-id.
    pub fail_first: usize,
    /// Hold the very first attempt of every webhook-id this long, then 500.
    pub hang_first: Option<Duration>,
    /// Answer 500 to everything.
    pub always_fail: bool,
}

/// One event the receiver accepted (answered 2xx).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub id: String,
    pub body: Value,
}

#[derive(Debug, Default)]
pub struct Log {
    pub attempts: HashMap<String, usize>,
    pub accepted: Vec<Accepted>,
    pub badly_signed: usize,
}

pub struct Shared {
    pub behaviour: Mutex<Behaviour>,
    pub log: Mutex<Log>,
    /// Signalled when an attempt is being held.
    pub hanging: tokio::sync::Notify,
}

/// The vendor's app: checks signatures with its own HMAC code and counts
/// attempts and acceptances per webhook-id.
pub struct Receiver {
    pub url: String,
    pub shared: Arc<Shared>,
}

impl Receiver {
    pub fn start(behaviour: Behaviour) -> Receiver {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            log: Mutex::new(Log::default()),
            hanging: tokio::sync::Notify::new(),
        });
        let data = web::Data::from(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().expect("local address").port();
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route("/hooks", web::post().to(receive))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Receiver { url: format!("http://127.0.0.1:{port}/hooks"), shared }
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().expect("lock") = behaviour;
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.shared.log.lock().expect("lock").accepted.clone()
    }

    pub fn attempts(&self, id: &str) -> usize {
        self.shared.log.lock().expect("lock").attempts.get(id).copied().unwrap_or(0)
    }

    pub fn badly_signed(&self) -> usize {
        self.shared.log.lock().expect("lock").badly_signed
    }

    /// Waits (up to 30 s) until `count` events were accepted; returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Accepted> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {count} events arrived: {accepted:#?}",
                accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The settings that point an app at this receiver, fast clock included.
    pub fn settings(&self, base: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> =
            base.iter().chain(FAST).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.push(("upstream.webhook_url".into(), self.url.clone()));
        all.push(("upstream.webhook_secret".into(), webhook_secret()));
        all
    }
}

pub async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };
    let (id, timestamp, signature) =
        (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    if !verify(&id, &timestamp, &body, &signature) {
        shared.log.lock().expect("lock").badly_signed += 1;
        return HttpResponse::Unauthorized().finish();
    }
    let attempt = {
        let mut log = shared.log.lock().expect("lock");
        let count = log.attempts.entry(id.clone()).or_default();
        *count += 1;
        *count
    };
    let behaviour = *shared.behaviour.lock().expect("lock");
    if let (1, Some(hang)) = (attempt, behaviour.hang_first) {
        shared.hanging.notify_one();
        tokio::time::sleep(hang).await;
        return HttpResponse::InternalServerError().finish();
    }
    if behaviour.always_fail || attempt <= behaviour.fail_first {
        return HttpResponse::InternalServerError().finish();
    }
    let body = serde_json::from_slice(&body).expect("a JSON body");
    shared.log.lock().expect("lock").accepted.push(Accepted { id, body });
    HttpResponse::NoContent().finish()
}

/// The receiver's own check, as the Standard Webhooks spec describes it:
/// `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), timestamp
/// within five minutes.
pub fn verify(id: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(seconds) = timestamp.parse::<i64>() else { return false };
    if (chrono::Utc::now().timestamp() - seconds).abs() > 300 || !id.starts_with("msg_") {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    signature.split(' ').any(|s| s == expected)
}

/// Runs a scenario on both backends against a fresh receiver.
#[macro_export]
macro_rules! outbox_on_both_backends {
    ($scenario:ident, $behaviour:expr) => {
        mod $scenario {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let receiver = Receiver::start($behaviour);
                let app = spawn_with(Backend::Sqlite, &receiver.settings(KIT_SETTINGS)).await;
                super::$scenario(app.expect("app"), receiver).await;
            }

            #[tokio::test]
            async fn postgres() {
                let receiver = Receiver::start($behaviour);
                if let Some(app) =
                    spawn_with(Backend::Postgres, &receiver.settings(KIT_SETTINGS)).await
                {
                    super::$scenario(app, receiver).await;
                }
            }
        }
    };
}

pub fn types(accepted: &[Accepted]) -> Vec<String> {
    accepted.iter().map(|a| a.body["type"].as_str().expect("type").to_string()).collect()
}

/// The events about one instance or its tenant, in the order accepted.
pub fn about(accepted: &[Accepted], enterprise: &Enterprise) -> Vec<Accepted> {
    accepted
        .iter()
        .filter(|a| {
            a.body["data"]["instanceId"] == enterprise.instance_id.as_str()
                || a.body["data"]["tenantId"] == enterprise.tenant_id.as_str()
        })
        .cloned()
        .collect()
}

pub async fn outbox_rows(app: &TestApp) -> u64 {
    entity::outbox::Entity::find().count(&app.db).await.expect("count")
}

pub fn assert_once_each(accepted: &[Accepted]) {
    let mut seen = HashSet::new();
    for a in accepted {
        assert!(seen.insert(a.id.clone()), "{} was accepted twice", a.id);
    }
}
