//! Faults give a retryable answer and never half-written state.

use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::json;

use crate::helpers::*;

/// Makes the database refuse the last write of a purchase (the transition
/// row), after the order, instance and event rows were written in the same
/// transaction: a fault in the middle of the call.
async fn inject_fault_on_transitions(app: &TestApp) {
    let sql = match app.backend {
        Backend::Sqlite => "CREATE TRIGGER injected_fault BEFORE INSERT ON transitions \
                            BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
            .to_string(),
        Backend::Postgres => "CREATE FUNCTION injected_fault() RETURNS trigger AS $$ \
                              BEGIN RAISE EXCEPTION 'injected fault'; END; $$ LANGUAGE plpgsql; \
                              CREATE TRIGGER injected_fault BEFORE INSERT ON transitions \
                              FOR EACH ROW EXECUTE FUNCTION injected_fault();"
            .to_string(),
    };
    app.db.execute_unprepared(&sql).await.expect("install the fault");
}

async fn remove_fault(app: &TestApp) {
    app.db
        .execute_unprepared("DROP TRIGGER injected_fault ON transitions")
        .await
        .or(app.db.execute_unprepared("DROP TRIGGER injected_fault").await)
        .expect("remove the fault");
}

async fn a_fault_mid_call_answers_000005_and_leaves_nothing_half_written(app: TestApp) {
    inject_fault_on_transitions(&app).await;
    let order_id = random_id("CS");
    let reply = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
    assert_eq!(reply.code(), "000005");
    assert_eq!(reply.json["resultMsg"], "internal error, please retry", "no internals leak");
    let footprint = app.footprint().await;
    assert_eq!((footprint["instances"], footprint["orders"], footprint["transitions"]), (0, 0, 0));
    let event = app.last_event().await;
    assert_eq!(event.result_code, "000005", "the failure itself is recorded");

    // The marketplace retries; once the fault is gone the order is stored once.
    remove_fault(&app).await;
    let retry = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
    assert_eq!(retry.code(), "000000");
    assert_eq!(app.footprint().await["instances"], 1);
}
on_both_backends!(a_fault_mid_call_answers_000005_and_leaves_nothing_half_written);

async fn a_purchase_whose_order_is_held_by_another_request_answers_000004(app: TestApp) {
    let order_id = random_id("CS");
    // Another connection holds the write (SQLite) or the order's key
    // (PostgreSQL) in an open transaction.
    let other = Database::connect(app.database_url.clone()).await.expect("second connection");
    let holder = other.begin().await.expect("begin");
    holder
        .execute_unprepared(&format!(
            "INSERT INTO orders (instance_id, kind, order_id, order_line_id, product_key, created_at) \
             VALUES ('held', 'new', '{order_id}', '{order_id}-000001', '', CURRENT_TIMESTAMP)"
        ))
        .await
        .expect("hold the order");

    let reply = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
    assert_eq!(reply.code(), "000004", "{:?}", reply.json);

    holder.rollback().await.expect("rollback");
    let retry = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
    assert_eq!(retry.code(), "000000");
    assert_eq!(app.footprint().await["instances"], 1);
}
on_both_backends!(a_purchase_whose_order_is_held_by_another_request_answers_000004);

/// PostgreSQL goes away (its connections are cut and no new ones are
/// allowed) while koogate runs: calls answer 000005, store nothing, and
/// work again once it is back, without a restart.
#[tokio::test]
async fn postgres_down_answers_000005_and_recovers_without_a_restart() {
    let Some(app) = spawn_postgres_app(&[]).await else {
        return;
    };
    let name = app.database_name.clone().expect("database name");
    let server = Database::connect(postgres_url().expect("url")).await.expect("server connection");
    server
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .expect("refuse connections");
    server
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("cut connections");

    let order_id = random_id("CS");
    let down = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
    assert_eq!(down.code(), "000005", "{:?}", down.json);
    let ready = app.http.get(format!("{}/readyz", app.address)).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);

    server
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .expect("allow connections");
    let db = Database::connect(app.database_url.clone()).await.expect("reconnect");
    // Like the marketplace, retry until it succeeds: pooled connections the
    // outage cut are dropped as they fail, each such call answering 000005.
    let mut answers = Vec::new();
    for _ in 0..20 {
        let reply = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
        answers.push(reply.code().to_string());
        if reply.code() == "000000" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(answers.last().map(String::as_str), Some("000000"), "recovers: {answers:?}");
    assert!(answers.iter().all(|c| c == "000000" || c == "000005"), "{answers:?}");
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(entity::instance::Entity::find().count(&db).await.expect("count"), 1);
}

async fn readiness_reports_the_database(app: TestApp) {
    let health = app.http.get(format!("{}/healthz", app.address)).send().await.expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let ready = app.http.get(format!("{}/readyz", app.address)).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(
        body,
        json!({
            "status": "ok",
            "database": "ok",
            "redis": "not configured",
            "open_api": "not configured",
        })
    );
}
on_both_backends!(readiness_reports_the_database);

/// With Redis, nonces live there; a replay is still refused, and when
/// Redis is unreachable the database takes over so calls keep working.
#[tokio::test]
async fn nonces_live_in_redis_and_fall_back_to_the_database() {
    let Some(redis) = redis_url() else { return };
    let app = spawn_app(Backend::Sqlite, &[("redis.url", redis.as_str())]).await;
    let nonce = random_nonce();
    let body = || new_instance_body(&random_id("CS"), &random_id("biz-")).into_bytes();
    let first =
        app.v2_with(body(), V2Options { nonce: nonce.clone(), ..V2Options::default() }).await;
    assert_eq!(first.code(), "000000");
    let replay =
        app.v2_with(body(), V2Options { nonce: nonce.clone(), ..V2Options::default() }).await;
    assert_eq!(replay.code(), "000001");
    let client = redis::Client::open(redis.as_str()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let stored: Option<String> = redis::cmd("GET")
        .arg(format!("koogate:nonce:lifecycle:{nonce}"))
        .query_async(&mut conn)
        .await
        .expect("get");
    assert!(stored.is_some(), "the nonce is in Redis");
    let ready = app.http.get(format!("{}/readyz", app.address)).send().await.expect("readyz");
    let body_json: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body_json["redis"], "ok");

    // A Redis nobody answers: the database keeps the nonces.
    let dead = spawn_app(Backend::Sqlite, &[("redis.url", "redis://127.0.0.1:1")]).await;
    let nonce = random_nonce();
    let ok = dead.v2_with(body(), V2Options { nonce: nonce.clone(), ..V2Options::default() }).await;
    assert_eq!(ok.code(), "000000");
    let replay = dead.v2_with(body(), V2Options { nonce, ..V2Options::default() }).await;
    assert_eq!(replay.code(), "000001");
    let ready = dead.http.get(format!("{}/readyz", dead.address)).send().await.expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    let body_json: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body_json["redis"], "unavailable");
}

/// Three replicas started together on an empty database take turns to
/// migrate it; all come up and serve.
#[tokio::test]
async fn replicas_starting_together_migrate_one_at_a_time() {
    if postgres_url().is_none() {
        return;
    }
    let replicas = spawn_three_replicas_together(&[]).await;
    for replica in &replicas {
        let (_, bought) = replica.buy().await;
        assert_eq!(bought.code(), "000000");
    }
    assert_eq!(replicas[0].footprint().await["instances"], 3);
}
