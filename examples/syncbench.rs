//! Timing of the two heavy Kit calls against a running koogate: a full
//! department sync of N departments and an authSync of 500 users, each
//! repeated, signed with the Kit key. Prints median and worst times.
//!
//! cargo run --release --example syncbench -- BASE_URL KIT_KEY [DEPARTMENTS=10000] [ROUNDS=5]
//! (BASE_URL is the production address, e.g. http://127.0.0.1:8080/koogallery)

use std::time::{Duration, Instant};

use koogate::marketplace::signature;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: syncbench BASE_URL KIT_KEY [DEPARTMENTS=10000] [ROUNDS=5]");
        std::process::exit(2);
    }
    let (base, key) = (args[1].clone(), args[2].clone());
    let departments: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let tenant = format!("bench-{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 8));
    let send = |call: &'static str, body: Value| {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        async move {
            let body = body.to_string();
            let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
            let ts = chrono::Utc::now().timestamp_millis().to_string();
            let sign = signature::kit_signature(&key, &nonce, &ts, body.as_bytes());
            let started = Instant::now();
            let answer: Value = client
                .post(format!("{base}/produceAPI/v2/{call}"))
                .header("x-sign", sign)
                .header("x-timestamp", ts)
                .header("x-nonce", nonce)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{call}: {e}"))
                .json()
                .await
                .unwrap_or_else(|e| panic!("{call}: {e}"));
            assert_eq!(answer["resultCode"], "000000", "{call}: {answer}");
            started.elapsed()
        }
    };
    send(
        "tenantSync",
        json!({"instanceId": "", "orderId": "", "tenantId": tenant, "tenantCode": "bench",
        "name": "Bench", "domainName": "https://auth.example.com", "flag": 1, "testFlag": 1}),
    )
    .await;

    let mut org_times = Vec::new();
    for round in 0..rounds {
        // Each round renames every department and moves a tenth of them.
        let orgs: Vec<Value> = (0..departments)
            .map(|i| {
                let parent = if i == 0 { String::new() } else { format!("d{}", (i / 10 + round) % i) };
                json!({"orgCode": format!("d{i}"), "orgName": format!("Department {i} r{round}"), "parentCode": parent})
            })
            .collect();
        org_times.push(
            send(
                "allOrgSync",
                json!({"instanceId": "", "tenantId": tenant, "testFlag": 1, "orgInfoList": orgs}),
            )
            .await,
        );
    }
    let mut user_times = Vec::new();
    for round in 0..rounds {
        let users: Vec<Value> = (0..500)
            .map(|i| json!({"userName": format!("user{i}"), "name": format!("User {i}"), "orgCode": format!("d{}", i % departments.max(1)),
                "role": if i == 0 { "admin" } else { "user" }, "enable": "true", "mobile": "13800000000", "email": format!("u{i}@example.com")}))
            .collect();
        let sync_time = format!("2026010100000{round:04}");
        user_times.push(
            send(
                "authSync",
                json!({"instanceId": "", "tenantId": tenant, "appId": "bench-app", "flag": 1,
            "testFlag": 1, "currentSyncTime": sync_time, "userList": users}),
            )
            .await,
        );
    }
    report(&format!("allOrgSync of {departments} departments"), org_times);
    report("authSync of 500 users", user_times);
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let worst = times.last().copied().unwrap_or_default();
    println!(
        "{what}: median_ms={:.1} worst_ms={:.1} rounds={}",
        ms(median),
        ms(worst),
        times.len()
    );
}
