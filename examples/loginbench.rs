//! Full sign-ins per second: sets up one tenant with `koogate sim`'s story
//! against a running koogate, serves the simulated auth centre in this
//! process (auto sign-in), then N concurrent browsers run the whole flow
//! (`/sso/login` → authorize → `/sso/callback` → session cookie) for a
//! fixed time. Prints sign-ins/s, p50 and p99 and the outcomes seen.
//!
//! cargo run --release --example loginbench -- KOOGATE_URL ACCESS_KEY ISV_PUBLIC_PEM [CONCURRENCY] [SECONDS]

use std::time::{Duration, Instant};

use koogate::sim::{auth_centre, client::Marketplace, client::Version, story::Story};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

#[path = "common/tally.rs"]
mod tally;
use tally::Tally;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: loginbench KOOGATE_URL ACCESS_KEY ISV_PUBLIC_PEM [CONCURRENCY=32] [SECONDS=20]"
        );
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_string();
    let key = args[2].clone();
    let pem = std::fs::read_to_string(&args[3]).unwrap_or_else(|e| panic!("{}: {e}", args[3]));
    let concurrency: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(20);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
    let story = Story {
        version: Version::V2,
        domain_name: format!("http://127.0.0.1:{port}"),
        client_id: "bench-client".into(),
        client_secret: "bench-secret".into(),
        isv_public_key_pem: pem,
        users: vec!["alice".into()],
        keep: true,
    };
    let marketplace = Marketplace::new(&format!("{base}/koogallery"), &key, &key)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let made =
        story.run(&marketplace, &mut std::io::sink()).await.unwrap_or_else(|e| panic!("{e:?}"));
    let centre = auth_centre::serve(
        listener,
        auth_centre::Config {
            client_id: "bench-client".into(),
            client_secret: "bench-secret".into(),
            tenant_id: made.tenant_id.clone(),
            auto_user: Some("alice".into()),
            dialect: auth_centre::SimDialect::KooGallery,
        },
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    tokio::spawn(centre);

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency * 2)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, base, tenant) = (client.clone(), base.clone(), made.tenant_id.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let outcome = sign_in(&client, &base, &tenant).await;
                    let latency = (outcome == "signed-in").then(|| sent.elapsed());
                    tally.record(outcome, latency);
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await.unwrap_or_default());
    }
    println!("{}", tally.report("signins", "outcomes", started.elapsed()));
}

/// One browser's whole sign-in; `"signed-in"` or what went wrong.
async fn sign_in(client: &reqwest::Client, base: &str, tenant: &str) -> String {
    let Ok(login) = client.get(format!("{base}/sso/login?tenant={tenant}")).send().await else {
        return "login-unreachable".into();
    };
    if login.status() != 302 {
        return format!("login-{}", login.status().as_u16());
    }
    let cookie = first_cookie(&login);
    let Some(authorize) = header(&login, LOCATION) else { return "login-no-location".into() };
    let Ok(back) = client.get(authorize).send().await else {
        return "centre-unreachable".into();
    };
    let Some(callback) = header(&back, LOCATION) else { return "centre-no-location".into() };
    let Some((_, query)) = callback.split_once('?') else { return "centre-no-query".into() };
    let Ok(done) = client
        .get(format!("{base}/sso/callback?{query}"))
        .header(COOKIE, cookie.unwrap_or_default())
        .send()
        .await
    else {
        return "callback-unreachable".into();
    };
    let session = done.headers().get_all(SET_COOKIE).iter().any(|c| {
        c.to_str().is_ok_and(|c| c.contains("koogate_session=") && !c.contains("koogate_session=;"))
    });
    match (done.status().as_u16(), session) {
        (302, true) => "signed-in".into(),
        (status, _) => format!("callback-{status}"),
    }
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `name=value` of the first Set-Cookie (the login binding cookie).
fn first_cookie(response: &reqwest::Response) -> Option<String> {
    let raw = response.headers().get(SET_COOKIE)?.to_str().ok()?;
    raw.split(';').next().map(str::to_string)
}
