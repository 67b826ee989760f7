//! The admin site's pages over plain HTTP: escaping of what the
//! marketplace sent, no secret on any page, the tenant and event lists,
//! and the API twins of the pages.

use sea_orm::EntityTrait;
use serde_json::json;

use crate::helpers::*;

/// Every admin page about this tenant, and the event pages of its calls.
async fn every_page(app: &TestApp, operator: &Operator, tenant_id: &str) -> Vec<(String, String)> {
    let mut paths: Vec<String> = [
        "/admin".to_string(),
        "/admin/tenants".to_string(),
        format!("/admin/tenants?q={tenant_id}"),
        format!("/admin/tenants/{tenant_id}"),
        "/admin/instances".to_string(),
        "/admin/events".to_string(),
        format!("/admin/events?tenant={tenant_id}"),
    ]
    .to_vec();
    for event in app.events().await {
        paths.push(format!("/admin/events/{}", event.id));
    }
    let mut pages = Vec::new();
    for path in paths {
        let page = operator.page(&path).await;
        pages.push((path, page.body));
    }
    pages
}

async fn markup_from_the_marketplace_is_shown_as_text_everywhere(app: TestApp) {
    let markup = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let enterprise = populated_enterprise(&app, markup).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let tenant = operator.page(&format!("/admin/tenants/{}", enterprise.tenant_id)).await;
    assert!(tenant.body.contains("&lt;script&gt;alert(1)&lt;"), "the name shows, escaped");
    assert!(tenant.body.contains("&lt;img src=x onerror=alert(2)&gt;"));
    let list = operator.page("/admin/tenants").await;
    assert!(list.body.contains("&lt;script&gt;"), "the tenant list shows the name as text");
    for (path, body) in every_page(&app, &operator, &enterprise.tenant_id).await {
        for raw in ["<script", "<img", "onerror=alert(2)>"] {
            assert!(!body.contains(raw), "{raw} unescaped on {path}");
        }
    }
}
on_both_backends!(
    markup_from_the_marketplace_is_shown_as_text_everywhere,
    &crate::helpers::admin_settings()
);

#[tokio::test]
async fn secrets_never_show_on_any_page() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let enterprise = app.bound_enterprise().await;
    let client_secret = "client-secret-never-shown-4711";
    let sealed_for_wire = encrypt_client_secret(client_secret, OaepDigest::Sha256WithMgf1Sha1);
    let credential = enterprise.application_sync(APP_ID, "client-id-shown", &sealed_for_wire, 1);
    app.kit_v2("applicationSync", &credential).await.assert_kit_ok();
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let tenant = operator.page(&format!("/admin/tenants/{}", enterprise.tenant_id)).await;
    assert!(tenant.body.contains("client-id-shown"), "the client id shows");
    let stored = entity::tenant_app::Entity::find().all(&app.db).await.expect("apps");
    let events = app.events().await;
    let mut needles: Vec<String> = vec![
        client_secret.to_string(),
        sealed_for_wire.clone(),
        ACCESS_KEY.to_string(),
        KIT_KEY.to_string(),
        ADMIN_TOKEN.to_string(),
        admin_password_hash().to_string(),
        ADMIN_PASSWORD.to_string(),
    ];
    needles.extend(stored.iter().filter_map(|a| a.client_secret_sealed.clone()));
    needles.extend(events.iter().filter_map(|e| e.replay_sealed.clone()));
    for (path, body) in every_page(&app, &operator, &enterprise.tenant_id).await {
        for needle in &needles {
            assert!(!body.contains(needle.as_str()), "a secret shows on {path}");
        }
        assert!(!body.contains("secret-never"), "{path}");
    }
}

async fn tenants_are_found_by_name_id_or_code_and_by_status(app: TestApp) {
    let acme = populated_enterprise(&app, "Acme Widgets").await;
    let other = populated_enterprise(&app, "Globex").await;
    app.set_instance_status(&other.instance_id, "FREEZE").await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let found = |page: &Page, tenant: &Enterprise| page.body.contains(&tenant.tenant_id);
    let by_name = operator.page("/admin/tenants?q=acme+wid").await;
    assert!(found(&by_name, &acme) && !found(&by_name, &other));
    let by_id = operator.page(&format!("/admin/tenants?q={}", other.tenant_id)).await;
    assert!(found(&by_id, &other) && !found(&by_id, &acme));
    let frozen = operator.page("/admin/tenants?status=frozen").await;
    assert!(found(&frozen, &other) && !found(&frozen, &acme));
    let active = operator.page("/admin/tenants?status=active").await;
    assert!(found(&active, &acme) && !found(&active, &other));
    let bad = operator.open("/admin/tenants?status=sleeping").await;
    assert_eq!(bad.status, 400);

    // The tenant page: tree, users with role, enabled and grant, calls.
    let page = operator.page(&format!("/admin/tenants/{}", acme.tenant_id)).await;
    for shown in [
        "<details open><summary>Head office",
        "Platform team",
        "Alice Admin",
        "kit-test-app-0001",
        "tenantSync",
        "authSync",
    ] {
        assert!(page.body.contains(shown), "{shown} on the tenant page");
    }
    assert_eq!(operator.open("/admin/tenants/no-such-tenant").await.status, 404);
}
on_both_backends!(
    tenants_are_found_by_name_id_or_code_and_by_status,
    &crate::helpers::admin_settings()
);

#[tokio::test]
async fn test_tenants_are_listed_only_when_asked() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let seller_test = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: String::new(),
        order_id: String::new(),
    };
    let mut body = seller_test.tenant_sync(1);
    body["testFlag"] = json!(1);
    app.kit_v2("tenantSync", &body).await.assert_kit_ok();
    let production = app.bound_enterprise().await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let plain = operator.page("/admin/tenants").await;
    assert!(plain.body.contains(&production.tenant_id));
    assert!(!plain.body.contains(&seller_test.tenant_id), "test tenants hidden by default");
    let asked = operator.page("/admin/tenants?test=1").await;
    assert!(
        asked.body.contains(&seller_test.tenant_id) && asked.body.contains(&production.tenant_id)
    );
}

#[tokio::test]
async fn events_are_filtered_by_channel_activity_result_and_time() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let enterprise = app.bound_enterprise().await;
    app.v2_with(
        new_instance_body("CS-bad", "biz").into_bytes(),
        V2Options { key: "not-the-access-key".to_string(), ..V2Options::default() },
    )
    .await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let rows = |page: &Page| page.body.matches("<tr>").count().saturating_sub(1);
    let all = operator.page("/admin/events").await;
    assert_eq!(rows(&all), 3, "purchase, tenantSync, refused call");
    assert_eq!(rows(&operator.page("/admin/events?channel=kit_v2").await), 1);
    assert_eq!(rows(&operator.page("/admin/events?activity=newInstance").await), 1);
    assert_eq!(rows(&operator.page("/admin/events?result=failures").await), 1);
    assert_eq!(rows(&operator.page("/admin/events?result=000000").await), 2);
    assert_eq!(
        rows(&operator.page(&format!("/admin/events?tenant={}", enterprise.tenant_id)).await),
        1
    );
    assert_eq!(rows(&operator.page("/admin/events?since=2000-01-01&until=2000-01-02").await), 0);
    assert_eq!(operator.open("/admin/events?since=yesterday").await.status, 400);
    let dashboard = operator.page("/admin").await;
    assert!(dashboard.body.contains("000001"), "the failure on the dashboard");
}

/// A program with the admin API token reads what the pages show, as JSON:
/// the dashboard, the tenant search, a tenant's overview with its state
/// history, an event with its redacted request and answer. No token, no
/// data; a browser's admin cookie does not open the API.
async fn the_api_shows_what_the_pages_show(app: TestApp) {
    let enterprise = populated_enterprise(&app, "Acme").await;
    app.set_instance_status(&enterprise.instance_id, "FREEZE").await;

    let (status, dashboard) = app.admin_get("/admin/api/dashboard").await;
    assert_eq!(status, 200, "{dashboard}");
    let frozen = dashboard["byStatus"]
        .as_array()
        .expect("byStatus")
        .iter()
        .find(|s| s["status"] == "frozen")
        .expect("a frozen row")
        .clone();
    assert_eq!(frozen["production"], 1);
    assert!(dashboard["usersGranted"].as_i64().expect("usersGranted") >= 1, "{dashboard}");

    let (status, found) = app.admin_get("/admin/api/tenants?q=acme").await;
    assert_eq!(status, 200);
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["tenants"][0]["tenantId"], enterprise.tenant_id.as_str());
    assert_eq!(found["tenants"][0]["status"], "frozen");

    let (status, overview) =
        app.admin_get(&format!("/admin/api/tenants/{}/overview", enterprise.tenant_id)).await;
    assert_eq!(status, 200);
    let history = &overview["instances"][0]["history"];
    assert!(history.to_string().contains("frozen"), "the freeze is in the history: {history}");
    assert!(!overview.to_string().contains("clientSecret"), "{overview}");
    assert!(overview["apps"][0]["clientId"].is_string(), "{overview}");

    let event_id = app.last_event().await.id;
    let (status, event) = app.admin_get(&format!("/admin/api/events/{event_id}")).await;
    assert_eq!(status, 200);
    let shown = &event["event"];
    assert!(shown["request"].as_str().expect("request").contains("FREEZE"), "{event}");
    assert!(shown["response"].as_str().expect("response").contains("000000"), "{event}");

    let anonymous = app.http.get(format!("{}/admin/api/dashboard", app.address)).send().await;
    assert_eq!(anonymous.expect("sent").status(), 401);
    let operator = Operator::new(&app);
    operator.sign_in().await;
    assert_eq!(operator.open("/admin/api/dashboard").await.status, 401);
}
on_both_backends!(the_api_shows_what_the_pages_show, &crate::helpers::admin_settings());
