//! The one access rule (ARCHITECTURE §5) as every door sees it: the admin
//! site's API, the vendor's app API and sign-in agree on a tenant in each
//! state, including a seller's test tenant with and without an instance.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;

const APP_TOKEN: &str = "app-api-token-for-tests-0123456789";

const SETTINGS: &[(&str, &str)] = &[
    ("marketplace.kit_access_key", KIT_KEY),
    (
        "marketplace.rsa_private_key_file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
    ),
    ("upstream.api_token", APP_TOKEN),
];

/// What each door says about one tenant.
#[derive(Debug, PartialEq)]
struct Seen {
    /// The admin tenant list's status (and the overview's, which must match).
    admin: String,
    /// `/app-api/v1/tenants/{id}`: HTTP status, `status`, `instanceId`.
    app_api: (u16, Value, Value),
    /// `/sso/login?tenant=`: 302 to the auth centre, or the refusal's status.
    login: u16,
}

async fn seen(app: &TestApp, tenant_id: &str) -> Seen {
    let (status, list) = app.admin_get(&format!("/admin/api/tenants?test=1&q={tenant_id}")).await;
    assert_eq!((status, &list["total"]), (200, &json!(1)), "{list}");
    let admin = list["tenants"][0]["status"].as_str().expect("a status").to_string();
    let (status, overview) =
        app.admin_get(&format!("/admin/api/tenants/{tenant_id}/overview")).await;
    assert_eq!(status, 200);
    assert_eq!(overview["tenant"]["status"], admin.as_str(), "the list and the page agree");
    // The status filter is the rule's SQL twin: it finds the tenant under
    // the status shown, and only there.
    for filter in ["active", "frozen", "released", "deleted"] {
        let (_, found) = app
            .admin_get(&format!("/admin/api/tenants?test=1&q={tenant_id}&status={filter}"))
            .await;
        let expected = if filter == admin { 1 } else { 0 };
        assert_eq!(found["total"], expected, "{tenant_id} filtered by {filter}, shown {admin}");
    }
    let response = app
        .http
        .get(format!("{}/app-api/v1/tenants/{tenant_id}", app.address))
        .bearer_auth(APP_TOKEN)
        .send()
        .await
        .expect("app API answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let app_api = (status, body["status"].clone(), body["instanceId"].clone());
    let login = Browser::new(app).login(&format!("tenant={tenant_id}")).await;
    Seen { admin, app_api, login: login.status }
}

fn expect(admin: &str, app_api: (u16, Value, Value), login: u16) -> Seen {
    Seen { admin: admin.to_string(), app_api, login }
}

/// A production enterprise whose auth centre is `centre`, with its OAuth client.
async fn enterprise(app: &TestApp, centre: &AuthCentre) -> Enterprise {
    let enterprise = app.enterprise_at(&centre.base_url).await;
    app.give_app_credential(&enterprise, &centre.client_id, &centre.client_secret).await;
    enterprise
}

/// A seller's test tenant (`testFlag` 1) bound to `instance_id` ("" for
/// none, as the seller console's debugger syncs it), with its OAuth client.
async fn test_tenant(app: &TestApp, centre: &AuthCentre, instance_id: &str) -> Enterprise {
    let tenant = Enterprise {
        tenant_id: random_id("test-tenant-"),
        instance_id: instance_id.to_string(),
        order_id: String::new(),
    };
    let mut bind = tenant.tenant_sync(1);
    bind["testFlag"] = json!(1);
    bind["domainName"] = json!(centre.base_url);
    app.kit_v2("tenantSync", &bind).await.assert_kit_ok();
    let secret = encrypt_client_secret(&centre.client_secret, OaepDigest::Sha256WithMgf1Sha1);
    let mut credential = tenant.application_sync(APP_ID, &centre.client_id, &secret, 1);
    credential["testFlag"] = json!(1);
    app.kit_v2("applicationSync", &credential).await.assert_kit_ok();
    tenant
}

/// A test purchase from the seller console (`testFlag` 1): its instance id.
async fn buy_for_test(app: &TestApp) -> String {
    let order_id = random_id("CS-test-");
    let mut body: Value =
        serde_json::from_str(&new_instance_body(&order_id, &random_id("biz-"))).expect("json");
    body["testFlag"] = json!("1");
    let reply = app.v2(&body.to_string()).await;
    assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    reply.json["instanceId"].as_str().expect("instanceId").to_string()
}

async fn every_door_tells_the_same_story_of_a_tenant(app: TestApp) {
    let centre = AuthCentre::start(&random_id("client-"), &random_id("secret-"));

    let active = enterprise(&app, &centre).await;
    let frozen = enterprise(&app, &centre).await;
    app.set_instance_status(&frozen.instance_id, "FREEZE").await;
    let released = enterprise(&app, &centre).await;
    app.release_instance(&released.instance_id).await;
    let deleted = enterprise(&app, &centre).await;
    app.kit_v2("tenantSync", &deleted.tenant_sync(0)).await.assert_kit_ok();
    let test_without_instance = test_tenant(&app, &centre, "").await;
    let test_instance = buy_for_test(&app).await;
    let test_with_frozen_instance = test_tenant(&app, &centre, &test_instance).await;
    app.set_instance_status(&test_instance, "FREEZE").await;

    let null = Value::Null;
    let cases = [
        (&active, expect("active", (200, json!("active"), json!(active.instance_id)), 302)),
        (&frozen, expect("frozen", (200, json!("frozen"), null.clone()), 403)),
        (&released, expect("released", (404, null.clone(), null.clone()), 410)),
        (&deleted, expect("deleted", (404, null.clone(), null.clone()), 404)),
        // The decision (README, "Who may use the app"): a test tenant that
        // no instance binds is open, with no instance to name.
        (&test_without_instance, expect("active", (200, json!("active"), null.clone()), 302)),
        // Once an instance binds it, that instance decides.
        (&test_with_frozen_instance, expect("frozen", (200, json!("frozen"), null.clone()), 403)),
    ];
    for (tenant, expected) in cases {
        assert_eq!(seen(&app, &tenant.tenant_id).await, expected, "tenant {}", tenant.tenant_id);
    }
}
on_both_backends!(every_door_tells_the_same_story_of_a_tenant, super::SETTINGS);

/// The test tenant without an instance is open all the way: a granted
/// user signs in and `/sso/me` names no instance.
async fn a_granted_user_of_a_test_tenant_without_an_instance_signs_in(app: TestApp) {
    let centre = AuthCentre::start(&random_id("client-"), &random_id("secret-"));
    let tenant = test_tenant(&app, &centre, "").await;
    centre.add_account(account(&tenant.tenant_id, "tess", "Tess Tester", "admin", "D1"));
    let mut grant = tenant.auth_sync(
        1,
        "20240101000000000",
        json!([person("tess", "Tess Tester", "D1", "admin", "true")]),
    );
    grant["testFlag"] = json!(1);
    app.kit_v2("authSync", &grant).await.assert_kit_ok();

    centre.signs_in("tess");
    let browser = Browser::new(&app);
    browser.sign_in(&format!("tenant={}", tenant.tenant_id)).await.assert_lands_on("/");
    let (status, me) = browser.me().await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["tenantId"].as_str(), &me["instanceId"]),
        (Some(tenant.tenant_id.as_str()), &Value::Null)
    );
}
on_both_backends!(a_granted_user_of_a_test_tenant_without_an_instance_signs_in, super::SETTINGS);
