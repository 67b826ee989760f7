//! Real storage faults, from outside: a `koogate serve` process whose
//! SQLite file sits on a filesystem that fills up. A purchase answered
//! 000000 must survive everything that follows; every other answer must
//! be retryable.

use std::collections::HashMap;
use std::time::Duration;

use crate::helpers::*;

/// Sends a newInstance for `order_id`; returns its code and instanceId.
async fn order(app: &TestApp, order_id: &str) -> (String, Option<String>) {
    let reply = app.v2(&new_instance_body(order_id, &format!("biz-{order_id}"))).await;
    let instance = reply.json["instanceId"].as_str().map(str::to_string);
    (reply.code().to_string(), instance)
}

/// Every instance answered 000000 is there through the admin API.
async fn missing_through_the_admin_api(
    app: &TestApp,
    answered: &HashMap<String, String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for (order_id, instance_id) in answered {
        let (status, _) = app.admin_get(&format!("/admin/api/instances/{instance_id}")).await;
        if status != 200 {
            missing.push(format!("{order_id} ({instance_id}): {status}"));
        }
    }
    missing.sort();
    missing
}

async fn readiness(app: &TestApp) -> (u16, serde_json::Value) {
    let response = app.http.get(format!("{}/readyz", app.address)).send().await.expect("readyz");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn sqlite_on_a_full_disk_loses_no_answered_purchase() {
    let Some(disk) = SmallDisk::mount(6 * 1024 * 1024) else { return };
    let url = format!("sqlite://{}?mode=rwc", disk.path("koogate.db").display());
    let process = Process::start(&url, &[]).await;
    let app = process.client().await;

    // order id -> instance id, for every order answered 000000.
    let mut answered: HashMap<String, String> = HashMap::new();
    let mut refused: Vec<String> = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    let mut note =
        |order_id: &str, (code, instance): (String, Option<String>), refused: &mut Vec<String>| {
            if code == "000000" {
                let instance = instance.expect("a success names its instance");
                if let Some(before) = answered.insert(order_id.to_string(), instance.clone()) {
                    assert_eq!(before, instance, "a retried order keeps its instance");
                }
            } else {
                refused.push(order_id.to_string());
            }
            codes.push(code);
        };

    for i in 0..5 {
        let id = format!("BEFORE{i}");
        note(&id, order(&app, &id).await, &mut refused);
    }
    assert!(refused.is_empty(), "a healthy disk takes every order");

    disk.fill();
    for i in 0..40 {
        let id = format!("FULL{i}");
        note(&id, order(&app, &id).await, &mut refused);
    }
    let (ready_while_full, ready_body) = readiness(&app).await;
    let refused_while_full = refused.len();

    disk.free();
    // Readiness comes back by itself, before any call has written again.
    let (ready_after, _) = readiness(&app).await;
    // The marketplace retries what was not answered 000000.
    for id in std::mem::take(&mut refused) {
        for _ in 0..50 {
            let answer = order(&app, &id).await;
            let ok = answer.0 == "000000";
            let mut again = Vec::new();
            note(&id, answer, &mut again);
            if ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for i in 0..5 {
        let id = format!("AFTER{i}");
        note(&id, order(&app, &id).await, &mut refused);
    }

    let odd: Vec<&String> =
        codes.iter().filter(|c| !["000000", "000004", "000005"].contains(&c.as_str())).collect();
    assert!(odd.is_empty(), "only retryable refusals: {odd:?}");
    assert!(refused_while_full > 0, "the disk really was full: every call succeeded");
    let missing = missing_through_the_admin_api(&app, &answered).await;
    assert!(
        missing.is_empty(),
        "answered 000000 but missing from the running process: {missing:?}\ncodes: {codes:?}\n{}",
        process.log_text()
    );
    assert!(
        refused.is_empty(),
        "orders after the fault succeed: {refused:?}\ncodes: {codes:?}\n{}",
        process.log_text()
    );
    assert_eq!(answered.len(), 5 + 40 + 5, "every order is eventually answered 000000");

    let metrics = app.http.get(format!("{}/metrics", app.address)).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("text");
    assert!(
        metrics.contains("koogate_storage_write_failures_total{class=\"disk_full\"}"),
        "the failures are counted: {metrics}"
    );

    drop(app);
    let log = process.stop().await;
    let said = log.matches("the database cannot write").count();
    assert_eq!(said, 1, "one log line for the full disk, not one per call:\n{log}");
    let process = Process::start(&url, &[]).await;
    let app = process.client().await;
    let missing = missing_through_the_admin_api(&app, &answered).await;
    assert!(
        missing.is_empty(),
        "answered 000000 but gone after a clean restart: {missing:?}\n{log}"
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let stored = entity::instance::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(stored, answered.len() as u64, "each order stored exactly once");

    assert_eq!(ready_while_full, 503, "readiness says the disk is full: {ready_body}");
    assert_eq!(ready_body["database"], "unavailable", "{ready_body}");
    assert_eq!(ready_after, 200, "readiness recovers by itself once space returns");
}

/// Sends `count` fresh purchases one after another; returns how long each took.
async fn purchase_latencies(app: &TestApp, count: usize) -> Vec<Duration> {
    let mut took = Vec::new();
    for _ in 0..count {
        let started = std::time::Instant::now();
        let reply = app.v2(&new_instance_body(&random_id("CS"), &random_id("biz-"))).await;
        took.push(started.elapsed());
        assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    }
    took.sort();
    took
}

#[tokio::test]
async fn redis_killed_mid_run_costs_no_latency_and_opens_no_replay_window() {
    let Some(mut redis) = OwnRedis::start().await else { return };
    let app = spawn_app(Backend::Sqlite, &[("redis.url", redis.url.as_str())]).await;
    let normal = purchase_latencies(&app, 10).await;

    // A nonce used just before Redis dies.
    let nonce = random_nonce();
    let options = V2Options { nonce: nonce.clone(), ..V2Options::default() };
    let body = || new_instance_body(&random_id("CS"), &random_id("biz-")).into_bytes();
    assert_eq!(app.v2_with(body(), options.clone()).await.code(), "000000");

    redis.kill();
    let replay = app.v2_with(body(), options.clone()).await;
    assert_eq!(replay.code(), "000001", "a nonce used before the switch is still refused");

    let started = std::time::Instant::now();
    let ready = app.http.get(format!("{}/readyz", app.address)).send().await.expect("readyz");
    let readiness_took = started.elapsed();
    assert_eq!(ready.status().as_u16(), 503);
    let down = purchase_latencies(&app, 10).await;
    let (normal_median, down_median, down_worst) = (normal[5], down[5], down[9]);
    eprintln!(
        "purchase latency: median {normal_median:?} with Redis, median {down_median:?} (worst {down_worst:?}) with Redis dead; /readyz {readiness_took:?}"
    );
    assert!(
        down_median <= normal_median * 4 + Duration::from_millis(20),
        "with Redis dead a purchase takes {down_median:?}, normally {normal_median:?}"
    );
    assert!(down_worst < Duration::from_millis(300), "no call waits for a dead Redis: {down:?}");
    assert!(readiness_took < Duration::from_secs(1), "/readyz took {readiness_took:?}");
    assert_eq!(app.v2_with(body(), options).await.code(), "000001", "and stays refused");
}

#[tokio::test]
async fn postgres_cut_mid_commit_loses_no_answered_purchase_and_readiness_answers_at_once() {
    if postgres_url().is_none() {
        return;
    }
    let (direct, _) = fresh_postgres_database().await;
    let port = reqwest::Url::parse(&direct).expect("url").port().unwrap_or(5432);
    let relay = Relay::start(port);
    let process = Process::start(&relay.in_front_of(&direct), &[]).await;
    let app = process.client().await;

    // Purchases keep arriving, 8 at a time, while the cable is cut for 3 s.
    let orders: Vec<String> = (0..120).map(|i| format!("PGCUT{i}")).collect();
    let sender = {
        let address = app.address.clone();
        let orders = orders.clone();
        tokio::spawn(async move {
            let app = Process::client_at(&address);
            let mut answers: Vec<(String, String, Option<String>)> = Vec::new();
            for chunk in orders.chunks(8) {
                let calls = chunk.iter().map(|id| {
                    let app = &app;
                    async move { (id.clone(), order(app, id).await) }
                });
                for (id, (code, instance)) in futures_util::future::join_all(calls).await {
                    answers.push((id, code, instance));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.cut();
    let mut polls = Vec::new();
    let cut_at = std::time::Instant::now();
    while cut_at.elapsed() < Duration::from_secs(3) {
        let started = std::time::Instant::now();
        let (status, _) = readiness(&app).await;
        polls.push((status, started.elapsed()));
    }
    relay.reconnect();
    let answers = sender.await.expect("sender");

    let worst = polls.iter().map(|(_, took)| *took).max().expect("polled");
    eprintln!("/readyz during the cut: {} polls, the slowest {worst:?}", polls.len());
    assert!(polls.iter().all(|(status, _)| *status == 503), "{polls:?}");
    assert!(worst < Duration::from_secs(1), "/readyz answers within a second: {polls:?}");

    let codes: Vec<&str> = answers.iter().map(|(_, code, _)| code.as_str()).collect();
    assert!(
        codes.iter().all(|c| ["000000", "000004", "000005"].contains(c)),
        "only retryable refusals: {codes:?}"
    );
    assert!(codes.iter().any(|c| *c != "000000"), "the cut was felt: {codes:?}");
    let mut answered: HashMap<String, String> = HashMap::new();
    for (id, code, instance) in &answers {
        if code == "000000" {
            answered.insert(id.clone(), instance.clone().expect("instance"));
        }
    }
    // The marketplace retries the rest once the database is back.
    for id in &orders {
        if answered.contains_key(id) {
            continue;
        }
        for _ in 0..50 {
            if let (code, Some(instance)) = order(&app, id).await {
                if code == "000000" {
                    answered.insert(id.clone(), instance);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(answered.len(), orders.len(), "every order is eventually answered 000000");
    let missing = missing_through_the_admin_api(&app, &answered).await;
    assert!(missing.is_empty(), "answered 000000 but missing: {missing:?}");
    let db = sea_orm::Database::connect(direct.clone()).await.expect("direct connection");
    use sea_orm::{EntityTrait, PaginatorTrait};
    let stored = entity::instance::Entity::find().count(&db).await.expect("count");
    assert_eq!(stored, orders.len() as u64, "each order stored exactly once");
}

/// `kill -9` while purchases and freezes are being written: after a
/// restart each instance is either absent or whole (its order, and a
/// transition history ending in its status), and everything answered
/// 000000 is there.
#[tokio::test]
async fn kill_9_during_lifecycle_writes_leaves_the_old_or_the_new_state() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("koogate.db").display());
    let process = Process::start(&url, &[]).await;

    // (instanceId, status answered 000000)
    let done: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (app, done) = (Process::client_at(&process.address), done.clone());
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("KILL{worker}-{i}");
                let (code, instance) = order(&app, &id).await;
                let Some(instance) = instance.filter(|_| code == "000000") else { continue };
                done.lock().expect("lock").push((instance.clone(), "active"));
                let freeze = serde_json::json!({"activity": "updateInstanceStatus", "instanceId": instance, "status": "FREEZE"});
                if app.v2(&freeze.to_string()).await.code() == "000000" {
                    done.lock().expect("lock").push((instance, "frozen"));
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    process.kill_hard().await;
    for worker in workers {
        // Each ends in a panic on its refused connection; that is the point.
        let _ = worker.await;
    }
    let done = done.lock().expect("lock").clone();
    assert!(done.len() > 10, "writes were under way: {}", done.len());

    let process = Process::start(&url, &[]).await;
    let app = process.client().await;
    let mut expected: HashMap<String, &str> = HashMap::new();
    for (instance, status) in done {
        let entry = expected.entry(instance).or_insert(status);
        if status == "frozen" {
            *entry = status;
        }
    }
    for (instance, status) in &expected {
        let (code, body) = app.admin_get(&format!("/admin/api/instances/{instance}")).await;
        assert_eq!(code, 200, "{instance} was answered 000000");
        // A freeze answered 000000 is kept. One that was sent but whose
        // answer the kill cut off may have landed or not: the old state or
        // the new one, never anything else.
        let kept = body["status"].as_str().unwrap_or_default();
        let allowed: &[&str] =
            if *status == "frozen" { &["frozen"] } else { &["active", "frozen"] };
        assert!(allowed.contains(&kept), "{instance} answered {status}, kept {kept}: {body}");
    }

    use sea_orm::{EntityTrait, QueryOrder};
    let instances = entity::instance::Entity::find().all(&app.db).await.expect("instances");
    let orders = entity::order::Entity::find().all(&app.db).await.expect("orders");
    let transitions = entity::transition::Entity::find()
        .order_by_asc(entity::transition::Column::Id)
        .all(&app.db)
        .await
        .expect("transitions");
    for instance in &instances {
        let id = &instance.instance_id;
        assert!(orders.iter().any(|o| &o.instance_id == id), "{id} has its order");
        let last = transitions.iter().rfind(|t| &t.instance_id == id);
        assert_eq!(
            last.map(|t| t.to_status.as_str()),
            Some(instance.status.as_str()),
            "{id}: its history ends in its status"
        );
    }
    let known: std::collections::HashSet<&String> =
        instances.iter().map(|i| &i.instance_id).collect();
    assert!(orders.iter().all(|o| known.contains(&o.instance_id)), "no order without its instance");
    assert!(
        transitions.iter().all(|t| known.contains(&t.instance_id)),
        "no transition without its instance"
    );
}
