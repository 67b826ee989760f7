//! The gate: signed-in users reach the vendor's app with their identity;
//! nobody else does, and nobody can claim someone else's identity.

use serde_json::Value;

use crate::helpers::*;

async fn gate_app(backend: Backend, upstream: &str) -> TestApp {
    gate_app_with(backend, upstream, &[]).await
}

async fn a_signed_in_user_reaches_the_app_with_a_verifiable_identity(backend: Backend) {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(backend, &upstream).await).await;
    scene.centre.signs_in("alice");
    let browser = Browser::new(&scene.app);
    let landed = browser.sign_in(&scene.tenant_query()).await;
    landed.assert_lands_on("/");
    let session = landed.cookie("koogate_session").expect("a session cookie").value.clone();

    // The browser's own cookies travel with koogate's session cookie.
    let response = browser
        .client()
        .get(format!("{}/reports/42?tab=people", scene.app.address))
        .header("X-Koogate-User", "mallory")
        .header("X-Koogate-Role", "admin")
        .header("Cookie", format!("theme=dark; koogate_session={session}"))
        .send()
        .await
        .expect("through the gate");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get("x-upstream").and_then(|v| v.to_str().ok()), Some("yes"));
    // The app's Content-Length reaches the browser (a download shows its
    // size); the body is not re-encoded in chunks.
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("transfer-encoding"), None);
    let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
    let body = response.bytes().await.expect("echo");
    assert_eq!(length, Some(body.len()), "the app's length is relayed");
    let seen: Value = serde_json::from_slice(&body).expect("echo");
    assert_eq!(seen["path"], "/reports/42?tab=people");
    let headers = &seen["headers"];
    assert_eq!(headers["x-koogate-user"], "alice", "a spoofed user never reaches the app");
    assert_eq!(headers["x-koogate-tenant"], scene.enterprise.tenant_id.as_str());
    assert_eq!(headers["x-koogate-role"], "admin", "alice is an admin by authSync");
    let cookies = headers["cookie"].as_str().unwrap_or("");
    assert!(cookies.contains("theme=dark"), "{cookies}");
    assert!(!cookies.contains("koogate_"), "koogate's session never reaches the app: {cookies}");

    let token = headers["x-koogate-identity"].as_str().expect("an identity token");
    let claims = verified_claims(&scene.app, token).await;
    assert_eq!(claims["iss"], PUBLIC_URL);
    assert_eq!(claims["aud"], "upstream");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["tenant"], scene.enterprise.tenant_id.as_str());
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert!((1..=300).contains(&lifetime), "short-lived: {lifetime}s");

    // A large upload streams through and arrives whole.
    let body: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let checksum: u64 = body.iter().map(|b| u64::from(*b)).sum();
    let seen: Value = browser
        .client()
        .post(format!("{}/upload", scene.app.address))
        .body(body)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("echo");
    assert_eq!(
        (seen["method"].as_str(), seen["bodyLength"].as_u64()),
        (Some("POST"), Some(3 * 1024 * 1024))
    );
    assert_eq!(seen["bodyChecksum"].as_u64(), Some(checksum));

    // Once the tenant is frozen the gate is shut, and says why: 403 while
    // frozen, 410 once released; a page for browsers, JSON for others.
    scene.app.set_instance_status(&scene.enterprise.instance_id, "FREEZE").await;
    let get = |accept: &'static str| {
        browser
            .client()
            .get(format!("{}/reports/42", scene.app.address))
            .header("Accept", accept)
            .send()
    };
    // Within a second (a replica may trust what it saw for half of one).
    let started = std::time::Instant::now();
    let api = loop {
        let api = get("application/json").await.expect("sent");
        if api.status().as_u16() != 200 || started.elapsed() > std::time::Duration::from_secs(1) {
            break api;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(api.status().as_u16(), 403, "shut within a second");
    assert_eq!(api.json::<Value>().await.expect("json")["error"], "frozen");
    let page = get("text/html").await.expect("sent");
    assert_eq!(page.status().as_u16(), 403);
    assert!(page.text().await.expect("html").contains("Access suspended"));

    scene.app.release_instance(&scene.enterprise.instance_id).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(get("application/json").await.expect("sent").status().as_u16(), 410);
}

async fn strangers_are_sent_to_sign_in_or_refused(backend: Backend) {
    let upstream = start_upstream().await;
    let app = gate_app(backend, &upstream).await;
    let html = app
        .http
        .get(format!("{}/reports/42", app.address))
        .header("Accept", "text/html,application/xhtml+xml")
        .header("X-Koogate-User", "mallory")
        .send()
        .await
        .expect("sent");
    // reqwest follows redirects by default: look at the first answer.
    let first = html.url().path().to_string();
    assert_eq!(first, "/sso/login", "a browser is sent to sign in");
    let api = app
        .http
        .get(format!("{}/api/things", app.address))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("sent");
    assert_eq!(api.status().as_u16(), 401);

    // Without an upstream configured nothing is forwarded at all.
    let bare = spawn_app(backend, &[]).await;
    let response =
        bare.http.get(format!("{}/reports/42", bare.address)).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 404);
}

async fn an_app_that_does_not_answer_is_a_bad_gateway(backend: Backend) {
    let scene = Scene::new(gate_app(backend, "http://127.0.0.1:1").await).await;
    scene.centre.signs_in("bob");
    let browser = Browser::new(&scene.app);
    browser.sign_in(&scene.tenant_query()).await.assert_lands_on("/");
    let response =
        browser.client().get(format!("{}/x", scene.app.address)).send().await.expect("sent");
    assert_eq!(response.status().as_u16(), 502);
    // koogate's own answer: its error body and the headers of its pages.
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("x-content-type-options"), Some("nosniff"));
    assert_eq!(header("x-frame-options"), Some("DENY"));
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["error"].is_string(), "{body}");
}

// Addresses and bodies involve no storage: SQLite stands for every backend.
#[tokio::test]
async fn an_app_mounted_below_a_path_gets_the_path_and_query_as_sent() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &format!("{upstream}/saas/")).await).await;
    let browser = scene.signed_in("alice").await;
    let path = "/files/a%20b/%E4%B8%AD?q=a+b%2Fc&empty=&x";
    let seen = echoed(browser.client().get(format!("{}{path}", scene.app.address))).await;
    assert_eq!(seen["path"], "/saas/files/a%20b/%E4%B8%AD?q=a+b%2Fc&empty=&x");
    assert_eq!(seen["headers"]["host"], upstream.trim_start_matches("http://"));

    // A body of unknown length (sent in chunks) streams through whole.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64u8).map(|i| Ok(vec![i; 16 * 1024])).collect();
    let checksum: u64 = (0..64u64).map(|i| i * 16 * 1024).sum();
    let upload = browser
        .client()
        .put(format!("{}/upload", scene.app.address))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)));
    let seen = echoed(upload).await;
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["bodyLength"].as_u64(), Some(64 * 16 * 1024));
    assert_eq!(seen["bodyChecksum"].as_u64(), Some(checksum));
    assert_eq!(seen["headers"]["transfer-encoding"], "chunked", "{seen}");
}

#[tokio::test]
async fn an_https_app_is_spoken_to_in_tls() {
    let (port, first_bytes) = first_bytes_listener().await;
    let scene =
        Scene::new(gate_app(Backend::Sqlite, &format!("https://127.0.0.1:{port}")).await).await;
    let browser = scene.signed_in("bob").await;
    let response =
        browser.client().get(format!("{}/x", scene.app.address)).send().await.expect("sent");
    // The stand-in hangs up instead of completing the handshake.
    assert_eq!(response.status().as_u16(), 502);
    let first = first_bytes.await.expect("the gate connected");
    assert_eq!(first, [0x16, 0x03, 0x01], "a TLS handshake record, not plain HTTP");
}

#[tokio::test]
async fn the_app_s_connection_is_kept_alive_between_requests() {
    let (upstream, connections) = counting_upstream(false).await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let browser = scene.signed_in("alice").await;
    for _ in 0..20 {
        let response =
            browser.client().get(format!("{}/x", scene.app.address)).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.text().await.expect("body"), "ok");
    }
    // One browser connection is served by one worker, which keeps one
    // connection to the app.
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_app_that_hangs_up_after_each_answer_is_still_reached() {
    let (upstream, connections) = counting_upstream(true).await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let browser = scene.signed_in("bob").await;
    for _ in 0..10 {
        let response =
            browser.client().get(format!("{}/x", scene.app.address)).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 200, "a closed connection is not reused");
        assert_eq!(response.text().await.expect("body"), "ok");
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 10);
}

#[tokio::test]
async fn koogate_s_own_paths_stay_koogate_s_for_a_signed_in_user() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let browser = scene.signed_in("alice").await;
    let get =
        |path: &'static str| browser.client().get(format!("{}{path}", scene.app.address)).send();
    let from_app = |response: &reqwest::Response| response.headers().contains_key("x-upstream");

    let app = get("/reports").await.expect("sent");
    assert!(from_app(&app), "the app's paths are the app's");
    // However the path is spelled: escapes are read as koogate's router
    // reads them, so an own path never reaches the app with an identity.
    for own in ["/sso/me", "/%73so/me", "/healthz", "/.well-known/jwks.json"] {
        let response = get(own).await.expect("sent");
        assert_eq!(response.status().as_u16(), 200, "{own}");
        assert!(!from_app(&response), "{own} is answered by koogate");
    }
    let me: Value = get("/%73so/me").await.expect("sent").json().await.expect("json");
    assert_eq!(me["userName"], "alice", "{me}");
}

#[tokio::test]
async fn a_connection_a_program_opened_still_reaches_the_app_through_the_gate() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let session = scene.session_of("alice").await;
    // One connection, opened by a health check (as a load balancer's is),
    // then used for the app: koogate's own server takes such connections
    // whole, and its gate is the same gate.
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
    let health = client.get(format!("{}/healthz", scene.app.address)).send().await.expect("sent");
    assert_eq!(health.status().as_u16(), 200);
    health.bytes().await.expect("read to the end");
    let app = client
        .get(format!("{}/reports/7", scene.app.address))
        .header("Cookie", format!("koogate_session={session}"))
        .header("X-Koogate-User", "mallory")
        .send()
        .await
        .expect("sent");
    assert_eq!(app.status().as_u16(), 200);
    assert!(app.headers().contains_key("x-upstream"));
    let seen: Value = app.json().await.expect("echo");
    assert_eq!(seen["path"], "/reports/7");
    assert_eq!(seen["headers"]["x-koogate-user"], "alice");
    assert!(seen["headers"]["x-koogate-identity"].is_string());
}

#[tokio::test]
async fn a_request_head_larger_than_koogate_reads_is_refused_before_the_app() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let browser = scene.signed_in("alice").await;
    // Each connection may hold at most 64 KiB of a request head: thousands
    // of clients trickling 400 KiB heads cannot take the memory.
    let response = browser
        .client()
        .get(format!("{}/reports", scene.app.address))
        .header("X-Filler", "a".repeat(100 * 1024))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 431);
    assert!(!response.headers().contains_key("x-upstream"));
}

/// Sends `head` (and then `body`) on one connection to koogate and reads
/// until it closes.
async fn raw_exchange(address: &str, head: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .expect("connected");
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream
}

async fn read_to_close(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answers = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_string(&mut answers))
        .await
        .expect("answered in time")
        .expect("read");
    answers
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_whoever_answers_them() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let session = scene.session_of("alice").await;
    let cookie = format!("Host: koogate\r\nCookie: koogate_session={session}\r\n");
    // Three requests in one write, before any answer: one the front
    // forwards itself, one of koogate's own, and an upload, which koogate's
    // own server forwards.
    let requests = format!(
        "GET /a HTTP/1.1\r\n{cookie}\r\n\
         GET /sso/me HTTP/1.1\r\n{cookie}Accept: application/json\r\n\r\n\
         POST /b HTTP/1.1\r\n{cookie}Content-Length: 5\r\nConnection: close\r\n\r\nhello"
    );
    let mut stream = raw_exchange(&scene.app.address, &requests).await;
    let answers = read_to_close(&mut stream).await;
    let answers: Vec<&str> = answers.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert!(answers.iter().all(|a| a.starts_with("200 ")), "{answers:?}");
    assert!(answers[0].contains(r#""path":"/a""#), "{}", answers[0]);
    assert!(answers[1].contains(r#""userName":"alice""#), "{}", answers[1]);
    assert!(answers[2].contains(r#""path":"/b""#), "{}", answers[2]);
    assert!(answers[2].contains(r#""bodyLength":5"#), "{}", answers[2]);
}

#[tokio::test]
async fn an_upload_that_waits_for_leave_to_continue_gets_it_and_reaches_the_app() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let session = scene.session_of("alice").await;
    // curl and many HTTP libraries hold back a large body until told
    // `100 Continue`.
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: koogate\r\nCookie: koogate_session={session}\r\n\
         Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    let mut stream = raw_exchange(&scene.app.address, &head).await;
    let mut first = [0u8; 25];
    tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_exact(&mut first))
        .await
        .expect("told to go on in time, before the body is sent")
        .expect("read");
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").await.expect("body sent");
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains(r#""bodyLength":5"#), "{answer}");
    assert_eq!(answer.matches("100 Continue").count(), 0, "{answer}");
}

#[tokio::test]
async fn an_app_that_takes_longer_than_a_head_may_is_waited_for() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let browser = scene.signed_in("alice").await;
    // 6 s: longer than a client may take to send a head (5 s), which must
    // not count while the app works.
    let seen = echoed(browser.client().get(format!("{}/slow", scene.app.address))).await;
    assert_eq!(seen["path"], "/slow");
}

#[tokio::test]
async fn a_cookie_of_the_app_s_written_in_chinese_does_not_sign_the_user_out() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let session = scene.session_of("alice").await;
    // The app set a cookie whose value is UTF-8, as browsers allow and
    // send byte for byte.
    let cookie = format!("city=北京; koogate_session={session}; lang=zh");
    let cookie = reqwest::header::HeaderValue::from_bytes(cookie.as_bytes()).expect("a value");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // A page (answered in the front) and a form (koogate's own server).
    let page = client.get(format!("{}/reports", scene.app.address));
    let form = client.post(format!("{}/reports", scene.app.address)).body("name=q3");
    for request in [page, form] {
        let seen = echoed(request.header("Cookie", cookie.clone())).await;
        assert_eq!(seen["headers"]["x-koogate-user"], "alice", "still signed in");
        assert_eq!(seen["headers"]["cookie"], "city=北京; lang=zh", "the app's cookies, as sent");
    }
}

#[tokio::test]
async fn each_request_on_one_connection_is_told_its_own_caller_and_host() {
    let upstream = start_upstream().await;
    let scene = Scene::new(gate_app(Backend::Sqlite, &upstream).await).await;
    let alice = scene.session_of("alice").await;
    let bob = scene.session_of("bob").await;
    // One kept-alive connection can carry several people (a shared
    // office proxy, or one person signing out and another in) and several
    // host names (a client that reuses it for each).
    let request = |session: &str, host: &str, close: &str| {
        format!(
            "GET /r HTTP/1.1\r\nHost: {host}\r\nCookie: koogate_session={session}\r\n{close}\r\n"
        )
    };
    let sent = [
        (&alice, "a.example.com"),
        (&alice, "a.example.com"),
        (&bob, "a.example.com"),
        (&bob, "b.example.com"),
        (&alice, "b.example.com"),
    ];
    let mut requests = String::new();
    for (n, (session, host)) in sent.iter().enumerate() {
        let close = if n + 1 == sent.len() { "Connection: close\r\n" } else { "" };
        requests.push_str(&request(session, host, close));
    }
    let mut stream = raw_exchange(&scene.app.address, &requests).await;
    let answers = read_to_close(&mut stream).await;
    let told: Vec<(String, String, String)> = answers
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|answer| {
            let (_, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
            let seen: Value = serde_json::from_str(body).expect("the echo");
            let header = |name: &str| seen["headers"][name].as_str().unwrap_or("").to_string();
            (header("x-koogate-user"), header("x-forwarded-host"), header("x-forwarded-for"))
        })
        .collect();
    let expected: Vec<(String, String, String)> = ["alice", "alice", "bob", "bob", "alice"]
        .iter()
        .zip(["a.example.com", "a.example.com", "a.example.com", "b.example.com", "b.example.com"])
        .map(|(user, host)| (user.to_string(), host.to_string(), "127.0.0.1".to_string()))
        .collect();
    assert_eq!(told, expected, "{answers}");
}

macro_rules! gate_test {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                if crate::helpers::postgres_url().is_some() {
                    super::$scenario(crate::helpers::Backend::Postgres).await;
                }
            }
        }
    };
}

gate_test!(a_signed_in_user_reaches_the_app_with_a_verifiable_identity);
gate_test!(strangers_are_sent_to_sign_in_or_refused);
gate_test!(an_app_that_does_not_answer_is_a_bad_gateway);
