//! `GET /openapi.json` describes `/app-api/v1` and `/admin/api`, and is
//! exactly the committed `docs/openapi.json`: a change to the API's types
//! shows in review as a change to the document.

use serde_json::Value;

use crate::helpers::*;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

/// Set to rewrite `docs/openapi.json` from what the server serves.
const REWRITE: &str = "KOOGATE_WRITE_OPENAPI";

async fn served(app: &TestApp) -> String {
    let response =
        app.http.get(format!("{}/openapi.json", app.address)).send().await.expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("application/json"));
    response.text().await.expect("body read")
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let served = served(&app).await;
    if std::env::var_os(REWRITE).is_some() {
        std::fs::write(COMMITTED, &served).expect("docs/openapi.json written");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        served == committed,
        "docs/openapi.json is not what GET /openapi.json serves: regenerate it with \
         `{REWRITE}=1 cargo test --test api the_served_document_is_the_committed_one` \
         and review the diff"
    );
}

#[tokio::test]
async fn the_document_describes_every_contract_route_with_its_token() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let document: Value = serde_json::from_str(&served(&app).await).expect("JSON");
    assert!(
        document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        document["openapi"]
    );
    // ARCHITECTURE's contract for the vendor's app and the admin API.
    let contract = [
        ("/app-api/v1/tenants/{tenantId}", "appToken"),
        ("/app-api/v1/tenants/{tenantId}/departments", "appToken"),
        ("/app-api/v1/tenants/{tenantId}/users", "appToken"),
        ("/app-api/v1/instances/{instanceId}", "appToken"),
        ("/admin/api/instances", "adminToken"),
        ("/admin/api/instances/{instanceId}", "adminToken"),
        ("/admin/api/events", "adminToken"),
        ("/admin/api/tenants/{tenantId}", "adminToken"),
        ("/admin/api/tenants/{tenantId}/departments", "adminToken"),
        ("/admin/api/tenants/{tenantId}/users", "adminToken"),
    ];
    for (path, token) in contract {
        let get = &document["paths"][path]["get"];
        assert!(get.is_object(), "{path} is not described");
        assert!(get["security"][0][token].is_array(), "{path} does not ask for {token}");
        assert!(get["responses"]["200"].is_object(), "{path}: no 200");
        assert!(get["responses"]["401"]["headers"]["WWW-Authenticate"].is_object(), "{path}: 401");
    }
    let schemes = &document["components"]["securitySchemes"];
    for token in ["appToken", "adminToken"] {
        assert_eq!(schemes[token]["scheme"], "bearer", "{token}");
    }
    // The app's instance answer, field by field as ARCHITECTURE names it.
    let instance = &document["components"]["schemas"]["AppInstance"]["properties"];
    for field in ["instanceId", "tenantIds", "status", "entitlement"] {
        assert!(instance[field].is_object(), "AppInstance.{field}");
    }
}

/// What schemathesis found the document promised and the server did not
/// keep: every refusal under `/admin/api` is the JSON error answer.
async fn admin_answer(app: &TestApp, path: &str) -> (u16, String, Value) {
    let response = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer ({e})"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_page_far_past_the_end_is_empty_not_a_dropped_connection() {
    let kit = [
        ("marketplace.kit_access_key", KIT_KEY),
        (
            "marketplace.rsa_private_key_file",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
        ),
    ];
    let app = spawn_app(Backend::Sqlite, &kit).await;
    let enterprise = app.bound_enterprise_with_app().await;
    let far = "9223372036854775808";
    let (status, _, body) = admin_answer(&app, &format!("/admin/api/tenants?page={far}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenants"], serde_json::json!([]));
    let overview = format!("/admin/api/tenants/{}/overview?users_page={far}", enterprise.tenant_id);
    let (status, _, body) = admin_answer(&app, &overview).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"], serde_json::json!([]));
}

#[tokio::test]
async fn malformed_queries_and_unknown_ids_get_the_json_error_answer() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let cases = [
        ("/admin/api/instances?limit=many", 400, "invalid_request"),
        ("/admin/api/events?limit=-1", 400, "invalid_request"),
        ("/admin/api/outbox/dead?limit=99999999999999999999", 400, "invalid_request"),
        ("/admin/api/tenants?status=lost", 400, "invalid_request"),
        ("/admin/api/events/filtered?since=yesterday", 400, "invalid_request"),
        ("/admin/api/events/99999", 404, "not_found"),
        ("/admin/api/events/not-a-number", 404, "not_found"),
        ("/admin/api/tenants/nobody/overview", 404, "not_found"),
    ];
    for (path, expected, code) in cases {
        let (status, content_type, body) = admin_answer(&app, path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(content_type, "application/json", "{path}");
        assert_eq!(body["error"], code, "{path}: {body}");
    }
}
