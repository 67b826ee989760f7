//! Sessions end within a second when access is taken away (ARCHITECTURE
//! §5): the instance frozen or released, the enterprise dissolved, an
//! account's grant cancelled, the account disabled or deleted.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::json;
use sha2::Digest;

use crate::helpers::*;

async fn freezing_ends_the_tenants_sessions_until_it_is_unfrozen(app: TestApp) {
    let scene = Scene::new(app).await;
    let instance = &scene.enterprise.instance_id;
    let alice = scene.signed_in("alice").await;
    let bob = scene.signed_in("bob").await;

    scene.app.set_instance_status(instance, "FREEZE").await;
    alice.assert_signed_out_within_a_second().await;
    bob.assert_signed_out_within_a_second().await;
    alice.login(&scene.tenant_query()).await.assert_refused(403);

    scene.app.set_instance_status(instance, "UNFREEZE").await;
    scene.centre.signs_in("alice");
    alice.sign_in(&scene.tenant_query()).await.assert_lands_on("/");
    assert_eq!(alice.me().await, (200, scene.me_of("alice")));
}
kit_on_every_session_store!(freezing_ends_the_tenants_sessions_until_it_is_unfrozen);

async fn releasing_the_instance_ends_the_tenants_sessions_for_good(app: TestApp) {
    let scene = Scene::new(app).await;
    let alice = scene.signed_in("alice").await;
    let bob = scene.signed_in("bob").await;

    scene.app.release_instance(&scene.enterprise.instance_id).await;
    alice.assert_signed_out_within_a_second().await;
    bob.assert_signed_out_within_a_second().await;
    alice.login(&scene.tenant_query()).await.assert_refused(410);
    let by_instance = query(&[("instance", &scene.enterprise.instance_id)]);
    alice.login(&by_instance).await.assert_refused(410);
}
kit_on_every_session_store!(releasing_the_instance_ends_the_tenants_sessions_for_good);

async fn dissolving_the_enterprise_ends_its_sessions(app: TestApp) {
    let scene = Scene::new(app).await;
    let alice = scene.signed_in("alice").await;

    let mut dissolve = scene.enterprise.tenant_sync(0);
    dissolve["domainName"] = json!(scene.centre.base_url);
    scene.app.kit_v2("tenantSync", &dissolve).await.assert_kit_ok();
    alice.assert_signed_out_within_a_second().await;
    // Whether a dissolved tenant reads as unknown, forbidden or gone is
    // not pinned down; it must not be a way in.
    let again = alice.login(&scene.tenant_query()).await;
    assert!(matches!(again.status, 403 | 404 | 410), "{again:#?}");
    again.assert_refused(again.status);
}
kit_on_every_session_store!(dissolving_the_enterprise_ends_its_sessions);

/// alice and bob are signed in; an authSync about alice (`flag`, her
/// `enable`) ends her session within a second, leaves bob's, and keeps
/// her out afterwards.
async fn a_change_to_alice_ends_only_her_session(scene: &Scene, flag: i64, enable: &str) {
    let alice = scene.signed_in("alice").await;
    let bob = scene.signed_in("bob").await;

    scene.auth_sync(flag, 2, json!([member("alice", enable)])).await;
    alice.assert_signed_out_within_a_second().await;
    assert_eq!(bob.me().await, (200, scene.me_of("bob")));
    scene.sign_in("alice").await.1.assert_refused(403);
}

async fn cancelling_a_grant_ends_that_persons_session(app: TestApp) {
    let scene = Scene::new(app).await;
    a_change_to_alice_ends_only_her_session(&scene, 3, "true").await;
}
kit_on_every_session_store!(cancelling_a_grant_ends_that_persons_session);

async fn disabling_an_account_ends_its_session(app: TestApp) {
    let scene = Scene::new(app).await;
    a_change_to_alice_ends_only_her_session(&scene, 2, "false").await;
}
kit_on_every_session_store!(disabling_an_account_ends_its_session);

async fn deleting_an_account_ends_its_session(app: TestApp) {
    let scene = Scene::new(app).await;
    a_change_to_alice_ends_only_her_session(&scene, 0, "true").await;
}
kit_on_every_session_store!(deleting_an_account_ends_its_session);

/// A session carries the role it was opened with: when authSync changes
/// someone's role, that session ends and the next sign-in brings the new
/// role. A change of name alone leaves the session be.
async fn a_new_role_takes_effect_at_the_next_sign_in(app: TestApp) {
    let scene = Scene::new(app).await;
    let alice = scene.signed_in("alice").await;
    let bob = scene.signed_in("bob").await;

    let mut renamed = member("bob", "true");
    renamed["name"] = json!("Robert User");
    scene.auth_sync(2, 2, json!([renamed])).await;
    let mut demoted = member("alice", "true");
    demoted["role"] = json!("user");
    scene.auth_sync(2, 3, json!([demoted])).await;

    alice.assert_signed_out_within_a_second().await;
    assert_eq!(bob.me().await.0, 200, "a new name alone keeps the session");
    // "Sign in again" without naming the organisation: the browser's last
    // one is remembered.
    let again = alice.login("next=%2Freports").await;
    assert!(
        again.redirect().starts_with(&scene.centre.base_url),
        "to the auth centre: {}",
        again.redirect()
    );
    let (browser, again) = scene.sign_in("alice").await;
    again.assert_lands_on("/");
    assert_eq!(browser.me().await.1["role"], "user");
}
kit_on_every_session_store!(a_new_role_takes_effect_at_the_next_sign_in);

/// Two replicas behind a load balancer share PostgreSQL (and Redis, when
/// `redis`): a session made on one works on the other, and a freeze the
/// marketplace sends to the other ends it on both within a second.
async fn a_freeze_sent_to_one_replica_ends_the_session_on_both(redis: Option<String>) {
    let mut settings = KIT_SETTINGS.to_vec();
    if let Some(url) = &redis {
        settings.push(("redis.url", url));
    }
    let Some(first) = spawn_postgres_app(&settings).await else { return };
    let second = first.replica(&settings).await;
    let scene = Scene::new(first).await;
    let alice = scene.signed_in("alice").await;
    let alice_on_second = alice.behind(&second);
    assert_eq!(alice_on_second.me().await, (200, scene.me_of("alice")));

    second.set_instance_status(&scene.enterprise.instance_id, "FREEZE").await;
    alice.assert_signed_out_within_a_second().await;
    alice_on_second.assert_signed_out_within_a_second().await;
}

#[tokio::test]
async fn a_freeze_sent_to_one_replica_ends_the_session_on_both_with_database_sessions() {
    a_freeze_sent_to_one_replica_ends_the_session_on_both(None).await;
}

#[tokio::test]
async fn a_freeze_sent_to_one_replica_ends_the_session_on_both_with_redis_sessions() {
    let Some(redis) = redis_url() else { return };
    a_freeze_sent_to_one_replica_ends_the_session_on_both(Some(redis)).await;
}

/// With `redis.url` set, sessions live in Redis: the database keeps no
/// session row, and Redis forgets a session that goes idle by itself.
#[tokio::test]
async fn with_redis_sessions_live_in_redis_and_expire_there() {
    let Some(redis) = redis_url() else { return };
    let mut settings = KIT_SETTINGS.to_vec();
    settings.push(("redis.url", &redis));
    settings.push(("sso.idle_ttl_secs", "2"));
    let Some(app) = spawn_postgres_app(&settings).await else { return };
    let scene = Scene::new(app).await;
    let (alice, page) = scene.sign_in("alice").await;
    page.assert_lands_on("/");
    let cookie = page.cookie("koogate_session").expect("session cookie").value.clone();
    let key = format!("koogate:session:{}", hex::encode(sha2::Sha256::digest(cookie.as_bytes())));

    let rows = scene
        .app
        .db
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM sessions",
        ))
        .await
        .expect("count")
        .expect("a row");
    assert_eq!(rows.try_get::<i64>("", "n").expect("n"), 0, "no session in the database");
    let mut redis = redis::Client::open(redis.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut redis).await.expect("pttl");
    assert!(ttl > 0 && ttl <= 2000, "the session expires in Redis when idle: {ttl} ms");
    assert_eq!(alice.me().await.0, 200);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let exists: i64 = redis::cmd("EXISTS").arg(&key).query_async(&mut redis).await.expect("exists");
    assert_eq!(exists, 0, "Redis forgot the idle session");
    assert_eq!(alice.me().await.0, 401);
}
