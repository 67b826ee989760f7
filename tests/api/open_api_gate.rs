//! The plan reaches the vendor's app through the gate: the identity token
//! names the skuCode and quantity the marketplace's order/query gave the
//! session's instance, and `X-Koogate-Plan` repeats the skuCode.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

async fn through_the_gate(browser: &Browser, app: &TestApp) -> Value {
    let response =
        browser.client().get(format!("{}/reports/1", app.address)).send().await.expect("gate");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("echo")
}

#[tokio::test]
async fn a_signed_in_user_reaches_the_app_with_the_plan_of_their_instance() {
    let upstream = start_upstream().await;
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let order_id = random_id("CS");
    plant_order(&sim_url, &order_id, PLANTED_SKU, 40).await;
    let mut settings = open_api_settings(port);
    settings.extend(KIT_SETTINGS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    settings.push(("upstream.url".to_string(), upstream));
    let app = spawn_app(Backend::Sqlite, &as_refs(&settings)).await;
    let scene = Scene::for_order(app, &order_id).await;
    let instance_id = scene.enterprise.instance_id.clone();
    wait_for_source(&scene.app, &instance_id, "order_query", Duration::from_secs(20)).await;

    let browser = scene.signed_in("alice").await;
    // A client cannot claim a plan of its own.
    let seen: Value = browser
        .client()
        .get(format!("{}/reports/1", scene.app.address))
        .header("X-Koogate-Plan", "enterprise-unlimited")
        .send()
        .await
        .expect("gate")
        .json()
        .await
        .expect("echo");
    let headers = &seen["headers"];
    assert_eq!(headers["x-koogate-plan"], PLANTED_SKU);
    let token = headers["x-koogate-identity"].as_str().expect("an identity token");
    let claims = verified_claims(&scene.app, token).await;
    assert_eq!(claims["plan"], PLANTED_SKU);
    assert_eq!(claims["quantity"], 40);
    assert_eq!(claims["sub"], "alice");
    // The next request (token reused) says the same.
    let again = through_the_gate(&browser, &scene.app).await;
    assert_eq!(again["headers"]["x-koogate-plan"], PLANTED_SKU);
}

#[tokio::test]
async fn while_the_plan_is_unknown_the_app_gets_no_plan_rather_than_a_guess() {
    let upstream = start_upstream().await;
    let mut settings: Vec<(String, String)> =
        KIT_SETTINGS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    settings.push(("upstream.url".to_string(), upstream));
    let scene = Scene::new(spawn_app(Backend::Sqlite, &as_refs(&settings)).await).await;
    let browser = scene.signed_in("alice").await;
    let seen = through_the_gate(&browser, &scene.app).await;
    let headers = &seen["headers"];
    assert!(headers.get("x-koogate-plan").is_none(), "{headers}");
    let claims =
        verified_claims(&scene.app, headers["x-koogate-identity"].as_str().expect("token")).await;
    assert!(claims.get("plan").is_none() && claims.get("quantity").is_none(), "{claims}");
    assert_eq!(claims["sub"], "alice");
}
