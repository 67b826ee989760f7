//! Load generator for the lifecycle benchmark: signed V2 newInstance calls,
//! each a new order, from N concurrent clients for a fixed time. Prints
//! calls/s, p50 and p99 and the result codes seen.
//!
//! cargo run --release --example loadgen -- URL[,URL…] ACCESS_KEY [CONCURRENCY] [SECONDS]
//!
//! Several URLs (replicas) are used in turn, one per client.

use std::time::{Duration, Instant};

use koogate::marketplace::signature;
use rand::distributions::{Alphanumeric, DistString};

#[path = "common/tally.rs"]
mod tally;
use tally::Tally;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: loadgen URL[,URL...] ACCESS_KEY [CONCURRENCY=32] [SECONDS=20]");
        std::process::exit(2);
    }
    let urls: Vec<String> = args[1].split(',').map(str::to_string).collect();
    let key = args[2].clone();
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let url = urls[worker % urls.len()].clone();
            let (client, key) = (client.clone(), key.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let order =
                        format!("CS{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 16));
                    let body = serde_json::json!({
                        "activity": "newInstance", "orderId": order,
                        "orderLineId": format!("{order}-000001"),
                        "businessId": Alphanumeric.sample_string(&mut rand::thread_rng(), 24),
                        "testFlag": "0"
                    })
                    .to_string();
                    let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
                    let ts = chrono::Utc::now().timestamp_millis().to_string();
                    let sig = signature::lifecycle_v2_signature(&key, &nonce, &ts, body.as_bytes());
                    let sent = Instant::now();
                    let result = client
                        .post(format!("{url}?signature={sig}&timestamp={ts}&nonce={nonce}"))
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let code = match result {
                        Ok(response) => match response.json::<serde_json::Value>().await {
                            Ok(v) => v["resultCode"].as_str().unwrap_or("no-code").to_string(),
                            Err(_) => "bad-body".to_string(),
                        },
                        Err(_) => "http-error".to_string(),
                    };
                    tally.record(code, Some(sent.elapsed()));
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await.unwrap_or_default());
    }
    println!("{}", tally.report("calls", "codes", started.elapsed()));
}
