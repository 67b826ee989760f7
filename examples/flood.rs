//! Forged-call flood for the hardening benchmark: N concurrent clients post
//! a forged Kit V2 `tenantSync` body of SIZE MiB without pause, for a fixed
//! time, and print how many posts koogate answered and how.
//!
//! cargo run --release --example flood -- URL [CLIENTS=100] [SECONDS=10] [SIZE_MIB=8] [SIGN=short|hex]
//!
//! One process with one shared body: the flood costs the machine what
//! koogate spends on it, not what a hundred `curl` processes spend starting
//! up and reading the file (on two cores that alone would starve koogate).

use std::time::{Duration, Instant};

use rand::Rng;

#[path = "common/tally.rs"]
mod tally;
use tally::Tally;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: flood URL [CLIENTS=100] [SECONDS=10] [SIZE_MIB=8] [SIGN=short|hex]");
        std::process::exit(2);
    }
    let url = format!("{}/produceAPI/v2/tenantSync", args[1].trim_end_matches('/'));
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let size_mib: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(8);
    let hex_sign = args.get(5).is_some_and(|s| s == "hex");

    // A well-formed JSON body of the size asked, shared by every post.
    let filler = "7".repeat((size_mib * 1024 * 1024).saturating_sub(40));
    let body = bytes::Bytes::from(
        serde_json::json!({"tenantId": "t", "orderId": filler}).to_string().into_bytes(),
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let sign = if hex_sign {
                        let bytes: [u8; 32] = rand::thread_rng().gen();
                        bytes.iter().map(|b| format!("{b:02x}")).collect()
                    } else {
                        "00".to_string()
                    };
                    let nonce = format!("n{}", rand::thread_rng().gen::<u64>());
                    let sent = Instant::now();
                    let result = client
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .header("x-sign", sign)
                        .header("x-timestamp", chrono::Utc::now().timestamp_millis().to_string())
                        .header("x-nonce", nonce)
                        .body(body.clone())
                        .send()
                        .await;
                    let outcome = match result {
                        Ok(response) => response.status().as_str().to_string(),
                        Err(_) => "http-error".to_string(),
                    };
                    tally.record(outcome, Some(sent.elapsed()));
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await.unwrap_or_default());
    }
    println!("{}", tally.report("posts", "statuses", started.elapsed()));
}
