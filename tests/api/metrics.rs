//! `/metrics`: an operator's Prometheus sees calls by channel, activity
//! and result code, their latency, and sign-ins by outcome; never an id.
//! The recorder is process-wide (tests share it), so counts are compared
//! before and after, never absolutely.

use crate::helpers::*;

async fn scrape(app: &TestApp) -> String {
    let response = app.http.get(format!("{}/metrics", app.address)).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().expect("ASCII").to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.expect("text")
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
}

#[tokio::test]
async fn calls_are_counted_by_channel_activity_and_result_without_ids() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let ok = r#"koogate_marketplace_calls_total{channel="lifecycle_v2",activity="newInstance",result_code="000000"}"#;
    let strange = r#"koogate_marketplace_calls_total{channel="lifecycle_v2",activity="other",result_code="000002"}"#;
    let before = scrape(&app).await;

    let (order_id, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("instanceId").to_string();
    let made_up = r#"{"activity":"<script>alert(1)</script>","instanceId":"x"}"#;
    assert_eq!(app.v2(made_up).await.code(), "000002");

    let after = scrape(&app).await;
    assert!(sample(&after, ok) >= sample(&before, ok) + 1.0, "{after}");
    assert!(sample(&after, strange) >= sample(&before, strange) + 1.0, "{after}");
    assert!(after.contains("koogate_marketplace_call_duration_seconds_bucket"), "{after}");
    assert!(after.contains("koogate_outbox_backlog "), "{after}");
    assert!(after.contains("koogate_outbox_oldest_age_seconds "), "{after}");
    for secretish in [order_id.as_str(), instance_id.as_str(), "<script>", ACCESS_KEY] {
        assert!(!after.contains(secretish), "{secretish} leaked into /metrics");
    }
}

#[tokio::test]
async fn an_operator_reads_what_each_metric_means_and_how_the_process_is_doing() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    app.buy().await;

    let text = scrape(&app).await;
    for help in [
        "# HELP koogate_marketplace_calls_total Marketplace calls answered",
        "# HELP koogate_outbox_backlog Webhook deliveries waiting",
        "# HELP process_resident_memory_bytes ",
        "# HELP process_open_fds ",
    ] {
        assert!(text.contains(help), "no `{help}` in {text}");
    }
    let resident = sample(&text, "process_resident_memory_bytes");
    assert!(resident > 1_000_000.0, "resident memory {resident} in {text}");
    // Whole seconds (the collector counts in integers): present, not yet 1.
    assert!(text.lines().any(|l| l.starts_with("process_cpu_seconds_total ")), "{text}");
    assert!(sample(&text, "process_open_fds") >= 3.0, "{text}");
}
