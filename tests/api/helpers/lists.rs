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

/// Usage records `r-{i:03}`, `i` from 0 to `n-1`, received in that order
/// and beginning an hour apart (the first earliest): on instance
/// `inst-{i % 115:03}`; every tenth refused, every tenth but one pushed,
/// the rest pending.
pub async fn load_usage_records(app: &TestApp, n: usize) {
    let start = (Utc::now() - Duration::days(2)).timestamp_millis();
    let rows: Vec<_> = (0..n)
        .map(|i| {
            let state = match i % 10 {
                0 => "refused",
                1 => "pushed",
                _ => "pending",
            };
            let begin = start + i as i64 * 3_600_000;
            entity::usage_record::ActiveModel::from(entity::usage_record::Model {
                id: i as i64 + 1,
                record_id: format!("r-{i:03}"),
                instance_id: format!("inst-{:03}", i % 115),
                begin_at: begin,
                end_at: begin + 3_600_000,
                value: "1".into(),
                metering_sn: format!("sn-{i:03}"),
                state: state.into(),
                solo: false,
                relate_pkg_instance: None,
                attempts: 0,
                next_attempt_at: begin,
                claimed_until: None,
                claim_token: None,
                last_error: None,
                refusal_code: (state == "refused").then(|| "CBC.99".into()),
                refusal_message: None,
                received_at: begin,
                pushed_at: None,
            })
        })
        .collect();
    for batch in rows.chunks(500) {
        entity::usage_record::Entity::insert_many(batch.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("usage records inserted");
    }
}

/// `n` open sessions of tenant `t-crowd` straight into the sessions table
/// (as many sign-ins would have left them), `crowd-{i:05}` signed in `i`
/// milliseconds after the first.
pub async fn load_crowd_sessions(app: &TestApp, n: usize) {
    let start = (Utc::now() - Duration::minutes(30)).timestamp_millis();
    let expires = (Utc::now() + Duration::hours(8)).timestamp_millis();
    let rows: Vec<_> = (0..n)
        .map(|i| {
            entity::session::ActiveModel::from(entity::session::Model {
                id_hash: format!("crowd{i:059}"),
                tenant_id: "t-crowd".into(),
                app_id: "app".into(),
                instance_id: None,
                user_name: format!("crowd-{i:05}"),
                name: format!("Crowd {i}"),
                role: "user".into(),
                org_code: None,
                email_sealed: None,
                access_token_sealed: String::new(),
                refresh_token_sealed: None,
                access_expires_at: expires,
                created_at: start + i as i64,
                last_seen_at: Utc::now().timestamp_millis(),
                expires_at: expires,
                public_id: format!("crowd-{i:05}-{}", "c".repeat(26)),
            })
        })
        .collect();
    for batch in rows.chunks(1000) {
        entity::session::Entity::insert_many(batch.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("sessions inserted");
    }
}

/// Sign-in attempts `user{n:03}`, `n` from 0 to `count-1`, two a
/// millisecond (so a cursor must hold time and id) in that order; every
/// fifth in tenant `t-other`, the rest in `t-main`.
pub async fn load_sign_ins(app: &TestApp, count: i64) {
    let now = Utc::now().timestamp_millis();
    let rows = (0..count).map(|n: i64| {
        let mut row = entity::sign_in::ActiveModel::from(entity::sign_in::Model {
            id: 0,
            at: now - 10_000 + n / 2,
            tenant_id: Some(if n % 5 == 0 { "t-other" } else { "t-main" }.into()),
            instance_id: None,
            user_name: Some(format!("user{n:03}")),
            dialect: "koogallery".into(),
            outcome: "signed_in".into(),
            refusal: None,
            reference: None,
        });
        row.id = sea_orm::ActiveValue::NotSet;
        row
    });
    entity::sign_in::Entity::insert_many(rows)
        .exec_without_returning(&app.db)
        .await
        .expect("sign-ins inserted");
}

/// A link as the pages' auto-escaping writes it into `href="…"`.
pub fn href(link: &str) -> String {
    format!("href=\"{}\"", link.replace('&', "&amp;").replace('/', "&#x2f;"))
}

/// Where `needle` first shows on the page (panics when it does not).
pub fn at(body: &str, needle: &str) -> usize {
    body.find(needle).unwrap_or_else(|| panic!("{needle} not on the page"))
}

/// The page's `rel="next"` link (its pager's next page), unescaped.
pub fn next_link(body: &str) -> Option<String> {
    let marker = "rel=\"next\" href=\"";
    let rest = &body[body.find(marker)? + marker.len()..];
    let link = &rest[..rest.find('"')?];
    Some(link.replace("&#x2f;", "/").replace("&amp;", "&"))
}

/// Events `1` to `n` on a fresh database (ids in the order received, a
/// second apart): kit_v2 `authSync` calls, every fourth an operator's
/// `freeze` instead.
pub async fn load_events(app: &TestApp, n: i64) {
    let start = Utc::now() - Duration::seconds(n + 60);
    let rows: Vec<_> = (1..=n)
        .map(|e| {
            let operator = e % 4 == 0;
            let mut row = entity::event::ActiveModel::from(entity::event::Model {
                id: 0,
                received_at: start + Duration::seconds(e),
                channel: if operator { "operator" } else { "kit_v2" }.into(),
                activity: if operator { "freeze" } else { "authSync" }.into(),
                result_code: "000000".into(),
                result_msg: "ok".into(),
                instance_id: None,
                tenant_id: None,
                order_id: None,
                test_flag: false,
                duration_ms: 3,
                request: "{}".into(),
                response: "{}".into(),
                replay_of: None,
                detail: None,
                replay_sealed: None,
                refused: false,
            });
            row.id = sea_orm::ActiveValue::NotSet;
            row
        })
        .collect();
    for batch in rows.chunks(500) {
        entity::event::Entity::insert_many(batch.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("events inserted");
    }
}
