//! Signing in through the tenant's auth centre (spec §7, ARCHITECTURE §4):
//! koogate → auth centre → koogate, the session cookie it sets, the
//! refusals along the way, and signing out. Revocation is in
//! `sso_revocation.rs`.

use serde_json::json;

use crate::helpers::*;

/// `query` with the parameter `name` set to `value`, or removed (`None`).
fn with_param(query: &str, name: &str, value: Option<&str>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    out.extend_pairs(form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != name));
    if let Some(value) = value {
        out.append_pair(name, value);
    }
    out.finish()
}

async fn a_granted_user_signs_in_through_the_tenants_auth_centre(app: TestApp) {
    let scene = Scene::new(app).await;
    let centre = &scene.centre;
    centre.signs_in("alice");
    let browser = Browser::new(&scene.app);

    let login = browser.login(&scene.tenant_query()).await;
    let to_centre = login.redirect();
    let authorize = format!("{}/api/v1/oauth2/authorize?", centre.base_url);
    assert!(to_centre.starts_with(&authorize), "sent to {to_centre}");
    let login_cookie = login.cookie("koogate_login").expect("a login cookie");
    assert!(login_cookie.has("HttpOnly"), "{login_cookie:?}");

    let back = browser.authorize(&login).await;
    let asked = centre.last_authorize();
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], centre.client_id);
    assert_eq!(asked["redirect_uri"], format!("{PUBLIC_URL}/sso/callback"));
    assert_eq!(asked["scope"], "get_user_info");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["code_challenge"].len(), 43, "a SHA-256 in base64url");
    assert!(asked["state"].len() >= 16, "an unguessable state: {}", asked["state"]);

    let landed = browser.callback(&back).await;
    landed.assert_lands_on("/");
    let session = landed.cookie(SESSION).expect("a session cookie");
    assert!(session.has("HttpOnly"), "{session:?}");
    assert_eq!(session.attribute("SameSite").map(str::to_ascii_lowercase).as_deref(), Some("lax"));
    assert_eq!(session.attribute("Path"), Some("/"));
    assert!(!session.has("Secure"), "public_url is http: {session:?}");
    assert!(!session.value.is_empty() && !session.value.contains("alice"), "an opaque id");

    // The code was redeemed by the tenant's client, with the PKCE verifier.
    let redeemed = centre.last_token_request();
    assert_eq!(redeemed["grant_type"], "authorization_code");
    assert_eq!(redeemed["client_id"], centre.client_id);
    assert_eq!(redeemed["client_secret"], centre.client_secret);
    assert_eq!(redeemed["redirect_uri"], asked["redirect_uri"]);
    assert_eq!(s256(&redeemed["code_verifier"]), asked["code_challenge"]);
    assert_eq!(
        centre.calls(),
        Calls { authorize: 1, token: 1, userinfo: 1, logout: 0, validate: 0 }
    );

    assert_eq!(browser.me().await, (200, scene.me_of("alice")));
    assert_eq!(Browser::new(&scene.app).me().await.0, 401, "another browser has no session");
}
kit_on_every_session_store!(a_granted_user_signs_in_through_the_tenants_auth_centre);

async fn the_instance_link_signs_in_to_its_tenant_and_lands_on_next(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("bob");
    let browser = Browser::new(&scene.app);
    // appInfo.frontEndUrl names the instance; `next` is where the app wants the user.
    let next = "/reports/42?tab=people";
    let login = query(&[("instance", &scene.enterprise.instance_id), ("next", next)]);
    browser.sign_in(&login).await.assert_lands_on(next);
    assert_eq!(browser.me().await, (200, scene.me_of("bob")));
}
kit_on_every_session_store!(the_instance_link_signs_in_to_its_tenant_and_lands_on_next);

async fn the_login_refuses_unknown_unconfigured_frozen_and_released_tenants(app: TestApp) {
    let scene = Scene::new(app).await;
    let app = &scene.app;
    let instance = &scene.enterprise.instance_id;
    let browser = Browser::new(app);

    browser.login("tenant=no-such-tenant").await.assert_refused(404);

    // Bound, but the marketplace has not sent the app's OAuth client yet.
    let unconfigured = app.enterprise_at(&scene.centre.base_url).await;
    browser.login(&query(&[("tenant", &unconfigured.tenant_id)])).await.assert_refused(403);

    app.set_instance_status(instance, "FREEZE").await;
    browser.login(&scene.tenant_query()).await.assert_refused(403);
    browser.login(&query(&[("instance", instance)])).await.assert_refused(403);

    app.release_instance(instance).await;
    browser.login(&scene.tenant_query()).await.assert_refused(410);
    browser.login(&query(&[("instance", instance)])).await.assert_refused(410);
}
kit_on_every_session_store!(the_login_refuses_unknown_unconfigured_frozen_and_released_tenants);

async fn a_callback_without_this_browsers_own_fresh_state_is_refused(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let back = browser.authorize(&browser.login(&scene.tenant_query()).await).await;

    browser.callback(&with_param(&back, "state", None)).await.assert_refused(400);
    let forged = with_param(&back, "state", Some("forged0123456789abcdef"));
    browser.callback(&forged).await.assert_refused(400);
    // The genuine state, but in a browser that did not start the login:
    // the short-lived login cookie binds the state to its browser.
    let other = Browser::new(&scene.app);
    other.callback(&back).await.assert_refused(400);
    assert_eq!(other.me().await.0, 401);
    assert_eq!(browser.me().await.0, 401);
    assert_eq!(scene.centre.calls().token, 0, "a bad state is refused before the code is redeemed");

    // A state is good once.
    let back = browser.authorize(&browser.login(&scene.tenant_query()).await).await;
    browser.callback(&back).await.assert_lands_on("/");
    browser.callback(&back).await.assert_refused(400);
}
kit_on_every_session_store!(a_callback_without_this_browsers_own_fresh_state_is_refused);

async fn a_code_the_auth_centre_refuses_ends_on_a_bad_gateway_page(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.refuse_codes();
    let (browser, page) = scene.sign_in("alice").await;
    page.assert_refused(502);
    assert!(page.cookie(SESSION).is_none_or(|c| c.value.is_empty()), "{page:#?}");
    assert_eq!(browser.me().await.0, 401);
    assert_eq!(scene.centre.calls().userinfo, 0);
}
kit_on_every_session_store!(a_code_the_auth_centre_refuses_ends_on_a_bad_gateway_page);

async fn only_granted_and_enabled_people_get_a_session(app: TestApp) {
    let scene = Scene::new(app).await;

    // carol is a real account of the tenant, but the app is not granted to her.
    let (browser, page) = scene.sign_in("carol").await;
    page.assert_refused(403);
    assert_eq!(browser.me().await.0, 401);

    scene.auth_sync(2, 2, json!([member("bob", "false")])).await;
    let (browser, page) = scene.sign_in("bob").await;
    page.assert_refused(403);
    assert_eq!(browser.me().await.0, 401);

    scene.auth_sync(2, 3, json!([member("bob", "true")])).await;
    scene.signed_in("bob").await;

    scene.auth_sync(3, 4, json!([member("bob", "true")])).await;
    scene.sign_in("bob").await.1.assert_refused(403);

    scene.signed_in("alice").await;
}
kit_on_every_session_store!(only_granted_and_enabled_people_get_a_session);

async fn a_tenant_frozen_or_released_during_the_sign_in_gets_no_session(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    let instance = &scene.enterprise.instance_id;
    let browser = Browser::new(&scene.app);

    let back = browser.authorize(&browser.login(&scene.tenant_query()).await).await;
    scene.app.set_instance_status(instance, "FREEZE").await;
    browser.callback(&back).await.assert_refused(403);
    assert_eq!(browser.me().await.0, 401);

    scene.app.set_instance_status(instance, "UNFREEZE").await;
    let back = browser.authorize(&browser.login(&scene.tenant_query()).await).await;
    scene.app.release_instance(instance).await;
    browser.callback(&back).await.assert_refused(410);
    assert_eq!(browser.me().await.0, 401);
}
kit_on_every_session_store!(a_tenant_frozen_or_released_during_the_sign_in_gets_no_session);

async fn signing_out_ends_the_session_and_passes_by_the_auth_centre(app: TestApp) {
    let scene = Scene::new(app).await;
    let logout = format!("{}/api/v1/logout?", scene.centre.base_url);
    let browser = scene.signed_in("alice").await;

    let out = browser.sign_out().await;
    let to_centre = out.redirect().to_string();
    assert!(to_centre.starts_with(&logout), "sent to {to_centre}");
    let url = reqwest::Url::parse(&to_centre).expect("a URL");
    let back_to = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_url")
        .map(|(_, v)| v.into_owned())
        .expect("a redirect_url");
    assert!(
        back_to == PUBLIC_URL || back_to.starts_with(&format!("{PUBLIC_URL}/")),
        "redirect_url {back_to} is not an absolute URL of koogate"
    );
    assert_eq!(browser.me().await.0, 401);

    // The auth centre ends its own session and sends the browser back.
    let back = browser.get(&to_centre).await;
    assert_eq!(back.redirect(), back_to);
    assert_eq!(scene.centre.calls().logout, 1);
    assert_eq!(scene.centre.last_logout()["redirect_url"], back_to);

    // A sign-out button of a page on this site posting a form does the same.
    let browser = scene.signed_in("alice").await;
    let out = browser.post_from_this_site("/sso/logout").await;
    assert!(matches!(out.status, 302 | 303), "{out:#?}");
    let to_centre = out.location.as_deref().expect("a Location");
    assert!(to_centre.starts_with(&logout), "sent to {to_centre}");
    assert_eq!(browser.me().await.0, 401);
}
kit_on_every_session_store!(signing_out_ends_the_session_and_passes_by_the_auth_centre);

async fn every_sign_in_gets_a_new_session_id(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let first = browser.sign_in(&scene.tenant_query()).await;
    first.assert_lands_on("/");
    let second = browser.sign_in(&scene.tenant_query()).await;
    second.assert_lands_on("/");

    let first = &first.cookie(SESSION).expect("a first session").value;
    let second = &second.cookie(SESSION).expect("a second session").value;
    assert_ne!(first, second);
    assert_eq!(browser.me().await, (200, scene.me_of("alice")));
}
kit_on_every_session_store!(every_sign_in_gets_a_new_session_id);

async fn with_secure_cookies_the_session_cookie_is_host_prefixed(app: TestApp) {
    let scene = Scene::new(app).await;
    let (browser, page) = scene.sign_in("alice").await;
    page.assert_lands_on("/");

    let session = page.cookie("__Host-koogate_session").expect("a __Host- session cookie");
    assert!(session.has("Secure") && session.has("HttpOnly"), "{session:?}");
    assert_eq!(session.attribute("SameSite").map(str::to_ascii_lowercase).as_deref(), Some("lax"));
    assert_eq!(session.attribute("Path"), Some("/"));
    assert!(!session.has("Domain"), "{session:?}");
    // The cookie jar treats loopback as a secure origin, so it sends the
    // cookie back even over http.
    assert_eq!(browser.me().await, (200, scene.me_of("alice")));
}
on_both_backends!(
    with_secure_cookies_the_session_cookie_is_host_prefixed,
    crate::helpers::SECURE_COOKIE_KIT_SETTINGS
);

async fn a_next_pointing_elsewhere_never_sends_the_browser_off_site(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    for next in ["https://evil.example/", "//evil.example/", "/\\evil.example/"] {
        let browser = Browser::new(&scene.app);
        let login =
            browser.login(&query(&[("tenant", &scene.enterprise.tenant_id), ("next", next)])).await;
        if login.status != 302 {
            // Refusing such a link outright is fine too.
            assert_eq!(login.status, 400, "{next}: {login:#?}");
            continue;
        }
        let landed = browser.callback(&browser.authorize(&login).await).await;
        let location = landed.redirect();
        let on_site = location.starts_with(&format!("{PUBLIC_URL}/"))
            || (location.starts_with('/')
                && !location.starts_with("//")
                && !location.starts_with("/\\"));
        assert!(on_site, "next={next} sent the browser to {location}");
    }
}
kit_on_every_session_store!(a_next_pointing_elsewhere_never_sends_the_browser_off_site);

/// Access tokens that are about to expire are refreshed as the user goes
/// on; when the auth centre refuses the refresh, the session ends.
async fn a_session_outlives_its_access_token_until_the_refresh_is_refused(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    // Shorter than koogate's refresh margin: every visit refreshes.
    scene.centre.tokens_live(60);
    let browser = Browser::new(&scene.app);
    browser.sign_in(&scene.tenant_query()).await.assert_lands_on("/");

    assert_eq!(browser.me().await.0, 200);
    assert!(scene.centre.refreshes() >= 1, "the access token was refreshed");
    let (status, me) = browser.me().await;
    assert_eq!((status, me["userName"].as_str()), (200, Some("alice")));

    scene.centre.refuse_refresh();
    assert_eq!(browser.me().await.0, 401, "a refused refresh ends the session");
}
kit_on_every_session_store!(a_session_outlives_its_access_token_until_the_refresh_is_refused);

/// Unified mode: koogate sends the browser to the marketplace's unified
/// login page for the app, and accepts the callback that page produces,
/// which carries no state (the flow may also start at the marketplace).
async fn unified_mode_accepts_the_marketplaces_stateless_callback(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let login = browser.login(&scene.tenant_query()).await;
    assert_eq!(
        login.redirect(),
        format!("https://macroverse.huaweicloud.com/unified-login/#/portal-login?ind=UNOP&appId={APP_ID}")
    );

    // The unified page signs the user in at the tenant's auth centre and
    // comes back with a code and the tenant, no state, no PKCE.
    let callback = format!("{PUBLIC_URL}/sso/callback");
    let authorize = format!(
        "{}/api/v1/oauth2/authorize?{}",
        scene.centre.base_url,
        query(&[
            ("response_type", "code"),
            ("client_id", &scene.centre.client_id),
            ("redirect_uri", &callback),
            ("scope", "get_user_info")
        ])
    );
    let back = browser.get(&authorize).await;
    let (_, answer) = back.redirect().split_once('?').expect("a query on the way back");
    assert!(!answer.contains("state="), "{answer}");
    browser.callback(answer).await.assert_lands_on("/");
    let (status, me) = browser.me().await;
    assert_eq!((status, me["userName"].as_str()), (200, Some("alice")));

    // Who is not granted still gets no session.
    scene.centre.signs_in("carol");
    let back = browser.get(&authorize).await;
    let (_, answer) = back.redirect().split_once('?').expect("a query");
    browser.callback(answer).await.assert_refused(403);
}
on_both_backends!(
    unified_mode_accepts_the_marketplaces_stateless_callback,
    crate::helpers::UNIFIED_KIT_SETTINGS
);
