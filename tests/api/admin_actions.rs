//! The admin site's actions over plain HTTP: replays (V2 and V1, refused
//! calls, inputs forgotten after 30 days) and a freeze that ends sessions.

use std::collections::BTreeSet;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use crate::helpers::*;

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

async fn replaying_a_purchase_changes_nothing_and_is_recorded_as_a_replay(app: TestApp) {
    let (_, bought) = app.buy().await;
    let instance_id = bought.json["instanceId"].as_str().expect("id").to_string();
    let purchase = app.last_event().await;
    let before = (app.footprint().await, app.instances_snapshot().await);

    let operator = Operator::new(&app);
    operator.sign_in().await;
    let page = operator.page(&format!("/admin/events/{}", purchase.id)).await;
    assert!(page.body.contains("Replay this call"));
    assert!(page.body.contains("newInstance"));
    let replayed = operator
        .post_form(
            &format!("/admin/events/{}/replay", purchase.id),
            &[("csrf_token", &csrf_token(&page))],
        )
        .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    let replay = app.last_event().await;
    assert_eq!(replay.replay_of, Some(purchase.id));
    assert_eq!(replay.result_code, "000000");
    assert_eq!(replay.activity, "newInstance");
    assert_eq!(replay.instance_id.as_deref(), Some(instance_id.as_str()));
    assert_eq!(
        replayed.location.as_deref(),
        Some(format!("/admin/events/{}?replayed=1", replay.id).as_str())
    );
    assert_eq!((app.footprint().await, app.instances_snapshot().await), before, "idempotent");
    let shown = operator.page(replayed.location.as_deref().expect("to the replay")).await;
    assert!(shown.body.contains("Replayed"));
    assert!(shown.body.contains(&format!("/admin/events/{}", purchase.id)), "links the original");

    // A Kit call replays too, through the same sync code.
    let enterprise = app.bound_enterprise().await;
    let sync = app.last_event().await;
    assert_eq!(sync.activity, "tenantSync");
    let csrf = operator.session_csrf().await;
    let again = operator
        .post_form(&format!("/admin/events/{}/replay", sync.id), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(again.status, 303);
    let replay = app.last_event().await;
    assert_eq!((replay.replay_of, replay.result_code.as_str()), (Some(sync.id), "000000"));
    assert_eq!(app.tenant(&enterprise.tenant_id).await["name"], "Example Enterprise");

    // The JSON API is unchanged by replays.
    let (_, events) = app.admin_get("/admin/api/events?limit=1").await;
    let expected: BTreeSet<String> =
        ["id", "receivedAt", "channel", "activity", "resultCode", "instanceId", "tenantId"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(keys(&events[0]), expected);
}
on_both_backends!(
    replaying_a_purchase_changes_nothing_and_is_recorded_as_a_replay,
    &crate::helpers::admin_settings()
);

#[tokio::test]
async fn a_call_refused_before_it_authenticated_cannot_be_replayed() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let refused = app
        .v2_with(
            new_instance_body("CS-x", "biz-x").into_bytes(),
            V2Options { key: "not-the-access-key".to_string(), ..V2Options::default() },
        )
        .await;
    assert_ne!(refused.code(), "000000");
    let event = app.last_event().await;
    assert!(event.replay_sealed.is_none());
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let page = operator.page(&format!("/admin/events/{}", event.id)).await;
    assert!(!page.body.contains("Replay this call"));
    let tried = operator
        .post_form(
            &format!("/admin/events/{}/replay", event.id),
            &[("csrf_token", &csrf_token(&page))],
        )
        .await;
    assert_eq!(tried.status, 400);
    assert!(tried.body.contains("cannot be replayed"));
}

async fn an_operator_freeze_ends_sessions_and_is_recorded_as_operator(app: TestApp) {
    let enterprise = populated_enterprise(&app, "Acme").await;
    // A user signed in before the freeze.
    let now = chrono::Utc::now().timestamp_millis();
    let session = entity::session::Model {
        id_hash: "a".repeat(64),
        tenant_id: enterprise.tenant_id.clone(),
        app_id: APP_ID.to_string(),
        instance_id: Some(enterprise.instance_id.clone()),
        user_name: "alice".to_string(),
        name: "Alice".to_string(),
        role: "admin".to_string(),
        org_code: None,
        email_sealed: None,
        access_token_sealed: "x".to_string(),
        refresh_token_sealed: None,
        access_expires_at: i64::MAX,
        created_at: now,
        last_seen_at: now,
        expires_at: now + 3_600_000,
        public_id: "a-public-id".to_string(),
    };
    entity::session::Entity::insert(entity::session::ActiveModel::from(session))
        .exec_without_returning(&app.db)
        .await
        .expect("a session");

    let operator = Operator::new(&app);
    operator.sign_in().await;
    let tenant_path = format!("/admin/tenants/{}", enterprise.tenant_id);
    let page = operator.page(&tenant_path).await;
    let freeze = format!("/admin/instances/{}/freeze", enterprise.instance_id);
    assert!(page.body.contains(&freeze), "a freeze button");
    let csrf = csrf_token(&page);
    let fields = [("csrf_token", csrf.as_str()), ("reason", "unpaid invoice 42")];
    let frozen = operator.post_form(&freeze, &fields).await;
    assert_eq!(frozen.status, 303);
    assert_eq!(frozen.location.as_deref(), Some(format!("{tenant_path}?done=frozen").as_str()));
    let instance = app.instance(&enterprise.instance_id).await;
    assert_eq!(
        (instance["status"].as_str(), instance["frozenReason"].as_str()),
        (Some("frozen"), Some("operator"))
    );
    // The freeze revoked the tenant's access from a moment after the
    // session was made: every replica ends it.
    let revocations = entity::revocation::Entity::find().all(&app.db).await.expect("revocations");
    let tenant_subject = format!("tenant:{}", enterprise.tenant_id);
    assert!(
        revocations
            .iter()
            .any(|r| r.subject == tenant_subject && r.reason == "frozen" && r.at >= now),
        "the user's session ended: {revocations:?}"
    );

    let shown = operator.page(&format!("{tenant_path}?done=frozen")).await;
    assert!(shown.body.contains("The instance is frozen"));
    assert!(shown.body.contains("<strong>operator</strong>"), "the history says operator");

    let csrf = csrf_token(&shown);
    let unfreeze = format!("/admin/instances/{}/unfreeze", enterprise.instance_id);
    let active =
        operator.post_form(&unfreeze, &[("csrf_token", &csrf), ("reason", "invoice paid")]).await;
    assert_eq!(active.location.as_deref(), Some(format!("{tenant_path}?done=unfrozen").as_str()));
    assert_eq!(app.instance(&enterprise.instance_id).await["status"], "active");

    let history = entity::transition::Entity::find()
        .filter(entity::transition::Column::InstanceId.eq(enterprise.instance_id.as_str()))
        .order_by_asc(entity::transition::Column::Id)
        .all(&app.db)
        .await
        .expect("transitions");
    let steps: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|t| (t.from_status.as_str(), t.to_status.as_str(), t.cause.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("none", "active", "new_instance"),
            ("active", "frozen", "operator"),
            ("frozen", "active", "operator")
        ]
    );
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("operator", "unfreeze"));
    assert!(event.request.contains("\"operator\":\"admin\""), "who did it: {}", event.request);
}
on_both_backends!(
    an_operator_freeze_ends_sessions_and_is_recorded_as_operator,
    &crate::helpers::admin_settings()
);

/// A V1 call is kept without its `authToken` and replays through the V1
/// code: an expiry the operator lifted by hand comes back when replayed.
async fn a_v1_call_replays_without_its_token(app: TestApp) {
    use base64::Engine;
    let (order_id, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let expire = app
        .v1(&[("activity", "expireInstance"), ("instanceId", &id), ("orderId", &order_id)])
        .await;
    assert_eq!(expire.code(), "000000");
    let expiry = app.last_event().await;
    assert_eq!(expiry.channel, "lifecycle_v1");
    let master = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let vault = koogate::vault::Vault::from_base64(&master).expect("the tests' master key");
    let sealed = expiry.replay_sealed.clone().expect("kept for replay");
    let input = koogate::inbound::ReplayInput::open(&vault, &sealed).expect("opens");
    assert!(input.params.iter().all(|(k, _)| k != "authToken"), "{:?}", input.params);
    assert!(input.params.iter().any(|(k, v)| k == "activity" && v == "expireInstance"));

    let operator = Operator::new(&app);
    operator.sign_in().await;
    let csrf = operator.session_csrf().await;
    let fields = [("csrf_token", csrf.as_str()), ("reason", "renewed by phone")];
    operator.post_form(&format!("/admin/instances/{id}/unfreeze"), &fields).await;
    assert_eq!(app.instance(&id).await["status"], "active");
    let replayed = operator
        .post_form(&format!("/admin/events/{}/replay", expiry.id), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    let replay = app.last_event().await;
    assert_eq!((replay.channel.as_str(), replay.replay_of), ("lifecycle_v1", Some(expiry.id)));
    assert!(!replay.request.contains("authToken"), "{}", replay.request);
    let instance = app.instance(&id).await;
    assert_eq!(
        (instance["status"].as_str(), instance["frozenReason"].as_str()),
        (Some("frozen"), Some("expiry"))
    );
}
on_both_backends!(a_v1_call_replays_without_its_token, &crate::helpers::admin_settings());

/// A call's sealed input is kept for replays for 30 days, then forgotten
/// by housekeeping; the event itself (redacted request, answer) stays.
async fn replay_inputs_are_forgotten_after_thirty_days(app: TestApp) {
    use sea_orm::{ActiveModelTrait, Set};
    app.buy().await;
    let old = app.last_event().await;
    app.buy().await;
    let recent = app.last_event().await;
    assert!(old.replay_sealed.is_some() && recent.replay_sealed.is_some());
    let mut backdated: entity::event::ActiveModel = old.clone().into();
    backdated.received_at = Set(chrono::Utc::now() - chrono::Duration::days(31));
    backdated.update(&app.db).await.expect("backdated");

    let db = koogate::store::Db::connect(&app.database_url, 2).await.expect("connect");
    let forgotten = koogate::inbound::replay::forget_old_replay_inputs(&db).await.expect("purge");
    // The app's own housekeeping may have got there first: either way it
    // is forgotten once, and the state below is what matters.
    assert!(forgotten <= 1, "only the old input is forgotten: {forgotten}");
    let events = app.events().await;
    let old_now = events.iter().find(|e| e.id == old.id).expect("the old event stays");
    assert!(old_now.replay_sealed.is_none(), "its input is forgotten");
    assert_eq!(old_now.request, old.request, "the redacted request stays");
    let recent_now = events.iter().find(|e| e.id == recent.id).expect("the recent event");
    assert!(recent_now.replay_sealed.is_some(), "a recent call can still be replayed");
}
on_both_backends!(replay_inputs_are_forgotten_after_thirty_days, &crate::helpers::admin_settings());
