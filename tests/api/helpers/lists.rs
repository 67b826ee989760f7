//! Rows for the admin list stories, written straight into the tables
//! (as the syncs would have): many instances at once.

use chrono::{Duration, Utc};
use sea_orm::EntityTrait;

use super::TestApp;

/// Instance `inst-{i:03}`: created `i` seconds after the first, the newest
/// expiring first, every tenth frozen.
pub fn listed_instance(i: usize) -> entity::instance::Model {
    let at = Utc::now() - Duration::hours(1) + Duration::seconds(i as i64);
    entity::instance::Model {
        instance_id: format!("inst-{i:03}"),
        status: if i.is_multiple_of(10) { "frozen" } else { "active" }.into(),
        trial: false,
        frozen_reason: i.is_multiple_of(10).then(|| "marketplace".into()),
        // The newest expires first.
        expire_time: Some(format!("2031{:010}", 1000 - i)),
        order_id: format!("CS{i:08}"),
        order_line_id: None,
        product_id: Some("product".into()),
        sku_code: Some("sku".into()),
        customer_id: None,
        tenant_id: None,
        test_flag: false,
        channel: "v2".into(),
        details: None,
        buyer_sealed: None,
        app_user_sealed: None,
        app_password_sealed: None,
        app_password_hash: None,
        created_at: at,
        updated_at: at,
    }
}

/// Instances `inst-000` to `inst-{n-1}`.
pub async fn load_instances(app: &TestApp, n: usize) {
    let rows = (0..n).map(|i| entity::instance::ActiveModel::from(listed_instance(i)));
    entity::instance::Entity::insert_many(rows)
        .exec_without_returning(&app.db)
        .await
        .expect("instances inserted");
}

/// Open sessions of `user-{i:03}` in tenant `t-many`, `i` from 0 to
/// `n-1`: signed in `i` seconds after the first, the earliest seen last.
pub async fn load_sessions(app: &TestApp, n: usize) {
    let start = Utc::now() - Duration::minutes(10);
    let rows = (0..n).map(|i| {
        let created = start + Duration::seconds(i as i64);
        let seen = Utc::now() - Duration::seconds(i as i64);
        entity::session::ActiveModel::from(entity::session::Model {
            id_hash: format!("{i:064}"),
            tenant_id: "t-many".into(),
            app_id: "app".into(),
            instance_id: None,
            user_name: format!("user-{i:03}"),
            name: format!("User {i}"),
            role: "user".into(),
            org_code: None,
            email_sealed: None,
            access_token_sealed: String::new(),
            refresh_token_sealed: None,
            access_expires_at: (Utc::now() + Duration::hours(1)).timestamp_millis(),
            created_at: created.timestamp_millis(),
            last_seen_at: seen.timestamp_millis(),
            expires_at: (Utc::now() + Duration::hours(8)).timestamp_millis(),
            public_id: format!("public-{i:03}-{}", "p".repeat(32)),
        })
    });
    entity::session::Entity::insert_many(rows)
        .exec_without_returning(&app.db)
        .await
        .expect("sessions inserted");
}

/// Pending outbox events `msg_wait_{i:03}`, `i` from 0 to `n-1`, in that
/// order (no webhook is set, so they stay pending).
pub async fn load_pending_events(app: &TestApp, n: usize) {
    load_outbox_events(app, n, "pending", "msg_wait").await;
}

/// Dead letters `msg_dead_{i:03}`, `i` from 0 to `n-1`, in that order.
pub async fn load_dead_letters(app: &TestApp, n: usize) {
    load_outbox_events(app, n, "dead", "msg_dead").await;
}

async fn load_outbox_events(app: &TestApp, n: usize, status: &str, prefix: &str) {
    let now = Utc::now().timestamp_millis();
    let rows = (0..n).map(|i| {
        entity::outbox::ActiveModel::from(entity::outbox::Model {
            id: i as i64 + 1,
            webhook_id: format!("{prefix}_{i:03}"),
            event_type: "instance.created".into(),
            tenant_id: None,
            instance_id: Some(format!("inst-{i:03}")),
            payload: "{}".into(),
            status: status.into(),
            created_at: now + i as i64,
            retry_from: now,
            attempts: 0,
            next_attempt_at: now + 3_600_000,
            claimed_until: None,
            claim_token: None,
            last_error: None,
            delivered_at: None,
            dead_at: (status == "dead").then_some(now + i as i64),
        })
    });
    entity::outbox::Entity::insert_many(rows)
        .exec_without_returning(&app.db)
        .await
        .expect("outbox events inserted");
}

/// Drift findings on `inst-{i:03}`, `i` from 0 to `n-1`: found `i` seconds
/// after the first; even ones of kind `sku_differs`, odd ones `quantity_differs`.
pub async fn load_drift_findings(app: &TestApp, n: usize) {
    let start = Utc::now() - Duration::hours(1);
    let rows = (0..n).map(|i| {
        let at = (start + Duration::seconds(i as i64)).timestamp_millis();
        entity::drift_finding::ActiveModel::from(entity::drift_finding::Model {
            id: i as i64 + 1,
            instance_id: format!("inst-{i:03}"),
            kind: if i.is_multiple_of(2) { "sku_differs" } else { "quantity_differs" }.into(),
            here: "{}".into(),
            there: "{}".into(),
            found_at: at,
            checked_at: at,
        })
    });
    entity::drift_finding::Entity::insert_many(rows)
        .exec_without_returning(&app.db)
        .await
        .expect("drift findings inserted");
}
