//! The vendor's app reads its tenants through `/app-api/v1/*` with its own
//! bearer token: who the tenant is, its department tree, its granted
//! users; and nothing once the tenant is gone.

use serde_json::{json, Value};

use crate::helpers::*;

const APP_TOKEN: &str = "app-api-token-for-tests-0123456789";

const SETTINGS: &[(&str, &str)] = &[
    ("marketplace.kit_access_key", KIT_KEY),
    (
        "marketplace.rsa_private_key_file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
    ),
    ("upstream.api_token", APP_TOKEN),
];

async fn read(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.http.get(format!("{}/app-api/v1{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An enterprise with a three-level tree and three people, one of them
/// never granted the app.
async fn organised_enterprise(app: &TestApp) -> Enterprise {
    let enterprise = app.bound_enterprise_with_app().await;
    let tree = enterprise.body(json!({"orgInfoList": [
        {"orgCode": "D2", "orgName": "Marketing", "parentCode": ""},
        {"orgCode": "D11", "orgName": "Sales East", "parentCode": "D1"},
        {"orgCode": "D1", "orgName": "Sales", "parentCode": ""},
        {"orgCode": "D111", "orgName": "Shanghai", "parentCode": "D11"},
    ]}));
    app.kit_v2("allOrgSync", &tree).await.assert_kit_ok();
    let grant = enterprise.auth_sync(
        1,
        "20240101000000000",
        json!([
            person("alice", "Alice", "D111", "admin", "true"),
            person("bob", "Bob", "D2", "user", "false"),
        ]),
    );
    app.kit_v2("authSync", &grant).await.assert_kit_ok();
    enterprise
}

async fn the_app_reads_its_tenant_tree_and_people(app: TestApp) {
    let enterprise = organised_enterprise(&app).await;
    let tenant = format!("/tenants/{}", enterprise.tenant_id);

    let (status, mut body) = read(&app, &tenant, Some(APP_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    // One entitlement per live instance (the plan itself: tests/api/open_api.rs).
    let entitlements = body.as_object_mut().and_then(|o| o.remove("entitlements"));
    let entitlements = entitlements.as_ref().and_then(|e| e.as_array()).expect("entitlements");
    assert_eq!(entitlements.len(), 1, "{entitlements:?}");
    assert_eq!(entitlements[0]["instanceId"], enterprise.instance_id.as_str());
    assert!(entitlements[0]["source"].is_string());
    assert_eq!(
        body,
        json!({
            "tenantId": enterprise.tenant_id,
            "tenantCode": "huawei",
            "name": "Example Enterprise",
            "status": "active",
            "instanceId": enterprise.instance_id,
            "testFlag": false,
        })
    );

    let (status, tree) = read(&app, &format!("{tenant}/departments"), Some(APP_TOKEN)).await;
    assert_eq!(status, 200);
    let node = |code: &str, name: &str, parent: Option<&str>, children: Value| json!({"orgCode": code, "orgName": name, "parentCode": parent, "children": children});
    assert_eq!(
        tree,
        json!([
            node(
                "D1",
                "Sales",
                None,
                json!([node(
                    "D11",
                    "Sales East",
                    Some("D1"),
                    json!([node("D111", "Shanghai", Some("D11"), json!([]))])
                )])
            ),
            node("D2", "Marketing", None, json!([])),
        ])
    );

    let (status, users) = read(&app, &format!("{tenant}/users"), Some(APP_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(
        sorted_by(users, "userName"),
        json!([
            {"userName": "alice", "name": "Alice", "orgCode": "D111", "role": "admin", "enabled": true},
            {"userName": "bob", "name": "Bob", "orgCode": "D2", "role": "user", "enabled": false},
        ])
    );

    // Frozen: still the app's tenant, and it says so.
    app.set_instance_status(&enterprise.instance_id, "FREEZE").await;
    let (status, body) = read(&app, &tenant, Some(APP_TOKEN)).await;
    assert_eq!(
        (status, body["status"].as_str(), &body["instanceId"]),
        (200, Some("frozen"), &Value::Null)
    );

    // Released: gone for the app, as for its users.
    app.release_instance(&enterprise.instance_id).await;
    for path in [tenant.clone(), format!("{tenant}/departments"), format!("{tenant}/users")] {
        assert_eq!(read(&app, &path, Some(APP_TOKEN)).await.0, 404, "{path}");
    }
}
on_both_backends!(the_app_reads_its_tenant_tree_and_people, super::SETTINGS);

async fn only_the_apps_token_opens_it(app: TestApp) {
    let enterprise = organised_enterprise(&app).await;
    let tenant = format!("/tenants/{}", enterprise.tenant_id);
    assert_eq!(read(&app, &tenant, None).await.0, 401);
    assert_eq!(read(&app, &tenant, Some("wrong-token")).await.0, 401);
    // The admin token is another key for another door.
    assert_eq!(read(&app, &tenant, Some(ADMIN_TOKEN)).await.0, 401);
    assert_eq!(read(&app, "/tenants/no-such-tenant", Some(APP_TOKEN)).await.0, 404);
}
on_both_backends!(only_the_apps_token_opens_it, super::SETTINGS);

/// With no `upstream.api_token` the read API is closed to everyone.
#[tokio::test]
async fn without_a_token_configured_the_read_api_is_closed() {
    let app = spawn_app(Backend::Sqlite, KIT_SETTINGS).await;
    let enterprise = organised_enterprise(&app).await;
    let tenant = format!("/tenants/{}", enterprise.tenant_id);
    assert_eq!(read(&app, &tenant, Some("")).await.0, 401);
    assert_eq!(read(&app, &tenant, Some(APP_TOKEN)).await.0, 401);
}
