//! Redis gone (here: configured at an address where nothing listens):
//! the marketplace keeps being served (nonces fall back to the database),
//! sign-in fails with a clear page instead of a half-made session, and
//! `/readyz` says which dependency is down.

use std::net::TcpListener;

use serde_json::json;

use crate::helpers::*;

fn nowhere() -> String {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    format!("redis://127.0.0.1:{port}")
}

async fn without_redis_the_marketplace_is_served_and_sign_in_says_try_again(app: TestApp) {
    // Lifecycle and Kit calls go on.
    let scene = Scene::new(app).await;
    let (_, bought) = scene.app.buy().await;
    assert_eq!(bought.code(), "000000");
    let grant = scene.enterprise.auth_sync(
        1,
        "20240105000000000",
        json!([person("carol", "Carol", "D1", "user", "true")]),
    );
    scene.app.kit_v2("authSync", &grant).await.assert_kit_ok();
    // A replayed nonce is still refused: the database remembers it.
    let body = new_instance_body("REDISDOWN1", "biz-1");
    let options = V2Options::default();
    let first = scene.app.v2_with(body.clone().into_bytes(), options.clone()).await;
    assert_eq!(first.code(), "000000");
    assert_eq!(scene.app.v2_with(body.into_bytes(), options).await.code(), "000001");

    // Readiness names the one that is down.
    let ready =
        scene.app.http.get(format!("{}/readyz", scene.app.address)).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(
        (ready["database"].as_str(), ready["redis"].as_str()),
        (Some("ok"), Some("unavailable"))
    );

    // Sign-in cannot keep a session: a page that says to try again.
    let (browser, page) = scene.sign_in("alice").await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("Please try again"), "{}", page.body);
    assert_eq!(browser.me().await.0, 401, "no session was half-made");
}

#[tokio::test]
async fn without_redis_the_marketplace_is_served_and_sign_in_says_try_again_on_postgres() {
    let redis = nowhere();
    let mut settings = KIT_SETTINGS.to_vec();
    settings.push(("redis.url", &redis));
    if let Some(app) = spawn_postgres_app(&settings).await {
        without_redis_the_marketplace_is_served_and_sign_in_says_try_again(app).await;
    }
}
