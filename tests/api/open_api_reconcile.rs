//! Reconciliation against the Open API sim: each kind of drift planted
//! there is found, reported, and changes nothing here.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn each_kind_of_drift_planted_in_the_marketplace_is_found_and_nothing_changes() {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let mut settings = open_api_settings(port);
    settings.push(("open_api.reconcile_interval_secs".to_string(), "1".to_string()));
    let app = spawn_app(Backend::Sqlite, &as_refs(&settings)).await;
    let bought = plant_each_kind_of_drift(&app, &sim_url).await;
    let [sku, seats, renewed, unsubscribed, unseen] = bought.clone();
    let before: Vec<Value> = {
        let mut all = Vec::new();
        for (_, instance_id) in &bought {
            all.push(app_instance(&app, instance_id).await.1);
        }
        all
    };

    let expected: BTreeSet<(String, &str)> = [
        (sku.1.clone(), "sku_differs"),
        (seats.1.clone(), "quantity_differs"),
        (renewed.1.clone(), "renewed_there"),
        (unsubscribed.1.clone(), "unsubscribed_there"),
        (unseen.1.clone(), "unknown_order"),
    ]
    .into_iter()
    .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        let drift = drift_of(&app).await;
        let found: BTreeSet<(String, &str)> = drift
            .iter()
            .filter_map(|d| {
                let kind = d["kind"].as_str()?;
                let kind = [
                    "sku_differs",
                    "quantity_differs",
                    "renewed_there",
                    "unsubscribed_there",
                    "unknown_order",
                ]
                .into_iter()
                .find(|k| *k == kind)?;
                Some((d["instanceId"].as_str()?.to_string(), kind))
            })
            .collect();
        if found == expected {
            break drift;
        }
        assert!(Instant::now() < deadline, "found {found:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let of = |instance_id: &str| {
        found.iter().find(|d| d["instanceId"] == instance_id).cloned().expect("finding")
    };
    assert_eq!(of(&sku.1)["there"]["skuCode"], "sku-other");
    assert_eq!(of(&sku.1)["here"]["skuCode"], PLANTED_SKU);
    assert_eq!(of(&seats.1)["there"]["quantity"], 20);
    assert_eq!(of(&seats.1)["here"]["quantity"], 10);
    assert_eq!(of(&unseen.1)["there"]["lines"][0]["orderLineId"], format!("{}-000002", unseen.0));

    // Nothing here changed by itself.
    for ((_, instance_id), was) in bought.iter().zip(&before) {
        assert_eq!(&app_instance(&app, instance_id).await.1, was, "{instance_id} changed");
    }
    assert_eq!(app.instance(&renewed.1).await["status"], "frozen");
    assert_eq!(app.instance(&unsubscribed.1).await["status"], "active");

    // Told once per finding, and counted.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = entity::outbox::Entity::find()
        .filter(entity::outbox::Column::EventType.eq("instance.drift_found"))
        .all(&app.db)
        .await
        .expect("outbox");
    assert_eq!(events.len(), 5, "one event per finding, not one per sweep");
    let metrics = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for kind in ["sku_differs", "quantity_differs", "renewed_there", "unsubscribed_there"] {
        assert!(
            metrics.contains(&format!("koogate_drift_findings{{kind=\"{kind}\"}} 1")),
            "{metrics}"
        );
    }
    // Once the marketplace agrees again, the finding goes.
    tell_sim_order(&sim_url, &planted_order(&sku.0, "CHANGE", PLANTED_SKU, 10, 1)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while drift_of(&app).await.iter().any(|d| d["instanceId"] == sku.1.as_str()) {
        assert!(Instant::now() < deadline, "the finding stayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn koogate_reconcile_reports_drift_in_a_summary_and_changes_nothing() {
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let mut settings = open_api_settings(port);
    settings.push(("open_api.reconcile_interval_secs".to_string(), "0".to_string()));
    let app = spawn_app(Backend::Sqlite, &as_refs(&settings)).await;
    let order_id = random_id("CS");
    tell_sim_order(&sim_url, &planted_order(&order_id, "NEW", PLANTED_SKU, 10, 1)).await;
    let instance_id = buy_order(&app, &order_id).await;
    wait_for_source(&app, &instance_id, "order_query", Duration::from_secs(20)).await;
    tell_sim_order(&sim_url, &planted_order(&order_id, "CHANGE", "sku-other", 10, 1)).await;
    let before = app_instance(&app, &instance_id).await.1;
    let (stdout, stderr) = reconcile_once(&app, &sim_url).await;
    assert!(
        stdout.contains(
            "reconciled 1 of 1 live instances: 1 with drift, 1 new findings, 0 not answered, 0 refused"
        ),
        "{stdout}"
    );
    for secret in [OPEN_API_SK, OPEN_API_AK] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    let drift = drift_of(&app).await;
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["kind"], "sku_differs");
    assert_eq!(app_instance(&app, &instance_id).await.1, before, "nothing changed");
}
