//! What a hostile tenant auth centre (or a `domainName` pointing inside
//! koogate's network) tried against koogate's outbound requests (issue
//! 13 item 5), and what must hold. The requests involve no storage of
//! their own: SQLite stands for every backend.

use std::time::Duration;

use crate::helpers::*;

/// A Kit app whose auth centres may not live on inside addresses, as in a
/// real deployment.
const PUBLIC_ONLY: &[(&str, &str)] = &[
    ("marketplace.kit_access_key", KIT_KEY),
    (
        "marketplace.rsa_private_key_file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
    ),
    ("sso.allow_private_auth_centres", "false"),
];

/// An enterprise whose auth centre is at `domain_name`, with its client.
async fn enterprise_at(app: &TestApp, domain_name: &str) -> Enterprise {
    let enterprise = app.enterprise_at(domain_name).await;
    app.give_app_credential(&enterprise, "client-1", "secret-1").await;
    enterprise
}

/// A sign-in at `enterprise` up to the callback with a made-up code: the
/// login's redirect and the callback's answer.
async fn sign_in_with_any_code(app: &TestApp, enterprise: &Enterprise) -> (Page, Page) {
    let browser = Browser::new(app);
    let login = browser.login(&query(&[("tenant", &enterprise.tenant_id)])).await;
    assert_eq!(login.status, 302, "{login:#?}");
    let state = login
        .redirect()
        .split_once('?')
        .and_then(|(_, q)| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "state"))
        .map(|(_, v)| v.to_string())
        .expect("a state in the authorize address");
    let callback = browser.callback(&query(&[("code", "any-code"), ("state", &state)])).await;
    (login, callback)
}

#[tokio::test]
async fn an_auth_centre_inside_the_network_is_never_called() {
    let app = spawn_app(Backend::Sqlite, PUBLIC_ONLY).await;
    let centre = HostileCentre::start(Hostility::SlowNotFound(Duration::ZERO)).await;
    // By literal address, by a name that resolves to it, and by an
    // IPv4-mapped IPv6 literal.
    for domain in [
        centre.base_url.clone(),
        format!("http://localhost:{}", centre.port),
        format!("http://[::ffff:127.0.0.1]:{}", centre.port),
    ] {
        let enterprise = enterprise_at(&app, &domain).await;
        let (_, callback) = sign_in_with_any_code(&app, &enterprise).await;
        callback.assert_refused(502);
        assert_eq!(centre.requests(), 0, "{domain}: koogate called an inside address");
    }
}

#[tokio::test]
async fn allowed_inside_auth_centres_are_called() {
    // The same story with the setting on (tests and `koogate sim` set
    // it): the address check is what kept the requests away above.
    let app = spawn_app(Backend::Sqlite, KIT_SETTINGS).await;
    let centre = HostileCentre::start(Hostility::SlowNotFound(Duration::ZERO)).await;
    let enterprise = enterprise_at(&app, &format!("http://localhost:{}", centre.port)).await;
    let (_, callback) = sign_in_with_any_code(&app, &enterprise).await;
    callback.assert_refused(502);
    assert!(centre.requests() >= 2, "discovery and the token request reached it");
}

#[tokio::test]
async fn an_endless_answer_is_cut_off() {
    let app = spawn_app(Backend::Sqlite, KIT_SETTINGS).await;
    let size = 64 * 1024 * 1024;
    let centre = HostileCentre::start(Hostility::Endless(size)).await;
    let enterprise = enterprise_at(&app, &centre.base_url).await;
    let started = std::time::Instant::now();
    // Discovery, then the token request, each answer 64 MiB long.
    let (_, callback) = sign_in_with_any_code(&app, &enterprise).await;
    callback.assert_refused(502);
    assert!(centre.requests() >= 2, "discovery and the token request were made");
    // 1 MiB read per answer; what socket buffers took besides is small.
    let sent = centre.bytes_sent();
    assert!(sent < 24 * 1024 * 1024, "koogate read {sent} bytes of two 64 MiB answers");
    assert!(started.elapsed() < Duration::from_secs(12), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_flood_of_anonymous_sign_ins_fetches_discovery_once() {
    let app = spawn_app(Backend::Sqlite, KIT_SETTINGS).await;
    let centre = HostileCentre::start(Hostility::SlowNotFound(Duration::from_millis(300))).await;
    let enterprise = enterprise_at(&app, &centre.base_url).await;
    let login = query(&[("tenant", &enterprise.tenant_id)]);
    let logins = (0..30).map(|_| {
        let (app, login) = (&app, login.clone());
        async move { Browser::new(app).login(&login).await.status }
    });
    let statuses = futures_util::future::join_all(logins).await;
    assert!(statuses.iter().all(|s| *s == 302), "{statuses:?}");
    assert_eq!(centre.requests(), 1, "one discovery for thirty sign-ins");
}
