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
async fn missing_through_the_admin_api(app: &TestApp, answered: &HashMap<String, String>) -> Vec<String> {
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
    let mut note = |order_id: &str, (code, instance): (String, Option<String>), refused: &mut Vec<String>| {
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
    let (ready_after, _) = readiness(&app).await;

    let odd: Vec<&String> = codes.iter().filter(|c| !["000000", "000004", "000005"].contains(&c.as_str())).collect();
    assert!(odd.is_empty(), "only retryable refusals: {odd:?}");
    assert!(refused_while_full > 0, "the disk really was full: every call succeeded");
    let missing = missing_through_the_admin_api(&app, &answered).await;
    assert!(
        missing.is_empty(),
        "answered 000000 but missing from the running process: {missing:?}\ncodes: {codes:?}\n{}",
        process.log_text()
    );
    assert!(refused.is_empty(), "orders after the fault succeed: {refused:?}\ncodes: {codes:?}\n{}", process.log_text());
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
    assert!(missing.is_empty(), "answered 000000 but gone after a clean restart: {missing:?}\n{log}");
    use sea_orm::{EntityTrait, PaginatorTrait};
    let stored = entity::instance::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(stored, answered.len() as u64, "each order stored exactly once");

    assert_eq!(ready_while_full, 503, "readiness says the disk is full: {ready_body}");
    assert_eq!(ready_body["database"], "unavailable", "{ready_body}");
    assert_eq!(ready_after, 200, "readiness recovers by itself once space returns");
}
