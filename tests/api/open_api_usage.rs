//! Usage metering: the vendor's app posts what a pay-per-use instance
//! consumed; koogate keeps it and pushes it to the marketplace (the Open
//! API sim) once per record, whatever happens on the way.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::helpers::*;

struct Metered {
    app: TestApp,
    sim_url: String,
    instance_id: String,
}

/// An app and the sim, with one instance bought as `charging_mode` whose
/// order details have arrived.
async fn metered(charging_mode: &str) -> Metered {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let settings = open_api_settings(port);
    let app = spawn_app(Backend::Sqlite, &as_refs(&settings)).await;
    let order_id = random_id("CS");
    plant_order_charged(&sim_url, &order_id, PLANTED_SKU, 1, charging_mode).await;
    let instance_id = buy_order(&app, &order_id).await;
    wait_for_source(&app, &instance_id, "order_query", Duration::from_secs(20)).await;
    Metered { app, sim_url, instance_id }
}

fn hours_ago(hours: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn record(id: &str, instance_id: &str, value: &str) -> Value {
    json!({"id": id, "instanceId": instance_id, "beginTime": hours_ago(2),
           "endTime": hours_ago(1), "value": value})
}

async fn usage_of(app: &TestApp, instance_id: &str) -> Vec<Value> {
    let body: Value = app
        .http
        .get(format!("{}/app-api/v1/usage?instanceId={instance_id}", app.address))
        .bearer_auth(APP_TOKEN)
        .send()
        .await
        .expect("usage list")
        .json()
        .await
        .expect("json");
    body["records"].as_array().cloned().unwrap_or_default()
}

/// Waits until the record `id` is in `state`; returns it.
async fn settled(app: &TestApp, instance_id: &str, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let records = usage_of(app, instance_id).await;
        if let Some(found) = records.iter().find(|r| r["id"] == id && r["state"] == state) {
            return found.clone();
        }
        assert!(Instant::now() < deadline, "{id} never {state}: {records:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pushed_with_sn(stats: &Value, sn: &str) -> Vec<Value> {
    stats["usage"]
        .as_array()
        .map(|all| all.iter().filter(|r| r["metering_sn"] == sn).cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_record_sent_twice_is_stored_and_pushed_once_with_its_value_exact() {
    let m = metered("ON_DEMAND").await;
    let first = record("rec-1", &m.instance_id, "12.3450");
    let (status, answer) = post_usage(&m.app, json!([first, first])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["records"][0], json!({"id": "rec-1", "result": "stored"}));
    assert_eq!(answer["records"][1], json!({"id": "rec-1", "result": "duplicate"}));
    // Later, the same again, and the same id with another value.
    let (_, again) = post_usage(&m.app, json!([first])).await;
    assert_eq!(again["records"][0]["result"], "duplicate");
    let (_, other) = post_usage(&m.app, json!([record("rec-1", &m.instance_id, "99")])).await;
    assert_eq!(other["records"][0]["result"], "conflict");

    let pushed = settled(&m.app, &m.instance_id, "rec-1", "pushed").await;
    assert_eq!(pushed["value"], "12.3450", "kept exactly as sent");
    let sn = pushed["meteringSn"].as_str().expect("sn").to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = sim_stats(&m.sim_url).await;
    let at_marketplace = pushed_with_sn(&stats, &sn);
    assert_eq!(at_marketplace.len(), 1, "{stats}");
    assert_eq!(stats["usageReceipts"][sn.as_str()], 1, "pushed once: {stats}");
    assert_eq!(at_marketplace[0]["usage_value"], "12.3450");
    assert_eq!(at_marketplace[0]["instance_id"], m.instance_id.as_str());
    assert!(at_marketplace[0].get("relate_pkg_instance").is_none());
    assert_eq!(usage_of(&m.app, &m.instance_id).await.len(), 1);
}

#[tokio::test]
async fn a_push_whose_answer_was_lost_is_sent_again_with_the_same_metering_sn() {
    let m = metered("ON_DEMAND").await;
    set_sim_mode(&m.sim_url, json!({"loseAnswers": 1})).await;
    let (status, _) = post_usage(&m.app, json!([record("rec-lost", &m.instance_id, "3")])).await;
    assert_eq!(status, 200);
    let pushed = settled(&m.app, &m.instance_id, "rec-lost", "pushed").await;
    let sn = pushed["meteringSn"].as_str().expect("sn");
    let stats = sim_stats(&m.sim_url).await;
    assert!(stats["usageReceipts"][sn].as_u64().unwrap_or(0) >= 2, "resent: {stats}");
    assert_eq!(pushed_with_sn(&stats, sn).len(), 1, "billed once: {stats}");
}

#[tokio::test]
async fn refused_records_show_the_marketplaces_code_each() {
    let m = metered("ON_DEMAND_PKG").await;
    set_sim_mode(&m.sim_url, json!({"unknownInstances": [m.instance_id]})).await;
    let records =
        json!([record("rec-a", &m.instance_id, "1"), record("rec-b", &m.instance_id, "2"),]);
    assert_eq!(post_usage(&m.app, records).await.0, 200);
    for id in ["rec-a", "rec-b"] {
        let refused = settled(&m.app, &m.instance_id, id, "refused").await;
        assert_eq!(refused["refusalCode"], "MKT.9001", "{refused}");
    }
    let metrics = m
        .app
        .http
        .get(format!("{}/metrics", m.app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("koogate_usage_records{state=\"refused\"}"), "{metrics}");
    // Once the marketplace knows it, a package's usage names the package.
    set_sim_mode(&m.sim_url, json!({})).await;
    post_usage(&m.app, json!([record("rec-c", &m.instance_id, "1")])).await;
    let pushed = settled(&m.app, &m.instance_id, "rec-c", "pushed").await;
    let stats = sim_stats(&m.sim_url).await;
    let sent = pushed_with_sn(&stats, pushed["meteringSn"].as_str().expect("sn"));
    assert_eq!(sent[0]["relate_pkg_instance"], m.instance_id.as_str());
}

#[tokio::test]
async fn bad_records_are_refused_precisely_and_change_nothing() {
    let m = metered("ON_DEMAND").await;
    let good = record("rec-good", &m.instance_id, "1");
    let cases = [
        (record("rec-x", &m.instance_id, "1.23456"), "records[1].value"),
        (record("rec-x", &m.instance_id, "-1"), "records[1].value"),
        (record("rec-x", "no-such-instance", "1"), "records[1].instanceId"),
        (
            json!({"id": "rec-x", "instanceId": m.instance_id, "beginTime": hours_ago(1),
                   "endTime": hours_ago(2), "value": "1"}),
            "records[1].endTime",
        ),
        (
            json!({"id": "rec-x", "instanceId": m.instance_id, "beginTime": hours_ago(24 * 22),
                   "endTime": hours_ago(1), "value": "1"}),
            "records[1].beginTime",
        ),
    ];
    for (bad, field) in cases {
        let (status, answer) = post_usage(&m.app, json!([good, bad])).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "invalid_request");
        assert!(answer["message"].as_str().unwrap_or("").contains(field), "{answer}");
    }
    assert!(usage_of(&m.app, &m.instance_id).await.is_empty(), "nothing stored");
    // A yearly instance is not metered.
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let settings = open_api_settings(port);
    let app = spawn_app(Backend::Sqlite, &as_refs(&settings)).await;
    let order_id = random_id("CS");
    plant_order(&sim_url, &order_id, PLANTED_SKU, 1).await;
    let yearly = buy_order(&app, &order_id).await;
    wait_for_source(&app, &yearly, "order_query", Duration::from_secs(20)).await;
    let (status, answer) = post_usage(&app, json!([record("rec-y", &yearly, "1")])).await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap_or("").contains("pay-per-use"), "{answer}");
    // Without the app's token nothing is taken.
    let response = app
        .http
        .post(format!("{}/app-api/v1/usage", app.address))
        .json(&json!({"records": [record("rec-z", &yearly, "1")]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn three_replicas_push_each_record_once() {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let settings = open_api_settings(port);
    let refs = as_refs(&settings);
    let Some(first) = spawn_postgres_app(&refs).await else { return };
    let second = first.replica(&refs).await;
    let third = first.replica(&refs).await;
    let order_id = random_id("CS");
    plant_order_charged(&sim_url, &order_id, PLANTED_SKU, 1, "ON_DEMAND").await;
    let instance_id = buy_order(&first, &order_id).await;
    wait_for_source(&first, &instance_id, "order_query", Duration::from_secs(30)).await;
    // 250 records, posted through all three: more than two batches' worth.
    for (n, app) in [&first, &second, &third].iter().cycle().take(5).enumerate() {
        let records: Vec<Value> =
            (0..50).map(|i| record(&format!("rep-{n}-{i}"), &instance_id, "0.25")).collect();
        assert_eq!(post_usage(app, json!(records)).await.0, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = sim_stats(&sim_url).await;
        if stats["usage"].as_array().map_or(0, Vec::len) == 250 {
            let receipts = stats["usageReceipts"].as_object().expect("receipts");
            assert_eq!(receipts.len(), 250);
            assert!(receipts.values().all(|n| n == 1), "a record was pushed twice: {receipts:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
