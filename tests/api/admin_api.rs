//! The admin JSON API: a contract other tools rely on.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::*;

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

async fn instances_and_events_have_exactly_the_published_fields(app: TestApp) {
    let (order_id, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id");

    let instance = app.instance(id).await;
    let expected: BTreeSet<String> = [
        "instanceId",
        "status",
        "trial",
        "frozenReason",
        "expireTime",
        "orderId",
        "orderLineId",
        "productId",
        "skuCode",
        "customerId",
        "tenantId",
        "testFlag",
        "createdAt",
        "updatedAt",
        "entitlement",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(&instance), expected);
    assert!(instance["trial"].is_boolean() && instance["testFlag"].is_boolean());
    for stamp in ["createdAt", "updatedAt"] {
        let text = instance[stamp].as_str().expect("string");
        assert!(text.ends_with('Z'), "{stamp} is UTC: {text}");
        assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{stamp} is RFC 3339: {text}");
    }

    let (status, list) =
        app.admin_get(&format!("/admin/api/instances?orderId={order_id}&status=active")).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().expect("list").len(), 1);
    let (_, none) =
        app.admin_get(&format!("/admin/api/instances?orderId={order_id}&status=frozen")).await;
    assert_eq!(none.as_array().expect("list").len(), 0);
    let (status, _) = app.admin_get("/admin/api/instances?status=sleeping").await;
    assert_eq!(status, 400);

    let (status, events) = app.admin_get("/admin/api/events?limit=1").await;
    assert_eq!(status, 200);
    let events = events.as_array().expect("list");
    assert_eq!(events.len(), 1);
    let expected: BTreeSet<String> =
        ["id", "receivedAt", "channel", "activity", "resultCode", "instanceId", "tenantId"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(keys(&events[0]), expected);
    assert_eq!(events[0]["channel"], "lifecycle_v2");
    assert_eq!(events[0]["activity"], "newInstance");
    assert_eq!(events[0]["resultCode"], "000000");
    assert_eq!(events[0]["instanceId"], id);
}
on_both_backends!(instances_and_events_have_exactly_the_published_fields);

async fn the_newest_instances_and_events_come_first(app: TestApp) {
    let (_, first) = app.buy().await;
    let (_, second) = app.buy().await;
    let (_, list) = app.admin_get("/admin/api/instances").await;
    assert_eq!(list[0]["instanceId"], second.json["instanceId"]);
    assert_eq!(list[1]["instanceId"], first.json["instanceId"]);
    let (_, events) = app.admin_get("/admin/api/events").await;
    assert_eq!(events[0]["instanceId"], second.json["instanceId"]);
}
on_both_backends!(the_newest_instances_and_events_come_first);

async fn the_api_needs_the_token_and_says_what_is_missing(app: TestApp) {
    let url = format!("{}/admin/api/events", app.address);
    let anonymous = app.http.get(&url).send().await.expect("sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(body["error"], "unauthenticated");
    let wrong = app.http.get(&url).bearer_auth("nope").send().await.expect("sent");
    assert_eq!(wrong.status().as_u16(), 401);
    let (status, body) = app.admin_get("/admin/api/instances/does-not-exist").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}
on_both_backends!(the_api_needs_the_token_and_says_what_is_missing);

async fn an_empty_token_disables_the_api(app: TestApp) {
    let response = app
        .http
        .get(format!("{}/admin/api/events", app.address))
        .bearer_auth("")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
}
on_both_backends!(an_empty_token_disables_the_api, &[("admin.api_token", "")]);
