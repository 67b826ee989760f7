//! The seller Open API side of a test: `koogate sim open-api` served
//! in-process over real HTTP, what to tell it, and koogate's settings to
//! reach it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use koogate::sim::open_api::{self as sim, Config};
use serde_json::{json, Value};

use super::app::{TestApp, ACCESS_KEY};
use super::marketplace::{new_instance_body, random_id};

pub const OPEN_API_AK: &str = "OPENAPI-TEST-OPEN_API_AK-7777";
pub const OPEN_API_SK: &str = "open-api-test-secret-key-do-not-log-9999";
pub const APP_TOKEN: &str = "app-api-token-open-api-tests-0123456789";
pub const PLANTED_SKU: &str = "sku-planted-0001";

pub fn start_open_api_sim(port: u16, secret: &str, rate_limit: u32) -> String {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the sim");
    let config = Config {
        access_key_id: OPEN_API_AK.to_string(),
        secret_access_key: secret.to_string(),
        koogallery_key: ACCESS_KEY.to_string(),
        rate_limit,
    };
    tokio::spawn(sim::serve(listener, config).expect("sim serves"));
    format!("http://127.0.0.1:{port}")
}

pub fn open_api_settings(sim_port: u16) -> Vec<(String, String)> {
    [
        ("open_api.base_url", format!("http://127.0.0.1:{sim_port}")),
        ("open_api.access_key_id", OPEN_API_AK.to_string()),
        ("open_api.secret_access_key", OPEN_API_SK.to_string()),
        ("open_api.timeout_ms", "1000".to_string()),
        ("open_api.retry_base_ms", "100".to_string()),
        ("open_api.poll_ms", "100".to_string()),
        ("upstream.api_token", APP_TOKEN.to_string()),
        // Events pile up in the outbox (nobody listens there): the test reads them.
        ("upstream.webhook_url", "http://127.0.0.1:9/hooks".to_string()),
        ("upstream.webhook_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn as_refs(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Tells the sim what the marketplace knows about an order.
pub async fn plant_order(sim_url: &str, order_id: &str, sku: &str, seats: i64) {
    plant_order_charged(sim_url, order_id, sku, seats, "PERIOD").await;
}

/// As [`plant_order`], charged as `charging_mode` (`ON_DEMAND`…).
pub async fn plant_order_charged(
    sim_url: &str,
    order_id: &str,
    sku: &str,
    seats: i64,
    charging_mode: &str,
) {
    let order = json!({
        "orderId": order_id, "orderType": "NEW", "createTime": "20261126080000",
        "orderLine": [{
            "orderLineId": format!("{order_id}-000001"), "chargingMode": charging_mode,
            "periodType": "month", "periodNumber": 3, "expireTime": "20270226235959",
            "productInfo": [{"productId": "OFFI-PLANTED", "skuCode": sku, "linearValue": seats,
                             "productName": "Planted, team edition"}],
            "currency": "300", "currencyAfterDiscount": "270"}],
        "buyerInfo": {"customerId": "c0ffee", "customerName": "buyer-name-secret",
                      "mobilePhone": "13900001111", "email": "buyer@example.com"},
    });
    tell_sim_order(sim_url, &order).await;
}

/// Tells the sim what order/query answers for `order["orderId"]` from now on.
pub async fn tell_sim_order(sim_url: &str, order: &Value) {
    let status = reqwest::Client::new()
        .post(format!("{sim_url}/sim/orders"))
        .json(order)
        .send()
        .await
        .expect("sim reached")
        .status();
    assert_eq!(status.as_u16(), 204);
}

pub async fn set_sim_mode(sim_url: &str, mode: Value) {
    reqwest::Client::new()
        .put(format!("{sim_url}/sim/mode"))
        .json(&mode)
        .send()
        .await
        .expect("sim reached");
}

pub async fn sim_stats(sim_url: &str) -> Value {
    reqwest::get(format!("{sim_url}/sim/stats")).await.expect("sim").json().await.expect("json")
}

/// `GET /app-api/v1/instances/{id}` as the vendor's app.
pub async fn app_instance(app: &TestApp, instance_id: &str) -> (u16, Value) {
    let response = app
        .http
        .get(format!("{}/app-api/v1/instances/{instance_id}", app.address))
        .bearer_auth(APP_TOKEN)
        .send()
        .await
        .expect("app api");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Buys a fresh V2 ids-only order; returns (orderId, instanceId, how long the answer took).
pub async fn buy_ids_only(app: &TestApp) -> (String, String, Duration) {
    let order_id = random_id("CS");
    let business_id = random_id("biz-");
    let started = Instant::now();
    let reply = app.v2(&new_instance_body(&order_id, &business_id)).await;
    let took = started.elapsed();
    assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    (order_id, business_id, took)
}

pub async fn wait_for_source(
    app: &TestApp,
    instance_id: &str,
    source: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = app_instance(app, instance_id).await;
        assert_eq!(status, 200, "{body}");
        if body["entitlement"]["source"] == source {
            return body;
        }
        assert!(Instant::now() < deadline, "entitlement still {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A V2 ids-only purchase of `order_id`; its instance id.
pub async fn buy_order(app: &TestApp, order_id: &str) -> String {
    let instance_id = random_id("biz-");
    let reply = app.v2(&new_instance_body(order_id, &instance_id)).await;
    assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    instance_id
}

/// An order as the sim should answer it: `lines` lines of the planted
/// product, `seats` each.
pub fn planted_order(
    order_id: &str,
    order_type: &str,
    sku: &str,
    seats: i64,
    lines: usize,
) -> Value {
    let lines: Vec<Value> = (1..=lines)
        .map(|n| {
            json!({
                "orderLineId": format!("{order_id}-{n:06}"), "chargingMode": "PERIOD",
                "periodType": "month", "periodNumber": 3, "expireTime": "20991231235959",
                "productInfo": [{"productId": "OFFI-PLANTED", "skuCode": sku, "linearValue": seats,
                                 "productName": "Planted"}]})
        })
        .collect();
    json!({"orderId": order_id, "orderType": order_type, "createTime": "20261126090000",
           "orderLine": lines})
}

/// `GET /admin/api/drift`: the findings.
pub async fn drift_of(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.admin_get("/admin/api/drift").await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

/// Runs `koogate reconcile` against the sim once; its standard output
/// and error.
pub async fn reconcile_once(app: &TestApp, sim_url: &str) -> (String, String) {
    let mut command = std::process::Command::new(super::KOOGATE);
    command
        .arg("reconcile")
        .env("KOOGATE__DATABASE__URL", &app.database_url)
        .env("KOOGATE__OPEN_API__BASE_URL", sim_url)
        .env("KOOGATE__OPEN_API__ACCESS_KEY_ID", OPEN_API_AK)
        .env("KOOGATE__OPEN_API__SECRET_ACCESS_KEY", OPEN_API_SK);
    let run =
        tokio::task::spawn_blocking(move || command.output().expect("koogate reconcile runs"))
            .await
            .expect("joined");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stdout} {stderr}");
    (stdout, stderr)
}

/// Five purchases koogate and the marketplace first agree on, then each
/// kind of drift planted in the sim, one per instance: `(orderId,
/// instanceId)` of `[sku, seats, renewed, unsubscribed, unseen]` (the
/// renewed one frozen here).
pub async fn plant_each_kind_of_drift(app: &TestApp, sim_url: &str) -> [(String, String); 5] {
    let mut bought = Vec::new();
    for _ in 0..5 {
        let order_id = random_id("CS");
        tell_sim_order(sim_url, &planted_order(&order_id, "NEW", PLANTED_SKU, 10, 1)).await;
        let instance_id = buy_order(app, &order_id).await;
        wait_for_source(app, &instance_id, "order_query", Duration::from_secs(20)).await;
        bought.push((order_id, instance_id));
    }
    let [sku, seats, renewed, unsubscribed, unseen] = bought.clone().try_into().expect("five");
    app.set_instance_status(&renewed.1, "FREEZE").await;
    tell_sim_order(sim_url, &planted_order(&sku.0, "CHANGE", "sku-other", 10, 1)).await;
    tell_sim_order(sim_url, &planted_order(&seats.0, "CHANGE", PLANTED_SKU, 20, 1)).await;
    tell_sim_order(sim_url, &planted_order(&unsubscribed.0, "UNSUBSCRIBE", PLANTED_SKU, 10, 1))
        .await;
    tell_sim_order(sim_url, &planted_order(&unseen.0, "NEW", PLANTED_SKU, 10, 2)).await;
    [sku, seats, renewed, unsubscribed, unseen]
}

/// `POST /app-api/v1/usage` as the vendor's app.
pub async fn post_usage(app: &TestApp, records: Value) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/app-api/v1/usage", app.address))
        .bearer_auth(APP_TOKEN)
        .json(&json!({ "records": records }))
        .send()
        .await
        .expect("usage post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
