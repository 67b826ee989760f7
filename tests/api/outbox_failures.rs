//! When the vendor's app keeps refusing a webhook, an operator sees why
//! (the start of what the app answered) and what it holds up (the events
//! of the same instance waiting behind it), without opening the app's logs.

use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};

use crate::helpers::*;

/// An app whose webhook endpoint is down and says so, at length.
fn start_failing_receiver() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/webhooks", listener.local_addr().expect("addr"));
    let server = HttpServer::new(|| {
        App::new().route(
            "/webhooks",
            web::post().to(|| async {
                let page =
                    format!("database is down:\r\n  connection refused\n{}", "x".repeat(100_000));
                HttpResponse::ServiceUnavailable().body(page)
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    url
}

#[tokio::test]
async fn an_operator_sees_why_a_webhook_fails_and_what_waits_behind_it() {
    let url = start_failing_receiver();
    let mut settings: Vec<(String, String)> =
        admin_settings().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (k, v) in [
        ("upstream.webhook_url", url.as_str()),
        ("upstream.webhook_secret", "whsec_dGhlIHZlbmRvcidzIHdlYmhvb2sga2V5LCAzMiBiLiE="),
        ("outbox.retry_base_ms", "50"),
        ("outbox.retry_cap_ms", "200"),
        ("outbox.poll_ms", "50"),
    ] {
        settings.push((k.to_string(), v.to_string()));
    }
    let app = spawn_with(Backend::Sqlite, &settings).await.expect("an app");
    let (_, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("instanceId").to_string();
    app.set_instance_status(&instance_id, "FREEZE").await;
    app.set_instance_status(&instance_id, "UNFREEZE").await;

    let operator = Operator::new(&app);
    operator.sign_in().await;
    operator.open("/language?set=en&next=/admin/outbox").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = operator.page("/admin/outbox").await;
        if page.body.contains("HTTP 503") {
            break page;
        }
        assert!(tokio::time::Instant::now() < deadline, "no failure shown: {}", page.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        page.body.contains("HTTP 503: database is down: connection refused xxx"),
        "the app's own words, on one line: {}",
        page.body
    );
    assert!(!page.body.contains(&"x".repeat(400)), "only the start of a long answer");
    assert!(page.body.contains("Waiting behind it"), "{}", page.body);
    let row = page
        .body
        .split("<tr>")
        .find(|row| row.contains("instance.created"))
        .expect("the purchase's event is listed");
    assert!(
        row.contains(r#"<td class="num">2</td>"#),
        "the freeze and the unfreeze wait behind the purchase: {row}"
    );
}
