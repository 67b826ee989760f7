//! The seller Open API (protocol §9) against `koogate sim open-api`
//! served in-process over real HTTP: order details arrive behind the
//! purchase, whatever state the marketplace is in, and survive restarts.

use std::time::{Duration, Instant};

use chrono::Utc;
use koogate::open_api::signer;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::*;

async fn purchase_is_answered_while_the_open_api_is_down_and_the_plan_arrives_later(
    backend_app: impl std::future::Future<Output = Option<TestApp>>,
    sim_port: u16,
) {
    let Some(app) = backend_app.await else { return };
    let (order_id, instance_id, took) = buy_ids_only(&app).await;
    assert!(took < Duration::from_secs(2), "the purchase waited {took:?}");
    let (status, body) = app_instance(&app, &instance_id).await;
    assert_eq!(status, 200);
    assert_eq!(body["entitlement"]["source"], "pending", "{body}");
    assert_eq!(body["status"], "active");
    // The marketplace comes back.
    let sim_url = start_open_api_sim(sim_port, OPEN_API_SK, 0);
    plant_order(&sim_url, &order_id, PLANTED_SKU, 25).await;
    let body = wait_for_source(&app, &instance_id, "order_query", Duration::from_secs(20)).await;
    let e = &body["entitlement"];
    assert_eq!(e["skuCode"], PLANTED_SKU);
    assert_eq!(e["productId"], "OFFI-PLANTED");
    assert_eq!(e["productName"], "Planted, team edition");
    assert_eq!(e["quantity"], 25);
    assert_eq!(e["chargingMode"], "PERIOD");
    assert_eq!(e["periodType"], "month");
    assert_eq!(e["periodNumber"], 3);
    assert_eq!(e["trial"], false);
    assert_eq!(body["instanceId"], instance_id.as_str());
    // The operator sees it too.
    let admin = app.instance(&instance_id).await;
    assert_eq!(admin["entitlement"]["skuCode"], PLANTED_SKU);
    // The vendor's app is told, once, with the plan before and after.
    let events = entity::outbox::Entity::find()
        .filter(entity::outbox::Column::EventType.eq("instance.entitlement_changed"))
        .all(&app.db)
        .await
        .expect("outbox");
    assert_eq!(events.len(), 1);
    let data: Value = serde_json::from_str(&events[0].payload).expect("payload");
    assert_eq!(data["before"]["source"], "pending");
    assert_eq!(data["after"]["skuCode"], PLANTED_SKU);
    // The buyer's contact details are sealed, never in an event or an answer.
    for shown in [events[0].payload.clone(), body.to_string(), admin.to_string()] {
        for secret in
            ["buyer-name-secret", "13900001111", "buyer@example.com", OPEN_API_SK, OPEN_API_AK]
        {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
    }
    let lines = entity::order_line::Entity::find().all(&app.db).await.expect("lines");
    assert_eq!(lines.len(), 1);
    assert!(!lines[0].raw_answer.contains("buyer-name-secret"));
    assert!(lines[0].buyer_sealed.as_deref().is_some_and(|b| !b.contains("buyer-name-secret")));
    assert_eq!(lines[0].currency_after_discount.as_deref(), Some("270"));
    // Fetched once.
    assert_eq!(sim_stats(&sim_url).await["orderQueries"][order_id.as_str()], 1);
}

#[tokio::test]
async fn down_then_up_on_sqlite() {
    let port = free_port();
    let settings = open_api_settings(port);
    let app = async { Some(spawn_app(Backend::Sqlite, &as_refs(&settings)).await) };
    purchase_is_answered_while_the_open_api_is_down_and_the_plan_arrives_later(app, port).await;
}

#[tokio::test]
async fn down_then_up_on_postgres() {
    let port = free_port();
    let settings = open_api_settings(port);
    let refs = as_refs(&settings);
    let app = spawn_postgres_app(&refs);
    purchase_is_answered_while_the_open_api_is_down_and_the_plan_arrives_later(app, port).await;
}

#[tokio::test]
async fn a_30_second_answer_does_not_hold_the_purchase() {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    set_sim_mode(&sim_url, json!({"delayMs": 30_000})).await;
    let settings = open_api_settings(port);
    let app = spawn_app(Backend::Sqlite, &as_refs(&settings)).await;
    let (order_id, instance_id, took) = buy_ids_only(&app).await;
    assert!(took < Duration::from_secs(2), "the purchase waited {took:?}");
    plant_order(&sim_url, &order_id, PLANTED_SKU, 5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app_instance(&app, &instance_id).await.1["entitlement"]["source"], "pending");
    set_sim_mode(&sim_url, json!({})).await;
    let body = wait_for_source(&app, &instance_id, "order_query", Duration::from_secs(20)).await;
    assert_eq!(body["entitlement"]["quantity"], 5);
}

#[tokio::test]
async fn refused_credentials_show_on_readyz_without_failing_it() {
    let port = free_port();
    // The sim knows another secret: every signature is refused.
    let sim_url = start_open_api_sim(port, "the-marketplace-knows-another-secret", 0);
    let settings = open_api_settings(port);
    let app = spawn_app(Backend::Sqlite, &as_refs(&settings)).await;
    let (order_id, instance_id, took) = buy_ids_only(&app).await;
    assert!(took < Duration::from_secs(2));
    plant_order(&sim_url, &order_id, PLANTED_SKU, 5).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response =
            app.http.get(format!("{}/readyz", app.address)).send().await.expect("readyz");
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().await.expect("json");
        if body["open_api"] == "credentials refused" {
            assert!(!body.to_string().contains(OPEN_API_SK));
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app_instance(&app, &instance_id).await.1["entitlement"]["source"], "pending");
    // Not retried within a call: the sim saw refusals, one per fetch round.
    assert!(sim_stats(&sim_url).await["refused"].as_u64().unwrap_or(0) >= 1);
    // Nothing the marketplace sees or the app logs names the secret.
    for event in app.events().await {
        assert!(!format!("{event:?}").contains(OPEN_API_SK));
    }
}

#[tokio::test]
async fn the_sim_refuses_a_changed_byte_and_a_stale_date_as_the_marketplace_does() {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let http = reqwest::Client::new();
    let send = |url: String, headers: Vec<(String, String)>| {
        let mut request = http.get(url);
        for (n, v) in headers {
            request = request.header(n, v);
        }
        request.send()
    };
    let url =
        format!("{sim_url}/api/mkp-openapi-public/global/v1/order/query?orderId=MOCKPERIODYEARNEW");
    let ct = vec![("Content-Type".to_string(), "application/json".to_string())];
    let signed =
        signer::sign("GET", &url, &ct, b"", OPEN_API_AK, OPEN_API_SK, Utc::now()).expect("signs");
    let ok = send(signed.url.clone(), signed.headers.clone()).await.expect("sent");
    assert_eq!(ok.status().as_u16(), 200);
    let body: Value = ok.json().await.expect("json");
    assert_eq!(body["resultCode"], "MKT.0000");
    assert_eq!(body["orderInfo"]["orderLine"][0]["chargingMode"], "PERIOD");
    assert_eq!(body["orderInfo"]["orderLine"][0]["periodType"], "year");
    // One byte of the query changed after signing.
    let changed = signed.url.replace("MOCKPERIODYEARNEW", "MOCKPERIODYEARNEX");
    let refused = send(changed, signed.headers.clone()).await.expect("sent");
    assert_eq!(refused.status().as_u16(), 401);
    let refused: Value = refused.json().await.expect("json");
    assert_eq!(refused["error_code"], "APIGW.0301");
    // A signature made 20 minutes ago.
    let stale = signer::sign(
        "GET",
        &url,
        &ct,
        b"",
        OPEN_API_AK,
        OPEN_API_SK,
        Utc::now() - chrono::Duration::minutes(20),
    )
    .expect("signs");
    assert_eq!(send(stale.url, stale.headers).await.expect("sent").status().as_u16(), 401);
    // An unknown order.
    let unknown = format!("{sim_url}/api/mkp-openapi-public/global/v1/order/query?orderId=NOPE");
    let signed = signer::sign("GET", &unknown, &ct, b"", OPEN_API_AK, OPEN_API_SK, Utc::now())
        .expect("signs");
    let answer: Value =
        send(signed.url, signed.headers).await.expect("sent").json().await.expect("json");
    assert_eq!(answer["resultCode"], "MKT.9001");
}

#[tokio::test]
async fn without_keys_koogate_calls_nobody_and_says_so() {
    let app = spawn_app(Backend::Sqlite, &[("upstream.api_token", APP_TOKEN)]).await;
    let (_, instance_id, _) = buy_ids_only(&app).await;
    let body: Value = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(body["open_api"], "not configured");
    let queued = entity::order_fetch::Entity::find().all(&app.db).await.expect("fetches");
    assert!(queued.is_empty(), "{queued:?}");
    assert_eq!(app_instance(&app, &instance_id).await.1["entitlement"]["source"], "pending");
}

#[tokio::test]
async fn three_replicas_fetch_each_order_once() {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let settings = open_api_settings(port);
    let refs = as_refs(&settings);
    let Some(first) = spawn_postgres_app(&refs).await else { return };
    let second = first.replica(&refs).await;
    let third = first.replica(&refs).await;
    let mut bought = Vec::new();
    for (i, app) in [&first, &second, &third].iter().cycle().take(15).enumerate() {
        // Known to the marketplace before the purchase reaches koogate, as
        // in life: asked a moment earlier the sim refuses the order for good.
        let order_id = random_id("CS");
        plant_order(&sim_url, &order_id, PLANTED_SKU, i as i64 + 1).await;
        let instance_id = buy_order(app, &order_id).await;
        bought.push((order_id, instance_id));
    }
    for (_, instance_id) in &bought {
        wait_for_source(&first, instance_id, "order_query", Duration::from_secs(30)).await;
    }
    let stats = sim_stats(&sim_url).await;
    for (order_id, _) in &bought {
        assert_eq!(stats["orderQueries"][order_id.as_str()], 1, "{order_id}: {stats}");
    }
}

#[tokio::test]
async fn a_restart_between_purchase_and_answer_loses_nothing() {
    // The first process queues while the marketplace is unreachable for
    // it; a second process on the same database, which can reach it,
    // fetches what the first queued.
    let dead = free_port();
    let dead_settings = open_api_settings(dead);
    let Some(first) = spawn_postgres_app(&as_refs(&dead_settings)).await else { return };
    let (order_id, instance_id, _) = buy_ids_only(&first).await;
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    plant_order(&sim_url, &order_id, PLANTED_SKU, 9).await;
    let live_settings = open_api_settings(port);
    let second = first.replica(&as_refs(&live_settings)).await;
    let body = wait_for_source(&second, &instance_id, "order_query", Duration::from_secs(30)).await;
    assert_eq!(body["entitlement"]["quantity"], 9);
}
