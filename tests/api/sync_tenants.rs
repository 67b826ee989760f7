//! tenantSync: a buyer binds the product to an enterprise, edits it,
//! dissolves it; a seller's test credential; several orders on one
//! enterprise; the instance released under a bound enterprise.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::*;

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

async fn a_buyer_binds_an_enterprise_edits_it_and_dissolves_it(app: TestApp) {
    let (order_id, bought) = app.buy().await;
    let enterprise = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: bought.json["instanceId"].as_str().expect("id").into(),
        order_id,
    };

    let bind = enterprise.tenant_sync(1);
    app.kit_v2("tenantSync", &bind).await.assert_kit_ok();
    let tenant = app.tenant(&enterprise.tenant_id).await;
    assert_eq!(
        tenant,
        json!({
            "tenantId": enterprise.tenant_id,
            "tenantCode": "huawei",
            "name": "Example Enterprise",
            "domainName": "https://example.tenantaccount.com",
            "testFlag": false,
            "deleted": false,
            "instanceIds": [enterprise.instance_id],
            "apps": [],
            "departmentCount": 0,
            "userCount": 0,
            "signIn": {"dialect": "auto", "baseUrl": null, "detected": null},
        })
    );
    let event = app.last_event().await;
    assert_eq!(
        (event.channel.as_str(), event.activity.as_str(), event.result_code.as_str()),
        ("kit_v2", "tenantSync", "000000")
    );
    assert_eq!(event.tenant_id.as_deref(), Some(enterprise.tenant_id.as_str()));

    // The marketplace may deliver the binding again: nothing changes.
    app.kit_v2("tenantSync", &enterprise.tenant_sync(1)).await.assert_kit_ok();
    assert_eq!(app.tenant(&enterprise.tenant_id).await, tenant);

    // Only the name and the auth centre's address may change.
    let mut edit = enterprise.tenant_sync(2);
    edit["name"] = json!("Example Enterprise Group");
    edit["domainName"] = json!("https://group.tenantaccount.com");
    app.kit_v2("tenantSync", &edit).await.assert_kit_ok();
    let edited = app.tenant(&enterprise.tenant_id).await;
    assert_eq!(edited["name"], "Example Enterprise Group");
    assert_eq!(edited["domainName"], "https://group.tenantaccount.com");
    assert_eq!(edited["tenantCode"], "huawei");
    assert_eq!(edited["deleted"], false);

    let mut dissolve = enterprise.tenant_sync(0);
    dissolve["name"] = json!("Example Enterprise Group");
    app.kit_v2("tenantSync", &dissolve).await.assert_kit_ok();
    let dissolved = app.tenant(&enterprise.tenant_id).await;
    assert_eq!(dissolved["deleted"], true);
    app.kit_v2("tenantSync", &dissolve).await.assert_kit_ok();
    assert_eq!(app.tenant(&enterprise.tenant_id).await, dissolved);
}
kit_on_both_backends!(a_buyer_binds_an_enterprise_edits_it_and_dissolves_it);

async fn the_tenant_answer_has_exactly_the_published_fields_and_no_secret(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let tenant = app.tenant(&enterprise.tenant_id).await;
    let expected: BTreeSet<String> = [
        "tenantId",
        "tenantCode",
        "name",
        "domainName",
        "testFlag",
        "deleted",
        "instanceIds",
        "apps",
        "departmentCount",
        "userCount",
        "signIn",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(keys(&tenant), expected);
    let apps = tenant["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 1);
    assert_eq!(keys(&apps[0]), ["appId", "clientId"].iter().map(|s| s.to_string()).collect());
    assert_eq!(apps[0]["appId"], APP_ID);

    let (status, body) = app.admin_get("/admin/api/tenants/no-such-tenant").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}
kit_on_both_backends!(the_tenant_answer_has_exactly_the_published_fields_and_no_secret);

async fn two_orders_binding_one_enterprise_are_both_listed(app: TestApp) {
    let first = app.bound_enterprise().await;
    // The credential allows several instances per enterprise: a second
    // purchase binds the same tenant.
    let (order_id, bought) = app.buy().await;
    let second = Enterprise {
        instance_id: bought.json["instanceId"].as_str().expect("id").into(),
        order_id,
        ..first.clone()
    };
    app.kit_v2("tenantSync", &second.tenant_sync(1)).await.assert_kit_ok();

    let tenant = app.tenant(&first.tenant_id).await;
    let mut expected = vec![first.instance_id.clone(), second.instance_id.clone()];
    expected.sort();
    assert_eq!(tenant["instanceIds"], json!(expected));
    assert_eq!(tenant["deleted"], false);
}
kit_on_both_backends!(two_orders_binding_one_enterprise_are_both_listed);

async fn a_sellers_test_credential_makes_a_test_tenant_without_instances(app: TestApp) {
    // A seller creating an application credential: empty ids, testFlag 1,
    // and flags written as strings as some marketplace tools do.
    let enterprise = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: String::new(),
        order_id: String::new(),
    };
    let mut body = enterprise.tenant_sync(1);
    body["flag"] = json!("1");
    body["testFlag"] = json!("1");
    app.kit_v2("tenantSync", &body).await.assert_kit_ok();

    let tenant = app.tenant(&enterprise.tenant_id).await;
    assert_eq!(tenant["testFlag"], true);
    assert_eq!(tenant["instanceIds"], json!([]));
    assert_eq!(tenant["deleted"], false);

    let mut edit = enterprise.tenant_sync(2);
    edit["flag"] = json!("2");
    edit["testFlag"] = json!(1);
    edit["name"] = json!("Seller Sandbox");
    app.kit_v2("tenantSync", &edit).await.assert_kit_ok();
    assert_eq!(app.tenant(&enterprise.tenant_id).await["name"], "Seller Sandbox");
}
kit_on_both_backends!(a_sellers_test_credential_makes_a_test_tenant_without_instances);

async fn dissolving_an_unknown_enterprise_is_a_harmless_success(app: TestApp) {
    let (order_id, bought) = app.buy().await;
    let stranger = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: bought.json["instanceId"].as_str().expect("id").into(),
        order_id,
    };
    app.kit_v2("tenantSync", &stranger.tenant_sync(0)).await.assert_kit_ok();
    // Whether a tombstone is kept is the implementation's choice; a live
    // tenant must not appear.
    let (status, tenant) =
        app.admin_get(&format!("/admin/api/tenants/{}", stranger.tenant_id)).await;
    assert!(status == 404 || tenant["deleted"] == true, "{status}: {tenant}");
}
kit_on_both_backends!(dissolving_an_unknown_enterprise_is_a_harmless_success);

async fn releasing_the_instance_of_a_bound_enterprise(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    let secret = random_id("secret-");
    let sealed = encrypt_client_secret(&secret, OaepDigest::Sha256);
    let credential = enterprise.application_sync(APP_ID, "client-of-the-release", &sealed, 1);
    app.kit_v2("applicationSync", &credential).await.assert_kit_ok();
    let mut user = person("alice", "Alice", "D1", "admin", "true");
    user["mobile"] = json!("13912345678");
    user["email"] = json!("alice@example.com");
    app.kit_v2("authSync", &enterprise.auth_sync(1, "20240101000000000", json!([user])))
        .await
        .assert_kit_ok();

    let release = json!({"activity": "releaseInstance", "instanceId": enterprise.instance_id});
    assert_eq!(app.v2(&release.to_string()).await.code(), "000000");
    assert_eq!(app.instance(&enterprise.instance_id).await["status"], "released");

    // The operator can still look the enterprise up; no secret is shown.
    let tenant = app.tenant(&enterprise.tenant_id).await;
    assert_eq!(tenant["tenantId"], enterprise.tenant_id.as_str());
    app.assert_never_shown(
        &enterprise.tenant_id,
        &[&secret, &sealed, "13912345678", "alice@example.com"],
    )
    .await;
}
kit_on_both_backends!(releasing_the_instance_of_a_bound_enterprise);
