//! Bad input is answered precisely, changes nothing and is recorded with
//! its code.

use serde_json::json;

use crate::helpers::*;

async fn authentication_failures_answer_000001(app: TestApp) {
    let body = || new_instance_body(&random_id("CS"), &random_id("biz-")).into_bytes();
    let now = chrono::Utc::now().timestamp_millis();
    refused(
        &app,
        "wrong key",
        "000001",
        app.v2_with(body(), V2Options { key: "not-the-key".into(), ..V2Options::default() }),
    )
    .await;
    refused(
        &app,
        "signature over other bytes",
        "000001",
        app.v2_with(body(), V2Options { signed_bytes: Some(body()), ..V2Options::default() }),
    )
    .await;
    refused(
        &app,
        "timestamp 3 minutes old",
        "000001",
        app.v2_with(body(), V2Options { timestamp_ms: now - 180_000, ..V2Options::default() }),
    )
    .await;
    refused(
        &app,
        "timestamp 3 minutes ahead",
        "000001",
        app.v2_with(body(), V2Options { timestamp_ms: now + 180_000, ..V2Options::default() }),
    )
    .await;

    let nonce = random_nonce();
    let first =
        app.v2_with(body(), V2Options { nonce: nonce.clone(), ..V2Options::default() }).await;
    assert_eq!(first.code(), "000000");
    refused(
        &app,
        "reused nonce",
        "000001",
        app.v2_with(body(), V2Options { nonce, ..V2Options::default() }),
    )
    .await;

    let unsigned =
        app.http.post(format!("{}{}", app.address, app.marketplace_path)).body(body()).send();
    refused(&app, "no signature at all", "000001", async {
        reply(unsigned.await.expect("sent")).await
    })
    .await;
}
on_both_backends!(authentication_failures_answer_000001);

async fn invalid_parameters_answer_000002(app: TestApp) {
    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let cases: Vec<(&str, String)> = vec![
        ("malformed JSON", "{\"activity\": \"newInstance\", ".to_string()),
        ("not an object", "[1,2]".to_string()),
        ("unknown activity", json!({"activity": "teleportInstance", "instanceId": id}).to_string()),
        ("unknown scene", json!({"activity": "refreshInstance", "instanceId": id, "orderId": "O", "orderLineId": "L",
            "scene": "FOREVER", "expireTime": "20300101000000"}).to_string()),
        ("unknown status", json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "PAUSE"}).to_string()),
        ("missing field", json!({"activity": "newInstance", "orderId": "O", "businessId": "B"}).to_string()),
        ("field over its length", json!({"activity": "newInstance", "orderId": "O".repeat(65),
            "orderLineId": "L", "businessId": "B"}).to_string()),
        ("malformed expireTime", json!({"activity": "refreshInstance", "instanceId": id, "orderId": "O", "orderLineId": "L",
            "scene": "RENEWAL", "expireTime": "2030-01-01 00:00:00"}).to_string()),
        ("impossible expireTime", json!({"activity": "refreshInstance", "instanceId": id, "orderId": "O", "orderLineId": "L",
            "scene": "RENEWAL", "expireTime": "20301341000000"}).to_string()),
        ("101 ids in a query", json!({"activity": "queryInstance",
            "instanceId": (0..101).map(|i| format!("i{i}")).collect::<Vec<_>>().join(",")}).to_string()),
        ("bad testFlag", json!({"activity": "queryInstance", "instanceId": id, "testFlag": "7"}).to_string()),
        ("change check without productInfo", json!({"activity": "changeInstanceCheck", "instanceId": id}).to_string()),
    ];
    for (what, body) in cases {
        refused(&app, what, "000002", app.v2(&body)).await;
    }
    let huge =
        format!("{{\"activity\":\"newInstance\",\"pad\":\"{}\"}}", "x".repeat(3 * 1024 * 1024));
    refused(&app, "a 3 MiB body", "000002", app.v2(&huge)).await;
}
on_both_backends!(invalid_parameters_answer_000002);

async fn unknown_or_released_instances_answer_000003(app: TestApp) {
    let (_, bought) = app.buy().await;
    let released = bought.json["instanceId"].as_str().expect("id").to_string();
    let release = json!({"activity": "releaseInstance", "instanceId": released}).to_string();
    assert_eq!(app.v2(&release).await.code(), "000000");

    for id in ["no-such-instance", released.as_str()] {
        let renewal = json!({"activity": "refreshInstance", "instanceId": id, "orderId": random_id("CS"),
            "orderLineId": "L-1", "scene": "RENEWAL", "expireTime": "20300101000000"});
        refused(&app, "renewal", "000003", app.v2(&renewal.to_string())).await;
        let upgrade = json!({"activity": "upgradeInstance", "instanceId": id, "orderId": random_id("CS"), "orderLineId": "L-1"});
        refused(&app, "upgrade", "000003", app.v2(&upgrade.to_string())).await;
        let status =
            json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"});
        refused(&app, "status change", "000003", app.v2(&status.to_string())).await;
        let check = json!({"activity": "changeInstanceCheck", "instanceId": id, "productInfo": {"skuCode": "s"}});
        refused(&app, "change check", "000003", app.v2(&check.to_string())).await;
        let query = json!({"activity": "queryInstance", "instanceId": id});
        refused(&app, "query", "000003", app.v2(&query.to_string())).await;
    }
    let unknown_release = json!({"activity": "releaseInstance", "instanceId": "no-such-instance"});
    refused(&app, "release of an unknown instance", "000003", app.v2(&unknown_release.to_string()))
        .await;
}
on_both_backends!(unknown_or_released_instances_answer_000003);

async fn no_configured_key_refuses_everything(app: TestApp) {
    let reply = app.v2(&new_instance_body(&random_id("CS"), &random_id("biz-"))).await;
    assert_eq!(reply.code(), "000001");
    assert!(reply.headers.get("body-sign").is_none(), "nothing to sign with");
    assert_eq!(app.footprint().await["instances"], 0);
}
on_both_backends!(no_configured_key_refuses_everything, &[("marketplace.access_key", "")]);

async fn rotated_keys_verify_and_the_first_signs(app: TestApp) {
    // The marketplace still signs with the old key during the rotation.
    let reply = app.v2(&new_instance_body(&random_id("CS"), &random_id("biz-"))).await;
    assert_eq!(reply.code(), "000000");
    reply.assert_signed_with("the-new-key");
}
on_both_backends!(
    rotated_keys_verify_and_the_first_signs,
    &[("marketplace.access_key", "the-new-key, 9fa6c870-8bb0-4e9b-b71e-4c223300156f")]
);
