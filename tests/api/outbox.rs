//! The vendor's app hears about every change once, in order: events leave
//! through the outbox to a receiver of the test's own, signed as Standard
//! Webhooks, retried while the receiver fails, and never lost when a
//! replica dies in the middle of a delivery.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

/// The HMAC key the vendor shares with koogate, and its `whsec_` form.
const KEY: &[u8] = b"the vendor's webhook key, 32 b.!";

fn webhook_secret() -> String {
    format!("whsec_{}", STANDARD.encode(KEY))
}

/// The outbox's clock, shortened: retries from 50 ms, a 2 s lease, a 1 s
/// attempt timeout, polling every 50 ms.
const FAST: &[(&str, &str)] = &[
    ("outbox.retry_base_ms", "50"),
    ("outbox.retry_cap_ms", "400"),
    ("outbox.lease_ms", "2000"),
    ("outbox.timeout_ms", "1000"),
    ("outbox.poll_ms", "50"),
];

/// What the receiver does with the attempts it gets.
#[derive(Debug, Clone, Copy, Default)]
struct Behaviour {
    /// Answer 500 to the first attempts of every webhook-id.
    fail_first: usize,
    /// Hold the very first attempt of every webhook-id this long, then 500.
    hang_first: Option<Duration>,
    /// Answer 500 to everything.
    always_fail: bool,
}

/// One event the receiver accepted (answered 2xx).
#[derive(Debug, Clone)]
struct Accepted {
    id: String,
    body: Value,
}

#[derive(Debug, Default)]
struct Log {
    attempts: HashMap<String, usize>,
    accepted: Vec<Accepted>,
    badly_signed: usize,
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    log: Mutex<Log>,
    /// Signalled when an attempt is being held.
    hanging: tokio::sync::Notify,
}

/// The vendor's app: checks signatures with its own HMAC code and counts
/// attempts and acceptances per webhook-id.
struct Receiver {
    url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    fn start(behaviour: Behaviour) -> Receiver {
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

    fn behave(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().expect("lock") = behaviour;
    }

    fn accepted(&self) -> Vec<Accepted> {
        self.shared.log.lock().expect("lock").accepted.clone()
    }

    fn attempts(&self, id: &str) -> usize {
        self.shared.log.lock().expect("lock").attempts.get(id).copied().unwrap_or(0)
    }

    fn badly_signed(&self) -> usize {
        self.shared.log.lock().expect("lock").badly_signed
    }

    /// Waits (up to 30 s) until `count` events were accepted; returns them.
    async fn wait_for(&self, count: usize) -> Vec<Accepted> {
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
    fn settings(&self, base: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> =
            base.iter().chain(FAST).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.push(("upstream.webhook_url".into(), self.url.clone()));
        all.push(("upstream.webhook_secret".into(), webhook_secret()));
        all
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
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
fn verify(id: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
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

fn types(accepted: &[Accepted]) -> Vec<String> {
    accepted.iter().map(|a| a.body["type"].as_str().expect("type").to_string()).collect()
}

/// The events about one instance or its tenant, in the order accepted.
fn about(accepted: &[Accepted], enterprise: &Enterprise) -> Vec<Accepted> {
    accepted
        .iter()
        .filter(|a| {
            a.body["data"]["instanceId"] == enterprise.instance_id.as_str()
                || a.body["data"]["tenantId"] == enterprise.tenant_id.as_str()
        })
        .cloned()
        .collect()
}

async fn outbox_rows(app: &TestApp) -> u64 {
    entity::outbox::Entity::find().count(&app.db).await.expect("count")
}

fn assert_once_each(accepted: &[Accepted]) {
    let mut seen = HashSet::new();
    for a in accepted {
        assert!(seen.insert(a.id.clone()), "{} was accepted twice", a.id);
    }
}

async fn a_tenant_hears_purchase_binding_freeze_unfreeze_and_release_once_in_order(
    app: TestApp,
    receiver: Receiver,
) {
    let enterprise = app.bound_enterprise().await;
    app.set_instance_status(&enterprise.instance_id, "FREEZE").await;
    app.set_instance_status(&enterprise.instance_id, "UNFREEZE").await;
    app.release_instance(&enterprise.instance_id).await;

    let accepted = receiver.wait_for(5).await;
    assert_eq!(
        types(&accepted),
        [
            "instance.created",
            "tenant.added",
            "instance.frozen",
            "instance.unfrozen",
            "instance.released"
        ]
    );
    assert_once_each(&accepted);
    for a in &accepted {
        // Two refusals, then the delivery, all under one webhook-id.
        assert_eq!(receiver.attempts(&a.id), 3, "{}", a.id);
        assert_eq!(a.body["data"]["instanceId"], enterprise.instance_id.as_str());
        assert!(a.body["timestamp"].as_str().expect("timestamp").ends_with('Z'));
    }
    assert_eq!(accepted[0].body["data"]["orderId"], enterprise.order_id.as_str());
    assert_eq!(accepted[1].body["data"]["tenantId"], enterprise.tenant_id.as_str());
    assert_eq!(accepted[2].body["data"]["status"], "frozen");
    assert_eq!(receiver.badly_signed(), 0);

    // The relay records the last delivery just after the receiver saw it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let summary = loop {
        let (status, summary) = app.admin_get("/admin/api/outbox").await;
        assert_eq!(status, 200);
        if summary["pending"] == 0 || tokio::time::Instant::now() > deadline {
            break summary;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(summary["pending"], 0);
    assert_eq!(summary["dead"], 0);
    assert_eq!(summary["webhookConfigured"], true);
}
outbox_on_both_backends!(
    a_tenant_hears_purchase_binding_freeze_unfreeze_and_release_once_in_order,
    Behaviour { fail_first: 2, ..Behaviour::default() }
);

async fn users_apps_and_departments_are_told_without_secrets_or_personal_fields(
    app: TestApp,
    receiver: Receiver,
) {
    let enterprise = app.bound_enterprise().await;
    app.give_app_credential(&enterprise, "client-1", "the-client-secret-1").await;
    // The same credential again changes nothing and says nothing.
    app.give_app_credential(&enterprise, "client-1", "the-client-secret-1").await;
    let mut alice = person("alice", "Alice", "D1", "admin", "true");
    alice["mobile"] = json!("13800000000");
    alice["email"] = json!("alice@example.com");
    let grant = enterprise.auth_sync(1, "20261123000000000", json!([alice.clone()]));
    app.kit_v2("authSync", &grant).await.assert_kit_ok();
    app.kit_v2("authSync", &grant).await.assert_kit_ok();
    let mut promoted = alice.clone();
    promoted["role"] = json!("user");
    let change = enterprise.auth_sync(2, "20261123000000001", json!([promoted]));
    app.kit_v2("authSync", &change).await.assert_kit_ok();
    let revoke = enterprise.auth_sync(3, "20261123000000002", json!([alice.clone()]));
    app.kit_v2("authSync", &revoke).await.assert_kit_ok();
    let delete = enterprise.auth_sync(0, "20261123000000003", json!([alice]));
    app.kit_v2("authSync", &delete).await.assert_kit_ok();
    let sales = enterprise.single_org_sync(1, "D1", "Sales", "");
    app.kit_v2("singleOrgSync", &sales).await.assert_kit_ok();
    app.kit_v2("singleOrgSync", &sales).await.assert_kit_ok();
    let mut tenant = enterprise.tenant_sync(2);
    tenant["name"] = json!("Renamed Enterprise");
    app.kit_v2("tenantSync", &tenant).await.assert_kit_ok();
    app.kit_v2("tenantSync", &enterprise.tenant_sync(0)).await.assert_kit_ok();

    let expected = [
        "instance.created",
        "tenant.added",
        "app.credentials_changed",
        "user.granted",
        "user.changed",
        "user.revoked",
        "user.deleted",
        "departments.changed",
        "tenant.changed",
        "tenant.deleted",
    ];
    receiver.wait_for(expected.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = about(&receiver.accepted(), &enterprise).into_iter().collect::<Vec<_>>();
    assert_eq!(types(&accepted), expected, "{accepted:#?}");
    assert_once_each(&accepted);
    let everything = format!("{:?}", accepted.iter().map(|a| &a.body).collect::<Vec<_>>());
    for secret in ["the-client-secret-1", "13800000000", "alice@example.com"] {
        assert!(!everything.contains(secret), "{secret} was sent: {everything}");
    }
    assert_eq!(accepted[2].body["data"]["clientId"], "client-1");
    assert_eq!(accepted[3].body["data"]["users"][0]["userName"], "alice");
    assert_eq!(accepted[4].body["data"]["users"][0]["role"], "user");
    assert_eq!(
        accepted[7].body["data"]["added"],
        json!([{"orgCode": "D1", "orgName": "Sales", "parentCode": null}])
    );
    assert_eq!(accepted[8].body["data"]["name"], "Renamed Enterprise");
}
outbox_on_both_backends!(
    users_apps_and_departments_are_told_without_secrets_or_personal_fields,
    Behaviour::default()
);

async fn a_full_department_sync_sends_its_diff(app: TestApp, receiver: Receiver) {
    let enterprise = app.bound_enterprise().await;
    let orgs = |list: Value| enterprise.body(json!({"orgInfoList": list}));
    let first = orgs(json!([
        {"orgCode": "D1", "orgName": "Sales", "parentCode": ""},
        {"orgCode": "D2", "orgName": "Marketing", "parentCode": ""},
    ]));
    app.kit_v2("allOrgSync", &first).await.assert_kit_ok();
    let second = orgs(json!([
        {"orgCode": "D1", "orgName": "Sales and Service", "parentCode": ""},
        {"orgCode": "D3", "orgName": "Support", "parentCode": "D1"},
    ]));
    app.kit_v2("allOrgSync", &second).await.assert_kit_ok();
    // The same list again changes nothing.
    app.kit_v2("allOrgSync", &second).await.assert_kit_ok();

    receiver.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 4, "{accepted:#?}");
    let diff = &accepted[3].body;
    assert_eq!(diff["type"], "departments.changed");
    assert_eq!(diff["data"]["added"][0]["orgCode"], "D3");
    assert_eq!(diff["data"]["renamed"][0]["orgName"], "Sales and Service");
    assert_eq!(diff["data"]["retired"], json!(["D2"]));
}
outbox_on_both_backends!(a_full_department_sync_sends_its_diff, Behaviour::default());

async fn a_repeated_purchase_or_a_refused_call_tells_nothing(app: TestApp, receiver: Receiver) {
    let order_id = random_id("CS");
    let body = new_instance_body(&order_id, &random_id("biz-"));
    assert_eq!(app.v2(&body).await.code(), "000000");
    assert_eq!(outbox_rows(&app).await, 1);
    // The marketplace delivers the same order again.
    assert_eq!(app.v2(&body).await.code(), "000000");
    assert_eq!(outbox_rows(&app).await, 1);

    // A forged signature, an invalid parameter, an unknown instance.
    let forged = V2Options { key: "not-the-key".into(), ..V2Options::default() };
    let other = new_instance_body(&random_id("CS"), &random_id("biz-"));
    assert_ne!(app.v2_with(other.into_bytes(), forged).await.code(), "000000");
    let bad = json!({"activity": "updateInstanceStatus", "instanceId": "x", "status": "SLEEP"});
    assert_ne!(app.v2(&bad.to_string()).await.code(), "000000");
    let unknown = json!({"activity": "releaseInstance", "instanceId": "never-bought"});
    assert_ne!(app.v2(&unknown.to_string()).await.code(), "000000");
    let stranger = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: String::new(),
        order_id: String::new(),
    };
    let forged_kit = KitOptions { key: "not-the-kit-key".into(), ..KitOptions::default() };
    let bind = stranger.tenant_sync(1).to_string().into_bytes();
    assert_ne!(app.kit_v2_with("tenantSync", bind, forged_kit).await.code(), "000000");
    let bad_flag = stranger.tenant_sync(9);
    assert_eq!(app.kit_v2("tenantSync", &bad_flag).await.code(), "000002");
    assert_eq!(outbox_rows(&app).await, 1);

    let accepted = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.accepted().len(), 1);
    assert_eq!(accepted[0].body["data"]["orderId"], order_id.as_str());
}
outbox_on_both_backends!(a_repeated_purchase_or_a_refused_call_tells_nothing, Behaviour::default());

async fn an_event_never_accepted_is_dead_after_its_period_and_can_be_redelivered(
    app: TestApp,
    receiver: Receiver,
) {
    let (_, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("instanceId").to_string();
    let (_, backlog) = app.admin_get("/admin/api/outbox/backlog").await;
    assert_eq!(backlog[0]["type"], "instance.created");
    assert_eq!(backlog[0]["status"], "pending");
    let webhook_id = backlog[0]["webhookId"].as_str().expect("webhookId").to_string();

    // The receiver fails until the period (1.5 s here, a day in production)
    // is over.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let (status, dead) = app.admin_get("/admin/api/outbox/dead").await;
        assert_eq!(status, 200);
        if dead.as_array().is_some_and(|d| !d.is_empty()) {
            break dead;
        }
        assert!(tokio::time::Instant::now() < deadline, "never dead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dead[0]["webhookId"], webhook_id.as_str());
    assert_eq!(dead[0]["status"], "dead");
    assert_eq!(dead[0]["lastError"], "HTTP 500");
    assert_eq!(dead[0]["data"]["instanceId"], instance_id.as_str());
    let tried = dead[0]["attempts"].as_u64().expect("attempts");
    assert!(tried >= 2, "retried before giving up: {tried}");
    assert!(dead[0]["deadAt"].as_str().expect("deadAt").ends_with('Z'));
    let (_, summary) = app.admin_get("/admin/api/outbox").await;
    assert_eq!((summary["pending"].as_u64(), summary["dead"].as_u64()), (Some(0), Some(1)));

    // Dead letters do not hold the tenant's later events back.
    app.set_instance_status(&instance_id, "FREEZE").await;

    receiver.behave(Behaviour::default());
    let redeliver = |id: &str| {
        app.http
            .post(format!("{}/admin/api/outbox/{id}/redeliver", app.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let response = redeliver(&webhook_id).await.expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let accepted = receiver.wait_for(2).await;
    let ids: HashSet<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
    assert!(ids.contains(webhook_id.as_str()), "the redelivery arrives under its webhook-id");
    assert_once_each(&accepted);

    // Only dead letters can be redelivered; unknown ids are 404; the token
    // is required.
    assert_eq!(redeliver(&webhook_id).await.expect("sent").status().as_u16(), 400);
    assert_eq!(redeliver("msg_unknown").await.expect("sent").status().as_u16(), 404);
    let anonymous = app
        .http
        .post(format!("{}/admin/api/outbox/{webhook_id}/redeliver", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    let (_, dead) = app.admin_get("/admin/api/outbox/dead").await;
    assert_eq!(dead, json!([]));
}

mod an_event_never_accepted_is_dead_after_its_period_and_can_be_redelivered {
    use super::*;

    async fn run(backend: Backend) {
        let receiver = Receiver::start(Behaviour { always_fail: true, ..Behaviour::default() });
        let mut settings = receiver.settings(&[]);
        settings.push(("outbox.give_up_after_ms".into(), "1500".into()));
        if let Some(app) = spawn_with(backend, &settings).await {
            super::an_event_never_accepted_is_dead_after_its_period_and_can_be_redelivered(
                app, receiver,
            )
            .await;
        }
    }

    #[tokio::test]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

#[tokio::test]
async fn without_a_webhook_url_nothing_is_written() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    app.buy().await;
    assert_eq!(outbox_rows(&app).await, 0);
    let (_, summary) = app.admin_get("/admin/api/outbox").await;
    assert_eq!(summary["webhookConfigured"], false);
}

/// Three replicas on one PostgreSQL database, all relaying: every event
/// arrives, none is accepted twice, each tenant's stay in order.
#[tokio::test]
async fn three_replicas_deliver_every_event_once_and_in_order_per_tenant() {
    let receiver = Receiver::start(Behaviour { fail_first: 1, ..Behaviour::default() });
    let settings = receiver.settings(KIT_SETTINGS);
    let Some(first) = spawn_with(Backend::Postgres, &settings).await else { return };
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replicas = [first.replica(&pairs).await, first.replica(&pairs).await];
    let all = [&first, &replicas[0], &replicas[1]];

    // Eight tenants, each call sent to another replica.
    let stories = (0..8).map(|n| async move {
        let buyer = all[n % 3];
        let enterprise = buyer.bound_enterprise().await;
        all[(n + 1) % 3].set_instance_status(&enterprise.instance_id, "FREEZE").await;
        all[(n + 2) % 3].set_instance_status(&enterprise.instance_id, "UNFREEZE").await;
        all[n % 3].release_instance(&enterprise.instance_id).await;
        enterprise
    });
    let enterprises = futures_util::future::join_all(stories).await;

    receiver.wait_for(8 * 5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 40);
    assert_once_each(&accepted);
    for enterprise in &enterprises {
        assert_eq!(
            types(&about(&accepted, enterprise)),
            [
                "instance.created",
                "tenant.added",
                "instance.frozen",
                "instance.unfrozen",
                "instance.released"
            ]
        );
    }
    assert_eq!(receiver.badly_signed(), 0);
}

/// A replica dies while the receiver holds its delivery: the event (and
/// the tenant's later ones, in order) arrive through another replica once
/// the dead replica's lease has run out, under the same webhook-id.
#[tokio::test]
async fn an_event_outlives_the_replica_killed_while_delivering_it() {
    let receiver = Receiver::start(Behaviour {
        hang_first: Some(Duration::from_secs(20)),
        ..Behaviour::default()
    });
    // This app only made the database: it writes and relays nothing.
    let Some(first) = spawn_postgres_app(KIT_SETTINGS).await else { return };
    let settings = receiver.settings(KIT_SETTINGS);

    // The doomed replica runs on a runtime of its own, so the test can drop
    // it (every task with it, the relay in mid-delivery too).
    let (started, address) = std::sync::mpsc::channel();
    let (kill, killed) = tokio::sync::oneshot::channel::<()>();
    let doomed_settings = settings.clone();
    let database_url = first.database_url.clone();
    let doomed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let pairs: Vec<(&str, &str)> =
                doomed_settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (port, _) = run_app(&database_url, &pairs).await;
            started.send(format!("http://127.0.0.1:{port}")).expect("started");
            let _ = killed.await;
        });
        runtime.shutdown_background();
    });
    let doomed_address = address.recv().expect("the doomed replica's address");
    let doomed_app = first.at(&doomed_address);

    let enterprise = doomed_app.bound_enterprise().await;
    doomed_app.set_instance_status(&enterprise.instance_id, "FREEZE").await;
    tokio::time::timeout(Duration::from_secs(10), receiver.shared.hanging.notified())
        .await
        .expect("the doomed replica starts delivering");
    kill.send(()).expect("kill");
    doomed.join().expect("the doomed replica's thread ends");

    // From now on the receiver refuses the first two attempts of each id
    // (the held one counts as the first).
    receiver.behave(Behaviour { fail_first: 2, ..Behaviour::default() });
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _survivor = first.replica(&pairs).await;
    receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = receiver.accepted();
    assert_eq!(types(&accepted), ["instance.created", "tenant.added", "instance.frozen"]);
    assert_once_each(&accepted);
    for a in &accepted {
        // Held by the doomed replica or refused, refused, then accepted.
        assert_eq!(receiver.attempts(&a.id), 3, "{}", a.id);
    }
}

/// How fast the relays empty a backlog of 2,000 events (500 tenants, four
/// each, in order) into a receiver that accepts everything, with one and
/// with three replicas on one PostgreSQL database. A measurement, not a
/// check: `cargo test --test api -- --ignored outbox_delivery_rate --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (prints events/s); run with --ignored --nocapture"]
async fn outbox_delivery_rate() {
    for replicas in [1, 3] {
        let receiver = Receiver::start(Behaviour::default());
        let Some(first) = spawn_postgres_app(&[]).await else { return };
        let now = chrono::Utc::now().timestamp_millis();
        let rows: Vec<entity::outbox::ActiveModel> = (0..2000)
            .map(|n| {
                use sea_orm::Set;
                entity::outbox::ActiveModel {
                    webhook_id: Set(format!("msg_{}", random_id(""))),
                    event_type: Set("user.changed".into()),
                    tenant_id: Set(Some(format!("tenant-{}", n % 500))),
                    instance_id: Set(Some(format!("instance-{}", n % 500))),
                    payload: Set(json!({"n": n}).to_string()),
                    status: Set("pending".into()),
                    created_at: Set(now),
                    retry_from: Set(now),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        let settings = receiver.settings(&[]);
        let pairs: Vec<(&str, &str)> =
            settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut running = Vec::new();
        for _ in 0..replicas {
            running.push(first.replica(&pairs).await);
        }
        // The relays are idle now; the clock starts with the backlog.
        let started = std::time::Instant::now();
        for chunk in rows.chunks(500) {
            entity::outbox::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&first.db)
                .await
                .expect("insert");
        }
        // As autovacuum would soon after a deployment's first events: the
        // claim's plan depends on the table's statistics.
        first.db.execute_unprepared("ANALYZE outbox").await.expect("analyze");
        let accepted = receiver.wait_for(2000).await;
        let seconds = started.elapsed().as_secs_f64();
        assert_once_each(&accepted);
        println!(
            "{replicas} replica(s): 2000 events in {seconds:.2} s, {:.0} events/s",
            2000.0 / seconds
        );
    }
}

async fn a_tenant_bound_to_a_second_purchase_is_told_as_a_change(app: TestApp, receiver: Receiver) {
    let enterprise = app.bound_enterprise().await;
    let (order_id, bought) = app.buy().await;
    let second = Enterprise {
        instance_id: bought.json["instanceId"].as_str().expect("instanceId").to_string(),
        order_id,
        ..enterprise.clone()
    };
    app.kit_v2("tenantSync", &second.tenant_sync(1)).await.assert_kit_ok();
    // Binding it again changes nothing.
    app.kit_v2("tenantSync", &second.tenant_sync(1)).await.assert_kit_ok();

    receiver.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 4, "{accepted:#?}");
    let tenant: Vec<&Accepted> = accepted
        .iter()
        .filter(|a| a.body["type"].as_str().is_some_and(|t| t.starts_with("tenant.")))
        .collect();
    assert_eq!(tenant.len(), 2);
    assert_eq!(tenant[0].body["type"], "tenant.added");
    assert_eq!(tenant[1].body["type"], "tenant.changed");
    assert_eq!(tenant[1].body["data"]["instanceId"], second.instance_id.as_str());
}
outbox_on_both_backends!(
    a_tenant_bound_to_a_second_purchase_is_told_as_a_change,
    Behaviour::default()
);

/// The must-hold of the outbox with a real process: a `koogate serve`
/// holding a delivery is killed with SIGKILL; the event and the tenant's
/// later ones reach the receiver through another replica, in order, each
/// accepted once under its webhook-id, past a receiver that refuses the
/// first attempts.
#[tokio::test]
async fn an_event_outlives_the_koogate_process_killed_while_delivering_it() {
    let receiver = Receiver::start(Behaviour {
        hang_first: Some(Duration::from_secs(20)),
        ..Behaviour::default()
    });
    // This app only made the database: it writes and relays nothing.
    let Some(first) = spawn_postgres_app(KIT_SETTINGS).await else { return };
    let settings = receiver.settings(KIT_SETTINGS);
    let mut doomed = Serve::on(&first.database_url).settings(&settings).start().await;
    let doomed_app = first.at(&doomed.address);

    let enterprise = doomed_app.bound_enterprise().await;
    doomed_app.set_instance_status(&enterprise.instance_id, "FREEZE").await;
    tokio::time::timeout(Duration::from_secs(10), receiver.shared.hanging.notified())
        .await
        .expect("the doomed process starts delivering");
    doomed.kill().await;

    receiver.behave(Behaviour { fail_first: 2, ..Behaviour::default() });
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _survivor = first.replica(&pairs).await;
    receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = receiver.accepted();
    assert_eq!(types(&accepted), ["instance.created", "tenant.added", "instance.frozen"]);
    assert_once_each(&accepted);
    for a in &accepted {
        assert_eq!(receiver.attempts(&a.id), 3, "{}", a.id);
    }
}

/// The operator sees the backlog and the dead letters on the admin site
/// and puts a dead letter back in line with a button; the vendor's app
/// then gets it, under its first webhook-id.
#[tokio::test]
async fn an_operator_sees_the_backlog_and_redelivers_a_dead_letter_from_the_site() {
    let receiver = Receiver::start(Behaviour { always_fail: true, ..Behaviour::default() });
    let mut settings = receiver.settings(&[]);
    settings.push(("outbox.give_up_after_ms".into(), "1500".into()));
    settings.push(("admin.password_hash".into(), admin_password_hash().to_string()));
    let app = spawn_with(Backend::Sqlite, &settings).await.expect("an app");
    let (_, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("instanceId").to_string();
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let waiting = operator.page("/admin/outbox").await;
    assert_eq!(waiting.status, 200);
    assert!(waiting.body.contains("instance.created"), "{}", waiting.body);
    assert!(waiting.body.contains(&instance_id), "{}", waiting.body);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = operator.page("/admin/outbox").await;
        if page.body.contains("Redeliver") {
            break page;
        }
        assert!(tokio::time::Instant::now() < deadline, "never dead: {}", page.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.body.contains("HTTP 500"), "the last error shows: {}", page.body);
    let (_, dead) = app.admin_get("/admin/api/outbox/dead").await;
    let webhook_id = dead[0]["webhookId"].as_str().expect("webhookId").to_string();
    let action = format!("/admin/outbox/{webhook_id}/redeliver");

    // Without the page's token nothing happens.
    assert_eq!(operator.post_form(&action, &[("csrf_token", "forged")]).await.status, 403);
    receiver.behave(Behaviour::default());
    let done = operator.post_form(&action, &[("csrf_token", &csrf_token(&page))]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some("/admin/outbox?done=redelivered"));
    let accepted = receiver.wait_for(1).await;
    assert_eq!(accepted[0].id, webhook_id);
    let shown = operator.page("/admin/outbox?done=redelivered").await;
    assert!(shown.body.contains("back in line"), "{}", shown.body);
}
