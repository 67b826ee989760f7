//! What a hostile page or marketplace user tried against signing in and
//! out (issue 13 items 6 and 10), and what must hold.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

async fn signing_out_takes_a_click_on_this_site(app: TestApp) {
    let scene = Scene::new(app).await;
    let browser = scene.signed_in("alice").await;

    // A link or an image elsewhere only shows the question.
    let asked = browser.open("/sso/logout").await;
    assert_eq!(asked.status, 200, "{asked:#?}");
    assert!(asked.body.contains("Sign out?"), "{}", asked.body);
    assert_eq!(browser.me().await.0, 200, "a GET signs nobody out");

    // A form on another site posts without the page's token.
    let forged = browser.post("/sso/logout").await;
    forged.assert_refused(400);
    let elsewhere = browser
        .client()
        .post(format!("{}/sso/logout", scene.app.address))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", "guessed")])
        .send()
        .await
        .expect("sent");
    assert_eq!(elsewhere.status().as_u16(), 400);
    assert_eq!(browser.me().await.0, 200, "still signed in");

    // The page's button signs out.
    let out = browser.sign_out().await;
    assert!(out.redirect().starts_with(&scene.centre.base_url), "{out:#?}");
    assert_eq!(browser.me().await.0, 401);
}
kit_on_every_session_store!(signing_out_takes_a_click_on_this_site);

async fn two_sign_ins_started_in_one_browser_both_complete(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    // Two tabs start a sign-in each before either comes back.
    let first = browser.login(&scene.tenant_query()).await;
    let second = browser.login(&scene.tenant_query()).await;
    let first = browser.authorize(&first).await;
    let second = browser.authorize(&second).await;
    browser.callback(&first).await.assert_lands_on("/");
    browser.callback(&second).await.assert_lands_on("/");
    assert_eq!(browser.me().await, (200, scene.me_of("alice")));
    // Each state still works once only.
    browser.callback(&second).await.assert_refused(400);
}
kit_on_every_session_store!(two_sign_ins_started_in_one_browser_both_complete);

/// Unified mode, login CSRF: a marketplace user sends a signed-in
/// victim's browser to the callback with a code for their own account.
async fn a_stateless_callback_never_swaps_the_signed_in_account(app: TestApp) {
    let scene = Scene::new(app).await;
    let victim = Browser::new(&scene.app);
    victim.login(&scene.tenant_query()).await;
    let own = scene.unified_answer(&victim, "alice").await;
    victim.callback(&own).await.assert_lands_on("/");
    assert_eq!(victim.me().await, (200, scene.me_of("alice")));

    let attacker = Browser::new(&scene.app);
    let planted = scene.unified_answer(&attacker, "bob").await;
    let asked = victim.callback(&planted).await;
    assert_eq!(asked.status, 200, "asked, not signed in: {asked:#?}");
    assert!(asked.body.contains("Bob User") && asked.body.contains("Example Enterprise"));
    assert_eq!(victim.me().await, (200, scene.me_of("alice")), "still alice");

    // The form's token alone, posted from elsewhere, does nothing.
    let token = asked.hidden_field("csrf_token");
    attacker.post_form("/sso/confirm", &[("csrf_token", &token)]).await.assert_refused(400);
    assert_eq!(attacker.me().await.0, 401);

    // The victim declines: still alice, and the waiting session is gone.
    let declined =
        victim.post_form("/sso/confirm", &[("csrf_token", &token), ("choice", "cancel")]).await;
    assert_eq!(declined.status, 303, "{declined:#?}");
    assert_eq!(victim.me().await, (200, scene.me_of("alice")));
    victim.post_form("/sso/confirm", &[("csrf_token", &token)]).await.assert_refused(400);
    assert_eq!(victim.me().await, (200, scene.me_of("alice")));
}
crate::on_every_session_store!(
    a_stateless_callback_never_swaps_the_signed_in_account,
    crate::helpers::UNIFIED_KIT_SETTINGS
);

async fn a_first_sign_in_without_state_asks_once(app: TestApp) {
    let scene = Scene::new(app).await;
    // The marketplace's page sent this browser straight to koogate.
    let browser = Browser::new(&scene.app);
    let answer = scene.unified_answer(&browser, "bob").await;
    let asked = browser.callback(&answer).await;
    assert_eq!(asked.status, 200, "{asked:#?}");
    assert!(asked.body.contains("Bob User") && asked.body.contains("Example Enterprise"));
    assert!(asked.body.contains("bob"), "the account name is shown");
    assert_eq!(browser.me().await.0, 401, "nobody is signed in before the click");

    let token = asked.hidden_field("csrf_token");
    let done = browser.post_form("/sso/confirm", &[("csrf_token", &token)]).await;
    assert_eq!(done.status, 303, "{done:#?}");
    assert_eq!(done.location.as_deref(), Some("/"));
    assert_eq!(browser.me().await, (200, scene.me_of("bob")));
}
crate::on_every_session_store!(
    a_first_sign_in_without_state_asks_once,
    crate::helpers::UNIFIED_KIT_SETTINGS
);

/// Sends a request head announcing `length` body bytes, then one byte
/// every 200 ms; how long until koogate answers (or closes).
async fn trickle(app: &TestApp, path: &str, content_type: &str, length: usize) -> Duration {
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let started = std::time::Instant::now();
    let (mut read, mut write) = stream.into_split();
    let trickling = tokio::spawn(async move {
        for _ in 0..length {
            if write.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut first = [0u8; 1];
    let answered = tokio::time::timeout(Duration::from_secs(20), read.read(&mut first)).await;
    trickling.abort();
    assert!(answered.is_ok(), "{path}: no answer within 20 s of trickling");
    started.elapsed()
}

async fn a_body_that_trickles_in_is_cut_off(app: TestApp) {
    let kit = format!("{}/produceAPI/v2/tenantSync", app.marketplace_path);
    for (path, content_type) in [
        (kit.as_str(), "application/json"),
        ("/sso/local", "application/x-www-form-urlencoded"),
        ("/admin/login", "application/x-www-form-urlencoded"),
    ] {
        let took = trickle(&app, path, content_type, 4000).await;
        assert!(took < Duration::from_secs(6), "{path}: answered after {took:?}");
    }
}
on_both_backends!(a_body_that_trickles_in_is_cut_off, &[("server.body_timeout_secs", "2")]);

/// Starting a sign-in is anonymous: a script that opens `/sso/login` a
/// thousand times must not grow any table (the waiting sign-in lives in
/// the browser's sealed login cookie).
async fn anonymous_sign_in_starts_write_nothing(app: TestApp) {
    let scene = Scene::new(app).await;
    let before = scene.app.row_counts().await;
    let query = scene.tenant_query();
    for _ in 0..50 {
        let mut started = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let browser = Browser::new(&scene.app);
            let query = query.clone();
            started.spawn(async move { browser.login(&query).await.status });
        }
        while let Some(status) = started.join_next().await {
            assert_eq!(status.expect("joined"), 302);
        }
    }
    assert_eq!(scene.app.row_counts().await, before, "1,000 anonymous /sso/login grew a table");
}
kit_on_every_session_store!(anonymous_sign_in_starts_write_nothing);

/// The login cookie is the sign-in's only record: another browser's
/// cookie, or one changed by a single character, takes no callback; the
/// browser that started it still signs in.
async fn a_foreign_or_tampered_login_cookie_takes_no_callback(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let login = browser.login(&scene.tenant_query()).await;
    let sealed = login.cookie("koogate_login").expect("a login cookie").value.clone();
    let back = browser.authorize(&login).await;

    let stranger = Browser::new(&scene.app);
    stranger.login(&scene.tenant_query()).await;
    stranger.callback(&back).await.assert_refused(400);
    assert_eq!(stranger.me().await.0, 401);

    let mut changed = sealed.clone().into_bytes();
    let at = changed.len() / 2;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).expect("ascii");
    let forger = Browser::holding(&scene.app, &format!("koogate_login={changed}"));
    forger.callback(&back).await.assert_refused(400);
    assert_eq!(forger.me().await.0, 401);

    browser.callback(&back).await.assert_lands_on("/");
    assert_eq!(browser.me().await, (200, scene.me_of("alice")));
}
kit_on_every_session_store!(a_foreign_or_tampered_login_cookie_takes_no_callback);

/// A callback replayed with the login cookie as it was before the sign-in
/// finished (a copied request) is refused: the state is used up at the
/// server, not only dropped from the browser's cookie.
async fn a_callback_replayed_with_its_old_cookie_is_refused(app: TestApp) {
    let scene = Scene::new(app).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let login = browser.login(&scene.tenant_query()).await;
    let sealed = login.cookie("koogate_login").expect("a login cookie").value.clone();
    let back = browser.authorize(&login).await;
    let finished = browser.callback(&back).await;
    finished.assert_lands_on("/");
    let left = finished.cookie("koogate_login").expect("the login cookie, updated");
    assert_ne!(left.value, sealed, "the finished sign-in left the cookie");

    // Refused (by koogate's claim or, first, by the auth centre, which
    // takes a code once): no session either way.
    let copy = Browser::holding(&scene.app, &format!("koogate_login={sealed}"));
    let replay = copy.callback(&back).await;
    assert!(replay.status >= 400 && replay.location.is_none(), "{replay:#?}");
    assert_eq!(copy.me().await.0, 401);
}
kit_on_every_session_store!(a_callback_replayed_with_its_old_cookie_is_refused);
