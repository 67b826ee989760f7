//! An operator applies the marketplace's version of what reconciliation
//! found, one finding at a time; and reads where reported usage stands.
//! Drift is planted in the Open API sim; `koogate reconcile` finds it.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn an_operator_applies_each_kind_of_drift_on_sqlite() {
    each_kind_of_drift_is_applied(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_operator_applies_each_kind_of_drift_on_postgres() {
    each_kind_of_drift_is_applied(Backend::Postgres).await;
}

async fn each_kind_of_drift_is_applied(backend: Backend) {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let mut settings = open_api_settings(port);
    settings.push(("open_api.reconcile_interval_secs".to_string(), "0".to_string()));
    let Some(app) = spawn_with(backend, &settings).await else { return };
    let [sku, seats, renewed, unsubscribed, unseen] =
        plant_each_kind_of_drift(&app, &sim_url).await;
    let (summary, _) = reconcile_once(&app, &sim_url).await;
    assert!(summary.contains("5 with drift"), "{summary}");
    let drift = drift_of(&app).await;
    assert_eq!(drift.len(), 5, "{drift:?}");
    let id_of = |instance_id: &str| {
        drift.iter().find(|d| d["instanceId"] == instance_id).expect("a finding")["id"]
            .as_i64()
            .expect("an id")
    };

    // Refused: without the token, an unknown finding. Nothing changes.
    let footprint = app.footprint().await;
    let anonymous = app
        .http
        .post(format!("{}/admin/api/drift/{}/apply", app.address, id_of(&sku.1)))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    let (status, body) = app.admin_post("/admin/api/drift/987654321/apply").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{body}");
    let (status, _) = app.admin_post("/admin/api/drift/not-a-number/apply").await;
    assert_eq!(status, 404);
    assert_eq!(drift_of(&app).await.len(), 5);
    assert_eq!(app.footprint().await, footprint);
    assert_eq!(app_instance(&app, &sku.1).await.1["entitlement"]["skuCode"], PLANTED_SKU);

    // A different SKU: the marketplace's order line replaces koogate's.
    let apply = |id: i64| {
        let app = &app;
        async move { app.admin_post(&format!("/admin/api/drift/{id}/apply")).await }
    };
    let (status, body) = apply(id_of(&sku.1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "sku_differs");
    assert_eq!(body["before"]["entitlement"]["skuCode"], PLANTED_SKU);
    assert_eq!(body["after"]["entitlement"]["skuCode"], "sku-other");
    assert_eq!(app_instance(&app, &sku.1).await.1["entitlement"]["skuCode"], "sku-other");
    assert_eq!(app.instance(&sku.1).await["skuCode"], "sku-other");
    // Applied once: the finding is resolved.
    let (status, _) = apply(id_of(&sku.1)).await;
    assert_eq!(status, 404);

    // A different quantity.
    let (status, body) = apply(id_of(&seats.1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app_instance(&app, &seats.1).await.1["entitlement"]["quantity"], 20);

    // Renewed there while frozen here: active, with the marketplace's expiry.
    let (status, body) = apply(id_of(&renewed.1)).await;
    assert_eq!(status, 200, "{body}");
    let now = app.instance(&renewed.1).await;
    assert_eq!(
        (now["status"].as_str(), now["expireTime"].as_str()),
        (Some("active"), Some("20991231235959"))
    );

    // Unsubscribed there: released here.
    let (status, body) = apply(id_of(&unsubscribed.1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.instance(&unsubscribed.1).await["status"], "released");
    assert_eq!(app_instance(&app, &unsubscribed.1).await.0, 404);

    // An order line koogate never saw: fetched and stored.
    let (status, body) = apply(id_of(&unseen.1)).await;
    assert_eq!(status, 200, "{body}");
    let line = format!("{}-000002", unseen.0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored = entity::order_line::Entity::find()
            .filter(entity::order_line::Column::OrderLineId.eq(line.as_str()))
            .filter(entity::order_line::Column::InstanceId.eq(unseen.1.as_str()))
            .all(&app.db)
            .await
            .expect("order lines");
        if !stored.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{line} was never fetched");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each is an operator's event: who, what, before and after.
    let applied: Vec<entity::event::Model> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.channel == "operator" && e.activity == "apply_drift")
        .collect();
    assert_eq!(applied.len(), 5, "{applied:?}");
    for event in &applied {
        assert_eq!(event.result_code, "000000");
        let request: Value = serde_json::from_str(&event.request).expect("request");
        assert_eq!(request["operator"], "admin-api");
        let detail: Value =
            serde_json::from_str(event.detail.as_deref().expect("a detail")).expect("detail");
        assert!(detail["before"]["status"].is_string() && detail["after"]["status"].is_string());
    }
    let of_sku = applied.iter().find(|e| e.instance_id.as_deref() == Some(&sku.1)).expect("sku");
    let detail: Value = serde_json::from_str(of_sku.detail.as_deref().unwrap_or("")).expect("json");
    assert_eq!(detail["after"]["entitlement"]["skuCode"], "sku-other");
    // The vendor's app is told of the new plans.
    let told = entity::outbox::Entity::find()
        .filter(entity::outbox::Column::EventType.eq("instance.entitlement_changed"))
        .filter(entity::outbox::Column::InstanceId.is_in([sku.1.clone(), seats.1.clone()]))
        .all(&app.db)
        .await
        .expect("outbox");
    let applied_plans: Vec<Value> = told
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.payload).expect("payload"))
        .filter(|p| p["before"]["source"] == "order_query")
        .map(|p| json!([p["after"]["skuCode"], p["after"]["quantity"]]))
        .collect();
    assert_eq!(applied_plans.len(), 2, "{told:?}");
    assert!(applied_plans.contains(&json!(["sku-other", 10])), "{applied_plans:?}");
    assert!(applied_plans.contains(&json!([PLANTED_SKU, 20])), "{applied_plans:?}");

    // And the marketplace and koogate agree now.
    let (summary, _) = reconcile_once(&app, &sim_url).await;
    assert!(summary.contains("0 with drift"), "{summary}");
    assert_eq!(drift_of(&app).await, Vec::<Value>::new());
}

fn days_ago(days: i64, hours: i64) -> String {
    (Utc::now() - chrono::Duration::days(days) - chrono::Duration::hours(hours))
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn the_usage_page_shows_each_instances_records_refusals_and_those_about_to_age_out() {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let mut settings = open_api_settings(port);
    settings.push(("admin.password_hash".to_string(), admin_password_hash().to_string()));
    let app = spawn_with(Backend::Sqlite, &settings).await.expect("sqlite");
    let order_id = random_id("CS");
    plant_order_charged(&sim_url, &order_id, PLANTED_SKU, 1, "ON_DEMAND").await;
    let instance_id = buy_order(&app, &order_id).await;
    wait_for_source(&app, &instance_id, "order_query", Duration::from_secs(20)).await;
    let record = |id: &str, days: i64| {
        json!({"id": id, "instanceId": instance_id, "beginTime": days_ago(days, 2),
               "endTime": days_ago(days, 1), "value": "1.5"})
    };

    // One record the marketplace refuses, then two it cannot be reached for.
    set_sim_mode(&sim_url, json!({"unknownInstances": [instance_id]})).await;
    assert_eq!(post_usage(&app, json!([record("u-refused", 0)])).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.admin_get("/admin/api/usage?state=refused").await.1["refused"] != 1 {
        assert!(Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    set_sim_mode(&sim_url, json!({"refuseCredentials": true})).await;
    assert_eq!(post_usage(&app, json!([record("u-old", 19), record("u-new", 0)])).await.0, 200);

    let (status, usage) = app.admin_get("/admin/api/usage").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!((usage["pending"].as_u64(), usage["refused"].as_u64()), (Some(2), Some(1)));
    assert_eq!(usage["flagged"], 1);
    assert_eq!(
        usage["instances"],
        json!([{"instanceId": instance_id, "pending": 2, "pushed": 0, "refused": 1, "flagged": 1}])
    );
    let records = usage["records"].as_array().expect("records");
    let by_id = |id: &str| records.iter().find(|r| r["id"] == id).expect(id).clone();
    assert_eq!(by_id("u-refused")["refusalCode"], "MKT.9001");
    assert_eq!(by_id("u-old")["expiring"], true);
    assert_eq!(by_id("u-new")["expiring"], false);
    let (_, refused) =
        app.admin_get(&format!("/admin/api/usage?instance={instance_id}&state=refused")).await;
    let ids: Vec<&Value> =
        refused["records"].as_array().expect("list").iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&json!("u-refused")]);
    let (status, body) = app.admin_get("/admin/api/usage?state=lost").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");

    // The operator's page, in both languages, from the dashboard.
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let dashboard = operator.page("/admin").await;
    assert!(dashboard.body.contains("href=\"/admin/usage?state=pending\""), "{}", dashboard.body);
    assert!(dashboard.body.contains("usage records waiting"), "{}", dashboard.body);
    let page = operator.page("/admin/usage").await;
    for text in ["u-refused", "MKT.9001", "u-old", "ages out soon", &instance_id] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    operator.open("/language?set=zh-CN&next=%2Fadmin%2Fusage").await;
    let page = operator.page("/admin/usage").await;
    assert!(page.body.contains("<html lang=\"zh-CN\">"), "{}", page.body);
    assert!(page.body.contains("您的应用上报的用量") && page.body.contains("MKT.9001"));
}
