//! One marketplace call can be followed in the JSON log: every line logged
//! while it is answered carries the request's span, and the span carries
//! the call's channel, activity, tenant and instance ids. A log nobody
//! reads costs lines, never answers.

use std::time::Duration;

use koogate::marketplace::signature;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn a_marketplace_calls_json_log_line_carries_its_request_span_and_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("koogate.db").display());
    let koogate = Serve::on(&db_url)
        .clear_env()
        .log("info")
        .setting("log.format", "json")
        .setting("marketplace.kit_access_key", KIT_KEY)
        .start()
        .await;
    let address = koogate.address.clone();
    let http = reqwest::Client::new();

    let business_id = random_id("biz-");
    let body = new_instance_body(&random_id("CS"), &business_id);
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let nonce = random_nonce();
    let sig = signature::lifecycle_v2_signature(ACCESS_KEY, &nonce, &ts, body.as_bytes());
    let bought = answer(
        http.post(format!("{address}/koogallery?signature={sig}&timestamp={ts}&nonce={nonce}"))
            .body(body),
    )
    .await;
    assert_eq!(bought["resultCode"], "000000", "{bought}");
    let instance_id = bought["instanceId"].as_str().expect("instanceId").to_string();

    let tenant_id = random_id("tenant-");
    let kit_body = json!({
        "instanceId": instance_id, "tenantId": tenant_id, "testFlag": 0,
        "timeStamp": beijing_now(), "orderId": "O1", "tenantCode": "huawei",
        "name": "Example Enterprise", "domainName": "https://example.tenantaccount.com", "flag": 1,
    })
    .to_string();
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let kit_nonce = random_nonce();
    let kit_sig = signature::kit_signature(KIT_KEY, &kit_nonce, &ts, kit_body.as_bytes());
    let synced = answer(
        http.post(format!("{address}/koogallery/produceAPI/v2/tenantSync"))
            .header("Content-Type", "application/json")
            .header("x-sign", kit_sig)
            .header("x-timestamp", ts)
            .header("x-nonce", kit_nonce)
            .body(kit_body),
    )
    .await;
    assert_eq!(synced["resultCode"], "000000", "{synced}");

    let purchase = call_line(&koogate, "newInstance").await;
    let span = &purchase["span"];
    assert_eq!(span["name"], "request", "{purchase}");
    assert_eq!(span["method"], "POST", "{purchase}");
    assert_eq!(span["path"], "/koogallery", "{purchase}");
    assert_eq!(span["channel"], "lifecycle_v2", "{purchase}");
    assert_eq!(span["activity"], "newInstance", "{purchase}");
    assert_eq!(span["instance_id"], instance_id.as_str(), "{purchase}");
    let purchase_request = span["request_id"].as_str().expect("a request id").to_string();

    let sync = call_line(&koogate, "tenantSync").await;
    let span = &sync["span"];
    assert_eq!(span["path"], "/koogallery/produceAPI/v2/tenantSync", "{sync}");
    assert_eq!(span["channel"], "kit_v2", "{sync}");
    assert_eq!(span["tenant_id"], tenant_id.as_str(), "{sync}");
    assert_eq!(span["instance_id"], instance_id.as_str(), "{sync}");
    let sync_request = span["request_id"].as_str().expect("a request id");
    assert_ne!(sync_request, purchase_request, "each request has its own id");

    // The span names the path only: the query's signature never shows.
    let log = koogate.output();
    assert!(!log.contains(&sig) && !log.contains(&nonce), "the query string was logged:\n{log}");
}

#[tokio::test]
async fn koogate_goes_on_answering_while_nobody_reads_its_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("koogate.db").display());
    // A log collector that hangs (a stuck sidecar, journald on a full
    // disk) stops reading koogate's standard output. At `debug` every
    // request logs a line: a few hundred fill the pipe, and 12,000 are
    // more than koogate holds for it.
    let koogate = Serve::on(&db_url).clear_env().log("debug").stdout_unread().start().await;
    let address = koogate.address.clone();
    let http = reqwest::Client::new();
    let asked = async {
        for _ in 0..12_000 {
            let answer = http.get(format!("{address}/healthz")).send().await.expect("sent");
            assert_eq!(answer.status().as_u16(), 200);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), asked)
        .await
        .expect("every request answered while the log is not read");
    // What could not be written is counted, for the operator's alert...
    let metrics = http.get(format!("{address}/metrics")).send().await.expect("sent");
    let metrics = metrics.text().await.expect("the metrics");
    let dropped: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("koogate_log_lines_dropped_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of dropped lines:\n{metrics}"));
    assert!(dropped > 0.0, "{metrics}");
    // ...and said in the log once it is read again.
    // The report says at least as many as the metric counted then.
    koogate.read_stdout();
    for _ in 0..300 {
        let output = koogate.output();
        let reported = output
            .lines()
            .filter(|line| line.contains("log lines could not be written"))
            .find_map(|line| line.split("since_start=").nth(1)?.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok());
        if let Some(reported) = reported {
            assert!(reported >= dropped, "reported {reported}, counted {dropped}:\n{output}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the lost lines were never reported:\n{}", koogate.output());
}

async fn answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.expect("sent").json().await.expect("a JSON answer")
}

/// The JSON line koogate logged for the call of `activity`, once written.
async fn call_line(koogate: &Running, activity: &str) -> Value {
    for _ in 0..100 {
        let found = koogate.output().lines().find_map(|line| {
            let value: Value = serde_json::from_str(line).ok()?;
            (value["fields"]["message"] == "marketplace call"
                && value["fields"]["activity"] == activity)
                .then_some(value)
        });
        if let Some(line) = found {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no log line for {activity}:\n{}", koogate.output());
}
