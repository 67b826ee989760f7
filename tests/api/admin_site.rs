//! The operator admin site over plain HTTP: sign-in and its refusals,
//! the pages, escaping of what the marketplace sent, and the actions.

use std::collections::BTreeSet;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use crate::helpers::*;

async fn an_operator_signs_in_browses_and_signs_out(app: TestApp) {
    let operator = Operator::new(&app);
    let form = operator.open("/admin/login").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"username\"") && form.body.contains("name=\"password\""));
    let csrf_cookie = form.cookie("koogate_admin_csrf").expect("a CSRF cookie");
    assert!(csrf_cookie.has("HttpOnly"));
    assert_eq!(csrf_cookie.attribute("SameSite"), Some("Strict"));

    let signed_in = operator.sign_in().await;
    let session = signed_in.cookie("koogate_admin").expect("a session cookie");
    assert!(session.has("HttpOnly"), "{session:?}");
    assert_eq!(session.attribute("SameSite"), Some("Strict"));
    assert_eq!(session.attribute("Path"), Some("/"));
    assert!(!session.has("Secure"), "plain http public_url: not Secure");

    let dashboard = operator.page("/admin").await;
    assert!(dashboard.body.contains("Dashboard") && dashboard.body.contains("Latest failures"));
    for path in ["/admin/tenants", "/admin/instances", "/admin/events"] {
        operator.page(path).await;
    }

    let csrf = csrf_token(&dashboard);
    let out = operator.post_form("/admin/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/admin/login?signed_out=1"));
    let after = operator.open("/admin/tenants").await;
    assert_eq!(after.status, 303, "signed out: sent to sign in");
    assert!(after.location.as_deref().unwrap_or_default().starts_with("/admin/login"));
}
on_both_backends!(an_operator_signs_in_browses_and_signs_out, &crate::helpers::admin_settings());

#[tokio::test]
async fn pages_and_actions_need_a_session() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let stranger = Operator::new(&app);
    let page = stranger.open("/admin/tenants?q=x").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/admin/login?next=%2Fadmin%2Ftenants%3Fq%3Dx"));
    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id");
    let freeze = stranger.post_form(&format!("/admin/instances/{id}/freeze"), &[]).await;
    assert_eq!(freeze.status, 303);
    assert_eq!(app.instance(id).await["status"], "active");
    // Coming back after signing in.
    let form = stranger.open("/admin/login?next=%2Fadmin%2Ftenants%3Fq%3Dx").await;
    let back = stranger
        .post_form(
            "/admin/login",
            &[
                ("username", ADMIN_USER),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &csrf_token(&form)),
                ("next", "/admin/tenants?q=x"),
            ],
        )
        .await;
    assert_eq!(back.location.as_deref(), Some("/admin/tenants?q=x"));
}

#[tokio::test]
async fn a_wrong_user_name_or_password_is_refused_plainly() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let operator = Operator::new(&app);
    for (user, password) in [(ADMIN_USER, "not the password"), ("root", ADMIN_PASSWORD), ("", "")] {
        let page = operator.try_sign_in(user, password).await;
        assert_eq!(page.status, 401, "{user}/{password}");
        assert!(page.body.contains("The user name or password is not right."), "{}", page.body);
        assert!(page.cookie("koogate_admin").is_none());
    }
    assert_eq!(operator.open("/admin").await.status, 303);
}

#[tokio::test]
async fn a_sign_in_without_its_csrf_token_is_refused() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let operator = Operator::new(&app);
    // No form fetched first: no CSRF cookie, no token.
    let bare = operator
        .post_form("/admin/login", &[("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(bare.status, 403);
    assert!(bare.body.contains("This form expired or did not come from this site"));
    // A token that is not the cookie's.
    operator.open("/admin/login").await;
    let forged = operator
        .post_form(
            "/admin/login",
            &[("username", ADMIN_USER), ("password", ADMIN_PASSWORD), ("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.cookie("koogate_admin").is_none());
}

async fn actions_without_the_session_csrf_token_are_refused(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let path = format!("/admin/instances/{}/freeze", enterprise.instance_id);
    for fields in [vec![], vec![("csrf_token", "forged")]] {
        let page = operator.post_form(&path, &fields).await;
        assert_eq!(page.status, 403, "{page:#?}");
        assert!(page.body.contains("This form expired or did not come from this site"));
    }
    assert_eq!(app.instance(&enterprise.instance_id).await["status"], "active");
    let event = app.last_event().await;
    let replay = operator.post_form(&format!("/admin/events/{}/replay", event.id), &[]).await;
    assert_eq!(replay.status, 403);
    assert_eq!(app.last_event().await.id, event.id, "nothing replayed");
    let out = operator.post_form("/admin/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(out.status, 403);
    operator.page("/admin").await;
}
on_both_backends!(
    actions_without_the_session_csrf_token_are_refused,
    &crate::helpers::admin_settings()
);

#[tokio::test]
async fn an_idle_session_ends_and_the_operator_is_told_why() {
    let app = spawn_app(Backend::Sqlite, &admin_settings_with(&[("sso.idle_ttl_secs", "1")])).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    operator.page("/admin").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let page = operator.open("/admin/tenants").await;
    assert_eq!(page.status, 303);
    let location = page.location.clone().expect("to sign in");
    assert!(location.starts_with("/admin/login?expired=1"), "{location}");
    let told = operator.page(&location).await;
    assert!(told.body.contains("Your session ended after a while without activity"));
    let sessions = entity::admin_session::Entity::find().all(&app.db).await.expect("sessions");
    assert!(sessions.is_empty(), "the idle session is gone: {sessions:?}");
}

#[tokio::test]
async fn repeated_failures_lock_the_sign_in_even_for_the_right_password() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let operator = Operator::new(&app);
    for _ in 0..5 {
        assert_eq!(operator.try_sign_in(ADMIN_USER, "guess").await.status, 401);
    }
    let locked = operator.try_sign_in(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("Too many failed attempts"));
    assert!(locked.cookie("koogate_admin").is_none());
}

#[tokio::test]
async fn behind_tls_the_admin_cookies_are_host_bound_and_secure() {
    let app =
        spawn_app(Backend::Sqlite, &admin_settings_with(&[("sso.cookie_secure", "true")])).await;
    // A client without a jar (one would not send Secure cookies over
    // http), following no redirect.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form =
        Page::read(http.get(format!("{}/admin/login", app.address)).send().await.expect("form"))
            .await;
    let csrf = form.cookie("__Host-koogate_admin_csrf").expect("a __Host- CSRF cookie");
    assert!(csrf.has("Secure") && csrf.has("HttpOnly"));
    assert_eq!(csrf.attribute("Path"), Some("/"));
    let token = csrf_token(&form);
    let response = http
        .post(format!("{}/admin/login", app.address))
        .header("Cookie", format!("__Host-koogate_admin_csrf={}", csrf.value))
        .form(&[("username", ADMIN_USER), ("password", ADMIN_PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .expect("sign in");
    let signed_in = Page::read(response).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session = signed_in.cookie("__Host-koogate_admin").expect("a __Host- session cookie");
    assert!(session.has("Secure") && session.has("HttpOnly"));
    assert_eq!(session.attribute("SameSite"), Some("Strict"));
    assert_eq!(session.attribute("Path"), Some("/"));
    assert!(session.attribute("Domain").is_none());
}

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

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

async fn replaying_a_purchase_changes_nothing_and_is_recorded_as_a_replay(app: TestApp) {
    let (_, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("id").to_string();
    let purchase = app.last_event().await;
    let before = (app.footprint().await, app.instances_snapshot().await);

    let operator = Operator::new(&app);
    operator.sign_in().await;
    let page = operator.page(&format!("/admin/events/{}", purchase.id)).await;
    assert!(page.body.contains("Replay this call"));
    assert!(page.body.contains("newInstance"));
    let replayed = operator
        .post_form(
            &format!("/admin/events/{}/replay", purchase.id),
            &[("csrf_token", &csrf_token(&page))],
        )
        .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    let replay = app.last_event().await;
    assert_eq!(replay.replay_of, Some(purchase.id));
    assert_eq!(replay.result_code, "000000");
    assert_eq!(replay.activity, "newInstance");
    assert_eq!(replay.instance_id.as_deref(), Some(instance_id.as_str()));
    assert_eq!(
        replayed.location.as_deref(),
        Some(format!("/admin/events/{}?replayed=1", replay.id).as_str())
    );
    assert_eq!((app.footprint().await, app.instances_snapshot().await), before, "idempotent");
    let shown = operator.page(replayed.location.as_deref().expect("to the replay")).await;
    assert!(shown.body.contains("Replayed"));
    assert!(shown.body.contains(&format!("/admin/events/{}", purchase.id)), "links the original");

    // A Kit call replays too, through the same sync code.
    let enterprise = app.bound_enterprise().await;
    let sync = app.last_event().await;
    assert_eq!(sync.activity, "tenantSync");
    let csrf = operator.session_csrf().await;
    let again = operator
        .post_form(&format!("/admin/events/{}/replay", sync.id), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(again.status, 303);
    let replay = app.last_event().await;
    assert_eq!((replay.replay_of, replay.result_code.as_str()), (Some(sync.id), "000000"));
    assert_eq!(app.tenant(&enterprise.tenant_id).await["name"], "Example Enterprise");

    // The JSON API is unchanged by replays.
    let (_, events) = app.admin_get("/admin/api/events?limit=1").await;
    let expected: BTreeSet<String> =
        ["id", "receivedAt", "channel", "activity", "resultCode", "instanceId", "tenantId"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(keys(&events[0]), expected);
}
on_both_backends!(
    replaying_a_purchase_changes_nothing_and_is_recorded_as_a_replay,
    &crate::helpers::admin_settings()
);

#[tokio::test]
async fn a_call_refused_before_it_authenticated_cannot_be_replayed() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let refused = app
        .v2_with(
            new_instance_body("CS-x", "biz-x").into_bytes(),
            V2Options { key: "not-the-access-key".to_string(), ..V2Options::default() },
        )
        .await;
    assert_ne!(refused.code(), "000000");
    let event = app.last_event().await;
    assert!(event.replay_sealed.is_none());
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let page = operator.page(&format!("/admin/events/{}", event.id)).await;
    assert!(!page.body.contains("Replay this call"));
    let tried = operator
        .post_form(
            &format!("/admin/events/{}/replay", event.id),
            &[("csrf_token", &csrf_token(&page))],
        )
        .await;
    assert_eq!(tried.status, 400);
    assert!(tried.body.contains("cannot be replayed"));
}

async fn an_operator_freeze_ends_sessions_and_is_recorded_as_operator(app: TestApp) {
    let enterprise = populated_enterprise(&app, "Acme").await;
    // A user signed in before the freeze.
    let now = chrono::Utc::now().timestamp_millis();
    let session = entity::session::Model {
        id_hash: "a".repeat(64),
        tenant_id: enterprise.tenant_id.clone(),
        app_id: APP_ID.to_string(),
        instance_id: Some(enterprise.instance_id.clone()),
        user_name: "alice".to_string(),
        name: "Alice".to_string(),
        role: "admin".to_string(),
        org_code: None,
        email_sealed: None,
        access_token_sealed: "x".to_string(),
        refresh_token_sealed: None,
        access_expires_at: i64::MAX,
        created_at: now,
        last_seen_at: now,
        expires_at: now + 3_600_000,
        public_id: "a-public-id".to_string(),
    };
    entity::session::Entity::insert(entity::session::ActiveModel::from(session))
        .exec_without_returning(&app.db)
        .await
        .expect("a session");

    let operator = Operator::new(&app);
    operator.sign_in().await;
    let tenant_path = format!("/admin/tenants/{}", enterprise.tenant_id);
    let page = operator.page(&tenant_path).await;
    let freeze = format!("/admin/instances/{}/freeze", enterprise.instance_id);
    assert!(page.body.contains(&freeze), "a freeze button");
    let csrf = csrf_token(&page);
    let fields = [("csrf_token", csrf.as_str()), ("reason", "unpaid invoice 42")];
    let frozen = operator.post_form(&freeze, &fields).await;
    assert_eq!(frozen.status, 303);
    assert_eq!(frozen.location.as_deref(), Some(format!("{tenant_path}?done=frozen").as_str()));
    let instance = app.instance(&enterprise.instance_id).await;
    assert_eq!(
        (instance["status"].as_str(), instance["frozenReason"].as_str()),
        (Some("frozen"), Some("operator"))
    );
    // The freeze revoked the tenant's access from a moment after the
    // session was made: every replica ends it.
    let revocations = entity::revocation::Entity::find().all(&app.db).await.expect("revocations");
    let tenant_subject = format!("tenant:{}", enterprise.tenant_id);
    assert!(
        revocations
            .iter()
            .any(|r| r.subject == tenant_subject && r.reason == "frozen" && r.at >= now),
        "the user's session ended: {revocations:?}"
    );

    let shown = operator.page(&format!("{tenant_path}?done=frozen")).await;
    assert!(shown.body.contains("The instance is frozen"));
    assert!(shown.body.contains("<strong>operator</strong>"), "the history says operator");

    let csrf = csrf_token(&shown);
    let unfreeze = format!("/admin/instances/{}/unfreeze", enterprise.instance_id);
    let active =
        operator.post_form(&unfreeze, &[("csrf_token", &csrf), ("reason", "invoice paid")]).await;
    assert_eq!(active.location.as_deref(), Some(format!("{tenant_path}?done=unfrozen").as_str()));
    assert_eq!(app.instance(&enterprise.instance_id).await["status"], "active");

    let history = entity::transition::Entity::find()
        .filter(entity::transition::Column::InstanceId.eq(enterprise.instance_id.as_str()))
        .order_by_asc(entity::transition::Column::Id)
        .all(&app.db)
        .await
        .expect("transitions");
    let steps: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|t| (t.from_status.as_str(), t.to_status.as_str(), t.cause.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("none", "active", "new_instance"),
            ("active", "frozen", "operator"),
            ("frozen", "active", "operator")
        ]
    );
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("operator", "unfreeze"));
    assert!(event.request.contains("\"operator\":\"admin\""), "who did it: {}", event.request);
}
on_both_backends!(
    an_operator_freeze_ends_sessions_and_is_recorded_as_operator,
    &crate::helpers::admin_settings()
);

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

/// A V1 call is kept without its `authToken` and replays through the V1
/// code: an expiry the operator lifted by hand comes back when replayed.
async fn a_v1_call_replays_without_its_token(app: TestApp) {
    use base64::Engine;
    let (order_id, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let expire = app
        .v1(&[("activity", "expireInstance"), ("instanceId", &id), ("orderId", &order_id)])
        .await;
    assert_eq!(expire.code(), "000000");
    let expiry = app.last_event().await;
    assert_eq!(expiry.channel, "lifecycle_v1");
    let master = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let vault = koogate::vault::Vault::from_base64(&master).expect("the tests' master key");
    let sealed = expiry.replay_sealed.clone().expect("kept for replay");
    let input = koogate::inbound::ReplayInput::open(&vault, &sealed).expect("opens");
    assert!(input.params.iter().all(|(k, _)| k != "authToken"), "{:?}", input.params);
    assert!(input.params.iter().any(|(k, v)| k == "activity" && v == "expireInstance"));

    let operator = Operator::new(&app);
    operator.sign_in().await;
    let csrf = operator.session_csrf().await;
    let fields = [("csrf_token", csrf.as_str()), ("reason", "renewed by phone")];
    operator.post_form(&format!("/admin/instances/{id}/unfreeze"), &fields).await;
    assert_eq!(app.instance(&id).await["status"], "active");
    let replayed = operator
        .post_form(&format!("/admin/events/{}/replay", expiry.id), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    let replay = app.last_event().await;
    assert_eq!((replay.channel.as_str(), replay.replay_of), ("lifecycle_v1", Some(expiry.id)));
    assert!(!replay.request.contains("authToken"), "{}", replay.request);
    let instance = app.instance(&id).await;
    assert_eq!(
        (instance["status"].as_str(), instance["frozenReason"].as_str()),
        (Some("frozen"), Some("expiry"))
    );
}
on_both_backends!(a_v1_call_replays_without_its_token, &crate::helpers::admin_settings());

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

/// A call's sealed input is kept for replays for 30 days, then forgotten
/// by housekeeping; the event itself (redacted request, answer) stays.
async fn replay_inputs_are_forgotten_after_thirty_days(app: TestApp) {
    use sea_orm::{ActiveModelTrait, Set};
    app.buy().await;
    let old = app.last_event().await;
    app.buy().await;
    let recent = app.last_event().await;
    assert!(old.replay_sealed.is_some() && recent.replay_sealed.is_some());
    let mut backdated: entity::event::ActiveModel = old.clone().into();
    backdated.received_at = Set(chrono::Utc::now() - chrono::Duration::days(31));
    backdated.update(&app.db).await.expect("backdated");

    let db = koogate::store::Db::connect(&app.database_url, 2).await.expect("connect");
    let forgotten = koogate::inbound::replay::forget_old_replay_inputs(&db).await.expect("purge");
    // The app's own housekeeping may have got there first: either way it
    // is forgotten once, and the state below is what matters.
    assert!(forgotten <= 1, "only the old input is forgotten: {forgotten}");
    let events = app.events().await;
    let old_now = events.iter().find(|e| e.id == old.id).expect("the old event stays");
    assert!(old_now.replay_sealed.is_none(), "its input is forgotten");
    assert_eq!(old_now.request, old.request, "the redacted request stays");
    let recent_now = events.iter().find(|e| e.id == recent.id).expect("the recent event");
    assert!(recent_now.replay_sealed.is_some(), "a recent call can still be replayed");
}
on_both_backends!(replay_inputs_are_forgotten_after_thirty_days, &crate::helpers::admin_settings());
