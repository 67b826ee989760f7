//! Deliveries that fail: retried while the receiver fails, dead after
//! their period, and put back in line by an operator (API and site).

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

async fn an_event_never_accepted_is_dead_after_its_period_and_can_be_redelivered(
    app: TestApp,
    receiver: Receiver,
) {
    let (_, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("instanceId").to_string();
    let (_, backlog) = app.admin_get("/admin/api/outbox/backlog").await;
    assert_eq!(backlog[0]["type"], "instance.created");
    assert_eq!(backlog[0]["status"], "pending");
    let webhook_id = backlog[0]["webhookId"].as_str().expect("webhookId").to_string();

    // The receiver fails until the period (1.5 s here, a day in production)
    // is over.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let (status, dead) = app.admin_get("/admin/api/outbox/dead").await;
        assert_eq!(status, 200);
        if dead.as_array().is_some_and(|d| !d.is_empty()) {
            break dead;
        }
        assert!(tokio::time::Instant::now() < deadline, "never dead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dead[0]["webhookId"], webhook_id.as_str());
    assert_eq!(dead[0]["status"], "dead");
    assert_eq!(dead[0]["lastError"], "HTTP 500");
    assert_eq!(dead[0]["data"]["instanceId"], instance_id.as_str());
    let tried = dead[0]["attempts"].as_u64().expect("attempts");
    assert!(tried >= 2, "retried before giving up: {tried}");
    assert!(dead[0]["deadAt"].as_str().expect("deadAt").ends_with('Z'));
    let (_, summary) = app.admin_get("/admin/api/outbox").await;
    assert_eq!((summary["pending"].as_u64(), summary["dead"].as_u64()), (Some(0), Some(1)));

    // Dead letters do not hold the tenant's later events back.
    app.set_instance_status(&instance_id, "FREEZE").await;

    receiver.behave(Behaviour::default());
    let redeliver = |id: &str| {
        app.http
            .post(format!("{}/admin/api/outbox/{id}/redeliver", app.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let response = redeliver(&webhook_id).await.expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    let accepted = receiver.wait_for(2).await;
    let ids: HashSet<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
    assert!(ids.contains(webhook_id.as_str()), "the redelivery arrives under its webhook-id");
    assert_once_each(&accepted);

    // Only dead letters can be redelivered; unknown ids are 404; the token
    // is required.
    assert_eq!(redeliver(&webhook_id).await.expect("sent").status().as_u16(), 400);
    assert_eq!(redeliver("msg_unknown").await.expect("sent").status().as_u16(), 404);
    let anonymous = app
        .http
        .post(format!("{}/admin/api/outbox/{webhook_id}/redeliver", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status().as_u16(), 401);
    let (_, dead) = app.admin_get("/admin/api/outbox/dead").await;
    assert_eq!(dead, json!([]));
}

mod an_event_never_accepted_is_dead_after_its_period_and_can_be_redelivered {
    use super::*;

    async fn run(backend: Backend) {
        let receiver = Receiver::start(Behaviour { always_fail: true, ..Behaviour::default() });
        let mut settings = receiver.settings(&[]);
        settings.push(("outbox.give_up_after_ms".into(), "1500".into()));
        if let Some(app) = spawn_with(backend, &settings).await {
            super::an_event_never_accepted_is_dead_after_its_period_and_can_be_redelivered(
                app, receiver,
            )
            .await;
        }
    }

    #[tokio::test]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}

/// The operator sees the backlog and the dead letters on the admin site
/// and puts a dead letter back in line with a button; the vendor's app
/// then gets it, under its first webhook-id.
#[tokio::test]
async fn an_operator_sees_the_backlog_and_redelivers_a_dead_letter_from_the_site() {
    let receiver = Receiver::start(Behaviour { always_fail: true, ..Behaviour::default() });
    let mut settings = receiver.settings(&[]);
    settings.push(("outbox.give_up_after_ms".into(), "1500".into()));
    settings.push(("admin.password_hash".into(), admin_password_hash().to_string()));
    let app = spawn_with(Backend::Sqlite, &settings).await.expect("an app");
    let (_, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("instanceId").to_string();
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let waiting = operator.page("/admin/outbox").await;
    assert_eq!(waiting.status, 200);
    assert!(waiting.body.contains("instance.created"), "{}", waiting.body);
    assert!(waiting.body.contains(&instance_id), "{}", waiting.body);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = operator.page("/admin/outbox").await;
        if page.body.contains("Redeliver") {
            break page;
        }
        assert!(tokio::time::Instant::now() < deadline, "never dead: {}", page.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.body.contains("HTTP 500"), "the last error shows: {}", page.body);
    let (_, dead) = app.admin_get("/admin/api/outbox/dead").await;
    let webhook_id = dead[0]["webhookId"].as_str().expect("webhookId").to_string();
    let action = format!("/admin/outbox/{webhook_id}/redeliver");

    // Without the page's token nothing happens.
    assert_eq!(operator.post_form(&action, &[("csrf_token", "forged")]).await.status, 403);
    receiver.behave(Behaviour::default());
    let done = operator.post_form(&action, &[("csrf_token", &csrf_token(&page))]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some("/admin/outbox?done=redelivered"));
    let accepted = receiver.wait_for(1).await;
    assert_eq!(accepted[0].id, webhook_id);
    let shown = operator.page("/admin/outbox?done=redelivered").await;
    assert!(shown.body.contains("back in line"), "{}", shown.body);
}
