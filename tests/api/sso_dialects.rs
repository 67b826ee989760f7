//! Signing in through each dialect a tenant's auth centre may speak (spec
//! §7): the KooGallery auth centre, OpenID Connect, Huawei OrgID and the aPaaS workbench's
//! CAS, each played by `koogate sim auth-centre --dialect …` and chosen per
//! tenant by an operator (`PUT /admin/api/tenants/{tenantId}/sign-in`).
//! Every dialect ends in the same grant rules and the same session.

use serde_json::json;

use crate::helpers::*;

/// A sign-in's answer up to the point koogate gets it: the path it lands
/// on (`/sso/callback` or `/sso/cas`) and its query.
async fn answer_for(scene: &Scene, browser: &Browser, user_name: &str) -> (&'static str, String) {
    scene.centre.signs_in(user_name);
    let login = browser.login(&scene.tenant_query()).await;
    let path = match scene.dialect {
        SimDialect::Cas => "/sso/cas",
        _ => "/sso/callback",
    };
    (path, browser.back_from(login.redirect(), path).await)
}

async fn present(browser: &Browser, path: &str, query: &str) -> Page {
    browser.open(&format!("{path}?{query}")).await
}

/// One dialect's whole story: alice signs in and is who the syncs say,
/// carol (known to the auth centre, never granted) is refused, an answer
/// used once is refused the second time, one made for this tenant is
/// refused for another, and a freeze ends the session and keeps everyone
/// out.
async fn a_tenant_signs_in_through_its_dialect(app: TestApp, dialect: SimDialect) {
    let scene = Scene::speaking(app, dialect).await;
    let alice = scene.signed_in("alice").await;
    if dialect == SimDialect::Oidc {
        let asked = scene.centre.last_authorize();
        assert!(asked.contains_key("nonce") && asked["scope"].contains("openid"), "{asked:?}");
    }
    let (_, refused) = scene.sign_in("carol").await;
    refused.assert_refused(403);

    // The same answer twice: the second is refused and opens nothing.
    let browser = Browser::new(&scene.app);
    let (path, query) = answer_for(&scene, &browser, "bob").await;
    present(&browser, path, &query).await.assert_lands_on("/");
    let again = Browser::new(&scene.app);
    present(&again, path, &query).await.assert_refused(400);
    present(&browser, path, &query).await.assert_refused(400);
    assert_eq!(again.me().await.0, 401);

    // An answer made for this tenant, presented for another one that
    // speaks the same dialect and grants bob too.
    let other = Scene::speaking(scene.app.at(&scene.app.address), dialect).await;
    let browser = Browser::new(&scene.app);
    let (path, query) = answer_for(&scene, &browser, "bob").await;
    let elsewhere = query.replace(&scene.enterprise.tenant_id, &other.enterprise.tenant_id);
    assert_ne!(elsewhere, query);
    let refused = present(&browser, path, &elsewhere).await;
    assert!(matches!(refused.status, 400 | 502), "{refused:#?}");
    refused.assert_refused(refused.status);
    assert_eq!(browser.me().await.0, 401);

    scene.app.set_instance_status(&scene.enterprise.instance_id, "FREEZE").await;
    alice.assert_signed_out_within_a_second().await;
    alice.login(&scene.tenant_query()).await.assert_refused(403);
    assert_eq!(other.signed_in("alice").await.me().await.0, 200, "the other tenant is open");
}

async fn koogallery_sign_in(app: TestApp) {
    a_tenant_signs_in_through_its_dialect(app, SimDialect::KooGallery).await;
}
kit_on_both_backends!(koogallery_sign_in);

async fn oidc_sign_in(app: TestApp) {
    a_tenant_signs_in_through_its_dialect(app, SimDialect::Oidc).await;
}
kit_on_both_backends!(oidc_sign_in);

async fn orgid_sign_in(app: TestApp) {
    a_tenant_signs_in_through_its_dialect(app, SimDialect::OrgId).await;
}
kit_on_both_backends!(orgid_sign_in);

async fn cas_sign_in(app: TestApp) {
    a_tenant_signs_in_through_its_dialect(app, SimDialect::Cas).await;
}
kit_on_both_backends!(cas_sign_in);

/// OrgID is asked on its own paths, with its own userinfo header, for a
/// refresh token; its snake_case userinfo fills the same session.
async fn orgid_is_spoken_as_orgid_speaks(app: TestApp) {
    let scene = Scene::speaking(app, SimDialect::OrgId).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let login = browser.login(&scene.tenant_query()).await;
    let authorize = format!("{}/orgid/openapi/v1/oauth2/authorize?", scene.centre.base_url);
    assert!(login.redirect().starts_with(&authorize), "{}", login.redirect());
    let query = browser.back_from(login.redirect(), "/sso/callback").await;
    browser.callback(&query).await.assert_lands_on("/");
    assert_eq!(browser.me().await, (200, scene.me_of("alice")));

    assert_eq!(scene.centre.last_token_request()["access_type"], "offline");
    let headers = scene.centre.last_userinfo_headers();
    assert!(headers["x-orgid-authorization"].starts_with("Bearer at-"), "{headers:?}");
    assert!(!headers.contains_key("authorization"), "no plain Authorization: {headers:?}");
}
kit_on_both_backends!(orgid_is_spoken_as_orgid_speaks);

/// CAS as the workbench starts it: the browser arrives with a ticket for
/// `/sso/cas?tenant=T`, koogate never having seen it before; answers in
/// XML and in JSON read the same; a ticket is used once even where the
/// CAS server would accept it again; a frozen tenant lets nobody in.
async fn the_workbench_signs_people_in_with_cas_tickets(app: TestApp) {
    let scene = Scene::speaking(app, SimDialect::Cas).await;
    let tenant_id = scene.enterprise.tenant_id.clone();
    let service = format!("{PUBLIC_URL}/sso/cas?{}", query(&[("tenant", &tenant_id)]));
    let login =
        format!("{}/api/v1/cas/login?{}", scene.centre.base_url, query(&[("service", &service)]));
    scene.centre.keep_tickets();

    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let ticket = browser.back_from(&login, "/sso/cas").await;
    assert!(ticket.starts_with(&format!("tenant={tenant_id}&ticket=ST-")), "{ticket}");
    browser.cas(&ticket).await.assert_lands_on("/");
    assert_eq!(browser.me().await, (200, scene.me_of("alice")));
    let validations = scene.centre.calls().validate;
    let replay = Browser::new(&scene.app);
    replay.cas(&ticket).await.assert_refused(400);
    assert_eq!(replay.me().await.0, 401);
    assert_eq!(scene.centre.calls().validate, validations, "a replay is not sent on");

    scene.centre.answer_cas_in_json();
    scene.centre.signs_in("bob");
    let bob = Browser::new(&scene.app);
    let ticket = bob.back_from(&login, "/sso/cas").await;
    bob.cas(&ticket).await.assert_lands_on("/");
    assert_eq!(bob.me().await, (200, scene.me_of("bob")));

    scene.centre.signs_in("carol");
    let carol = Browser::new(&scene.app);
    let ticket = carol.back_from(&login, "/sso/cas").await;
    carol.cas(&ticket).await.assert_refused(403);

    // A ticket made for this tenant's service, presented for another
    // tenant of the same CAS server: the server refuses it.
    let other = scene.app.enterprise_for_order_at(&scene.centre.base_url, &random_id("CS")).await;
    scene
        .app
        .give_app_credential(&other, &scene.centre.client_id, &scene.centre.client_secret)
        .await;
    scene.app.set_sign_in(&other.tenant_id, "cas", None).await;
    let grants = other.auth_sync(1, "20240101000000000", json!([member("alice", "true")]));
    scene.app.kit_v2("authSync", &grants).await.assert_kit_ok();
    scene.centre.signs_in("alice");
    let ticket = carol.back_from(&login, "/sso/cas").await;
    let elsewhere = ticket.replace(&tenant_id, &other.tenant_id);
    carol.cas(&elsewhere).await.assert_refused(502);
    assert_eq!(carol.me().await.0, 401);

    // No ticket, or a ticket with no tenant: nothing to validate.
    carol.cas(&format!("tenant={tenant_id}")).await.assert_refused(400);
    carol.cas("ticket=ST-nothing").await.assert_refused(400);

    scene.app.set_instance_status(&scene.enterprise.instance_id, "FREEZE").await;
    browser.assert_signed_out_within_a_second().await;
    scene.centre.signs_in("alice");
    let ticket = browser.back_from(&login, "/sso/cas").await;
    browser.cas(&ticket).await.assert_refused(403);
}
kit_on_both_backends!(the_workbench_signs_people_in_with_cas_tickets);

/// Tickets anyone can make up (`/sso/cas` is anonymous): each is refused
/// by the CAS server and leaves no used-ticket record behind; only the
/// refused sign-in attempts themselves are recorded, as for every dialect.
async fn made_up_cas_tickets_leave_nothing_behind(app: TestApp) {
    let scene = Scene::speaking(app, SimDialect::Cas).await;
    let tenant_id = scene.enterprise.tenant_id.clone();
    let before = scene.app.row_counts().await;
    let stranger = Browser::new(&scene.app);
    for n in 0..200 {
        let made_up = query(&[("tenant", &tenant_id), ("ticket", &format!("ST-{n}-made-up"))]);
        let refused = stranger.cas(&made_up).await;
        assert!(matches!(refused.status, 400 | 502), "{refused:#?}");
    }
    let mut after = scene.app.row_counts().await;
    let mut before = before;
    before.remove("sign_ins");
    after.remove("sign_ins");
    assert_eq!(after, before, "200 made-up CAS tickets grew a table");
}
kit_on_both_backends!(made_up_cas_tickets_leave_nothing_behind);

/// A tenant whose CAS is the site's OrgID host (`sso.orgid_url`): the
/// ticket is validated on OrgID's path, and who signed in is read from
/// OrgID's userinfo with the answer's token. An `orgid` tenant without a
/// base URL of its own signs in at `sso.orgid_url`.
async fn the_sites_orgid_host_serves_cas_and_oauth(backend: Backend) {
    let centre = AuthCentre::speaking(SimDialect::OrgId, &random_id("client-"), &random_id("s-"));
    let base = centre.base_url.clone();
    let mut settings = KIT_SETTINGS.to_vec();
    settings.push(("sso.orgid_url", &base));
    let app = match backend {
        Backend::Sqlite => spawn_app(Backend::Sqlite, &settings).await,
        Backend::Postgres => match spawn_postgres_app(&settings).await {
            Some(app) => app,
            None => return,
        },
    };
    let cas = Scene::with_centre(app, centre, &random_id("CS"), &|_: &AuthCentre| {
        "http://127.0.0.1:9".to_string()
    })
    .await;
    let tenant_id = cas.enterprise.tenant_id.clone();
    cas.app.set_sign_in(&tenant_id, "cas", Some(&base)).await;
    cas.centre.signs_in("alice");
    let browser = Browser::new(&cas.app);
    browser.sign_in_cas(&cas.tenant_query()).await.assert_lands_on("/");
    assert_eq!(browser.me().await, (200, cas.me_of("alice")));
    assert_eq!(cas.centre.calls().validate, 1);
    assert!(cas.centre.last_userinfo_headers().contains_key("x-orgid-authorization"));

    cas.app.set_sign_in(&tenant_id, "orgid", None).await;
    let answer = cas.app.tenant(&tenant_id).await;
    assert_eq!(answer["signIn"]["dialect"], "orgid");
    assert_eq!(answer["signIn"]["baseUrl"], serde_json::Value::Null);
    let oauth = Browser::new(&cas.app);
    let login = oauth.login(&cas.tenant_query()).await;
    assert!(login.redirect().starts_with(&format!("{base}/orgid/openapi/v1/oauth2/authorize?")));
    let query = oauth.back_from(login.redirect(), "/sso/callback").await;
    oauth.callback(&query).await.assert_lands_on("/");
    assert_eq!(oauth.me().await, (200, cas.me_of("alice")));
}

#[tokio::test]
async fn the_sites_orgid_host_serves_cas_and_oauth_on_sqlite() {
    the_sites_orgid_host_serves_cas_and_oauth(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_sites_orgid_host_serves_cas_and_oauth_on_postgres() {
    the_sites_orgid_host_serves_cas_and_oauth(Backend::Postgres).await;
}

/// An operator sets a tenant's dialect and base URL through the admin
/// API; the tenant answer shows it; an unknown dialect, a URL that is not
/// a plain web address or a body that is not JSON is refused with 400 and
/// changes nothing.
async fn an_operator_chooses_how_a_tenant_signs_in(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let tenant_id = enterprise.tenant_id.as_str();
    let site_default = json!({"dialect": "auto", "baseUrl": null, "detected": null});
    assert_eq!(app.tenant(tenant_id).await["signIn"], site_default);

    let body = r#"{"dialect": "cas", "baseUrl": "https://apaas.example.com/"}"#;
    let chosen =
        json!({"dialect": "cas", "baseUrl": "https://apaas.example.com", "detected": null});
    assert_eq!(app.put_sign_in(tenant_id, body).await, (200, chosen.clone()));
    assert_eq!(app.put_sign_in(tenant_id, body).await, (200, chosen.clone()), "a repeat");
    assert_eq!(app.tenant(tenant_id).await["signIn"], chosen);

    let footprint = app.sync_footprint(tenant_id).await;
    for bad in [
        r#"{"dialect": "saml"}"#,
        r#"{"dialect": "CAS "}"#,
        r#"{"dialect": "orgid", "baseUrl": "ftp://orgid.example.com"}"#,
        r#"{"dialect": "orgid", "baseUrl": "https://orgid.example.com/?next=1"}"#,
        r#"{"dialect": "orgid", "baseUrl": "orgid.example.com"}"#,
        r#"{"baseUrl": "https://orgid.example.com"}"#,
        "dialect=cas",
    ] {
        let (status, answer) = app.put_sign_in(tenant_id, bad).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert_eq!(answer["error"], "invalid_request", "{bad}: {answer}");
        assert_eq!(app.sync_footprint(tenant_id).await, footprint, "{bad} changed something");
    }
    assert_eq!(app.put_sign_in("no-such-tenant", body).await.0, 404);
    let anonymous = app
        .http
        .put(format!("{}/admin/api/tenants/{tenant_id}/sign-in", app.address))
        .header("Content-Type", "application/json")
        .body(r#"{"dialect": "auto"}"#)
        .send()
        .await
        .expect("request sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(app.tenant(tenant_id).await["signIn"], chosen);

    let back = json!({"dialect": "auto", "baseUrl": null, "detected": null});
    assert_eq!(app.put_sign_in(tenant_id, r#"{"dialect": "auto"}"#).await, (200, back));
}
kit_on_both_backends!(an_operator_chooses_how_a_tenant_signs_in);

/// Kit deletes the app (applicationSync flag 0): every session that
/// signed in through it ends within a second, on this tenant only, and
/// nobody signs in through it again.
async fn deleting_the_app_ends_the_sessions_made_through_it(app: TestApp) {
    let scene = Scene::new(app).await;
    let other = Scene::new(scene.app.at(&scene.app.address)).await;
    let alice = scene.signed_in("alice").await;
    let bob = scene.signed_in("bob").await;
    let elsewhere = other.signed_in("alice").await;

    let sealed = encrypt_client_secret(&scene.centre.client_secret, OaepDigest::Sha256WithMgf1Sha1);
    let delete = scene.enterprise.application_sync(APP_ID, &scene.centre.client_id, &sealed, 0);
    scene.app.kit_v2("applicationSync", &delete).await.assert_kit_ok();
    alice.assert_signed_out_within_a_second().await;
    bob.assert_signed_out_within_a_second().await;
    assert_eq!(elsewhere.me().await, (200, other.me_of("alice")), "another tenant's session");
    scene.app.kit_v2("applicationSync", &delete).await.assert_kit_ok();
    alice.login(&scene.tenant_query()).await.assert_refused(403);
}
kit_on_every_session_store!(deleting_the_app_ends_the_sessions_made_through_it);

/// Two replicas: the deletion sent to one ends the session on both.
#[tokio::test]
async fn deleting_the_app_on_one_replica_ends_the_session_on_both() {
    let Some(first) = spawn_postgres_app(KIT_SETTINGS).await else { return };
    let second = first.replica(KIT_SETTINGS).await;
    let scene = Scene::new(first).await;
    let alice = scene.signed_in("alice").await;
    let alice_on_second = alice.behind(&second);
    assert_eq!(alice_on_second.me().await.0, 200);

    let sealed = encrypt_client_secret(&scene.centre.client_secret, OaepDigest::Sha256WithMgf1Sha1);
    let delete = scene.enterprise.application_sync(APP_ID, &scene.centre.client_id, &sealed, 0);
    second.kit_v2("applicationSync", &delete).await.assert_kit_ok();
    alice.assert_signed_out_within_a_second().await;
    alice_on_second.assert_signed_out_within_a_second().await;
}

/// The same choice from the tenant's page: its form shows what is in
/// force, takes a new dialect with the session's CSRF token, refuses one
/// without it or with an unknown dialect, and either way changes nothing
/// it refused.
async fn an_operator_sets_the_sign_in_on_the_tenant_page(app: TestApp) {
    let enterprise = populated_enterprise(&app, "Acme").await;
    let tenant_id = enterprise.tenant_id.as_str();
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let page_path = format!("/admin/tenants/{tenant_id}");
    let page = operator.page(&page_path).await;
    let form = format!("/admin/tenants/{tenant_id}/sign-in");
    assert!(page.body.contains(&form), "a sign-in form");
    assert!(page.body.contains("<option value=\"orgid\""), "the dialects offered");
    let csrf = csrf_token(&page);

    let base = "https://orgid.example.com";
    let forged = [("csrf_token", "forged"), ("dialect", "orgid"), ("base_url", base)];
    assert_eq!(operator.post_form(&form, &forged).await.status, 403);
    let unknown = [("csrf_token", csrf.as_str()), ("dialect", "saml"), ("base_url", "")];
    assert_eq!(operator.post_form(&form, &unknown).await.status, 400);
    let site_default = json!({"dialect": "auto", "baseUrl": null, "detected": null});
    assert_eq!(app.tenant(tenant_id).await["signIn"], site_default);

    let set = [("csrf_token", csrf.as_str()), ("dialect", "orgid"), ("base_url", base)];
    let done = operator.post_form(&form, &set).await;
    assert_eq!(done.status, 303, "{done:#?}");
    assert_eq!(done.location.as_deref(), Some(format!("{page_path}?done=sign_in").as_str()));
    let chosen = json!({"dialect": "orgid", "baseUrl": base, "detected": null});
    assert_eq!(app.tenant(tenant_id).await["signIn"], chosen);
    let page = operator.page(&page_path).await;
    assert!(page.body.contains("<option value=\"orgid\" selected>"), "shown as chosen");
    assert!(page.body.contains("orgid.example.com"), "the base URL shown");
}
on_both_backends!(
    an_operator_sets_the_sign_in_on_the_tenant_page,
    &crate::helpers::admin_settings()
);
