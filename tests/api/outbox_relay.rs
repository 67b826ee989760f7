//! The vendor's app hears about every change once, in order: events leave
//! through the outbox to a receiver of the test's own, signed as Standard
//! Webhooks; a repeated or refused call tells nothing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

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

#[tokio::test]
async fn without_a_webhook_url_nothing_is_written() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    app.buy().await;
    assert_eq!(outbox_rows(&app).await, 0);
    let (_, summary) = app.admin_get("/admin/api/outbox").await;
    assert_eq!(summary["webhookConfigured"], false);
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
