//! What a hostile browser, app user or auth centre tried against sign-in
//! and the gate (issue 13), and what must hold.

use serde_json::Value;

use crate::helpers::*;

/// `next` values that would take the browser off this site (as browsers
/// read URLs: TAB/CR/LF dropped, `\` as `/`) or break the `Location`.
const OFF_SITE_NEXT: &[&str] = &[
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/%252F/evil.example",
    "https://evil.example/",
];

async fn a_sign_in_never_lands_off_site_whatever_next_says(app: TestApp) {
    let scene = Scene::new(app).await;
    for next in OFF_SITE_NEXT {
        scene.centre.signs_in("bob");
        let browser = Browser::new(&scene.app);
        let login = query(&[("tenant", &scene.enterprise.tenant_id), ("next", next)]);
        let landed = browser.sign_in(&login).await;
        assert_eq!(landed.status, 302, "next={next:?}: {landed:#?}");
        landed.assert_lands_on("/");
        assert_eq!(browser.me().await.0, 200, "next={next:?}: signed in");
    }
    // A path on this site still survives.
    scene.centre.signs_in("bob");
    let login = query(&[("tenant", &scene.enterprise.tenant_id), ("next", "/a/b?c=%20d")]);
    Browser::new(&scene.app).sign_in(&login).await.assert_lands_on("/a/b?c=%20d");
}
kit_on_every_session_store!(a_sign_in_never_lands_off_site_whatever_next_says);

async fn the_local_sign_in_form_carries_only_a_path_on_this_site(app: TestApp) {
    let browser = Browser::new(&app);
    for next in OFF_SITE_NEXT {
        let page = browser.open(&format!("/sso/local?{}", query(&[("next", next)]))).await;
        assert_eq!(page.status, 200);
        let marker = r#"name="next" value=""#;
        let start = page.body.find(marker).expect("a next field") + marker.len();
        let carried = page.body[start..].split('"').next().expect("a value");
        assert_eq!(carried.replace("&#x2f;", "/"), "/", "next={next:?} is replaced by the default");
    }
}
on_both_backends!(
    the_local_sign_in_form_carries_only_a_path_on_this_site,
    &[("provisioning.local_accounts", "true")]
);

/// Through the gate as `browser`, with extra request headers; what the
/// app received.
async fn seen_by_the_app(browser: &Browser, app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let mut request = browser.client().get(format!("{}/whoami", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("through the gate");
    assert_eq!(response.status().as_u16(), 200);
    response.json::<Value>().await.expect("echo")["headers"].clone()
}

// Header handling involves no storage: SQLite stands for every backend.
#[tokio::test]
async fn no_spoofed_identity_or_forwarding_header_reaches_the_app() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app_with(Backend::Sqlite, &upstream, &[]).await).await;
    let browser = scene.signed_in("bob").await;
    let headers = seen_by_the_app(
        &browser,
        &scene.app,
        &[
            ("X_Koogate_User", "alice"),
            ("x_koogate_role", "admin"),
            ("X-KOOGATE_TENANT", "someone-else"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "for=203.0.113.7;proto=https;host=evil.example"),
        ],
    )
    .await;
    let names: Vec<&String> = headers.as_object().expect("headers").keys().collect();
    for name in &names {
        let normalised = name.to_ascii_lowercase().replace('_', "-");
        if normalised.starts_with("x-koogate-") {
            assert_eq!(normalised, **name, "only koogate's own: {names:?}");
        }
    }
    assert_eq!(headers["x-koogate-user"], "bob");
    assert_eq!(headers["x-koogate-role"], "user");
    assert_eq!(headers["x-koogate-tenant"], scene.enterprise.tenant_id.as_str());
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "the connection's address only");
    assert_eq!(headers["x-forwarded-proto"], "http", "the connection's scheme");
    let host = scene.app.address.trim_start_matches("http://");
    assert_eq!(headers["x-forwarded-host"], host, "the Host the browser asked for");
    assert!(headers.get("forwarded").is_none(), "{headers}");
}

#[tokio::test]
async fn a_trusted_proxy_s_forwarding_headers_are_believed() {
    let upstream = start_upstream().await;
    let trusted = [("server.trusted_proxies", "10.0.0.0/8, 127.0.0.1")];
    let scene = Scene::new(gate_app_with(Backend::Sqlite, &upstream, &trusted).await).await;
    let browser = scene.signed_in("bob").await;
    let headers = seen_by_the_app(
        &browser,
        &scene.app,
        &[
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "saas.example.com"),
        ],
    )
    .await;
    assert_eq!(headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "https");
    assert_eq!(headers["x-forwarded-host"], "saas.example.com");
}

/// Asserts the headers that keep a page from being framed, sniffed or
/// leaking its address; `hsts`: whether Strict-Transport-Security is sent.
fn assert_protected(response: &reqwest::Response, hsts: bool) {
    let header = |name: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    };
    let what = format!("{} {}", response.url().path(), response.status());
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"), "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert!(!header("referrer-policy").is_empty(), "{what}");
    assert_eq!(!header("strict-transport-security").is_empty(), hsts, "{what}");
}

async fn every_page_of_koogate_carries_the_security_headers(app: TestApp, hsts: bool) {
    for path in ["/sso/local", "/sso/login?tenant=nobody", "/admin/login", "/sso/me", "/healthz"] {
        let response = app.http.get(format!("{}{path}", app.address)).send().await.expect("sent");
        assert_protected(&response, hsts);
        // The admin site's forms stay on it; a person's may lead on to an
        // auth centre (see end_user_browser), over HTTPS.
        let policy = response.headers().get("content-security-policy");
        let policy = policy.and_then(|v| v.to_str().ok()).unwrap_or_default();
        let forms = if path.starts_with("/admin") {
            "form-action 'self';"
        } else {
            "form-action 'self' https:"
        };
        assert!(policy.contains(forms), "{path}: {policy}");
    }
}

#[tokio::test]
async fn security_headers_over_http() {
    let app = spawn_app(Backend::Sqlite, KIT_SETTINGS).await;
    every_page_of_koogate_carries_the_security_headers(app, false).await;
}

#[tokio::test]
async fn security_headers_with_secure_cookies_add_hsts() {
    let app = spawn_app(Backend::Sqlite, SECURE_COOKIE_KIT_SETTINGS).await;
    every_page_of_koogate_carries_the_security_headers(app, true).await;
}

#[tokio::test]
async fn metrics_can_ask_for_a_token() {
    let app = spawn_app(Backend::Sqlite, &[("metrics.token", "scrape-token-0123456789")]).await;
    let metrics = format!("{}/metrics", app.address);
    let anonymous = app.http.get(&metrics).send().await.expect("sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong =
        app.http.get(&metrics).bearer_auth("scrape-token-wrong").send().await.expect("sent");
    assert_eq!(wrong.status().as_u16(), 401);
    let right =
        app.http.get(&metrics).bearer_auth("scrape-token-0123456789").send().await.expect("sent");
    assert_eq!(right.status().as_u16(), 200);

    // Without the setting it stays open, as before.
    let open = spawn_app(Backend::Sqlite, &[]).await;
    let response = open.http.get(format!("{}/metrics", open.address)).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_connection_that_says_nothing_is_closed_within_the_head_deadline() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut silent =
        tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    // 5 s to send a request's head, counted once.
    let waited = closed_since(&mut silent, std::time::Instant::now()).await;
    assert!(waited < std::time::Duration::from_secs(7), "closed after {waited:?}");
}

/// How long after `since` koogate closed `stream` without answering.
async fn closed_since(
    stream: &mut tokio::net::TcpStream,
    since: std::time::Instant,
) -> std::time::Duration {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(std::time::Duration::from_secs(15), stream.read(&mut byte))
        .await
        .expect("closed by koogate, not left open");
    assert!(matches!(read, Ok(0) | Err(_)), "closed without an answer: {read:?}");
    since.elapsed()
}

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_at_the_head_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    let started = std::time::Instant::now();
    slow.write_all(b"GET /sso/me HTTP/1.1\r\nHost: koogate\r\n").await.expect("sent");
    // A header that never ends, a byte every half second: each byte is
    // progress, but the head as a whole has 5 s.
    let closed = loop {
        if slow.write_all(b"x").await.is_err() {
            break started.elapsed();
        }
        let mut byte = [0u8; 1];
        let half_second = std::time::Duration::from_millis(500);
        match tokio::time::timeout(half_second, slow.read(&mut byte)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => break started.elapsed(),
            Ok(Ok(_)) => panic!("answered a head that never ended"),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "never closed");
    };
    assert!(closed < std::time::Duration::from_secs(7), "closed after {closed:?}");
    assert!(closed >= std::time::Duration::from_secs(4), "closed early, after {closed:?}");
}

/// One whole answer from `stream` (its head and `Content-Length` bytes).
async fn read_answer(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_string)
                })
                .and_then(|n| n.trim().parse::<usize>().ok())
                .expect("a Content-Length");
            if body.len() >= length {
                return text;
            }
        }
        let read = stream.read(&mut chunk).await.expect("read");
        assert!(read > 0, "closed before the answer was whole");
        answer.extend_from_slice(&chunk[..read]);
    }
}

#[tokio::test]
async fn a_kept_alive_connection_that_asks_nothing_more_is_closed_after_the_head_deadline() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    // Answered by the front (a health check's connection would be given
    // to koogate's own server whole).
    let ask = "GET /sso/me HTTP/1.1\r\nHost: koogate\r\nAccept: application/json\r\n\r\n";
    idle.write_all(ask.as_bytes()).await.expect("sent");
    assert!(read_answer(&mut idle).await.starts_with("HTTP/1.1 401 "));
    // Kept alive: a second request 3 s later on the same connection is
    // answered.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    idle.write_all(ask.as_bytes()).await.expect("sent");
    assert!(read_answer(&mut idle).await.starts_with("HTTP/1.1 401 "));
    let idle_for = closed_since(&mut idle, std::time::Instant::now()).await;
    assert!(idle_for < std::time::Duration::from_secs(7), "closed after {idle_for:?} idle");
    assert!(idle_for >= std::time::Duration::from_secs(4), "closed after {idle_for:?} idle");
}
