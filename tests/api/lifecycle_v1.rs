//! The legacy V1 interface: GET with an authToken, still live for old
//! products.

use base64::Engine;
use koogate::marketplace::appinfo::{self, EncryptType};

use crate::helpers::*;

fn new_instance_params(order_id: &str, business_id: &str) -> Vec<(&'static str, String)> {
    let extend = base64::engine::general_purpose::STANDARD
        .encode(r#"[{"name":"emailDomainName","value":"test.example.com"}]"#);
    vec![
        ("activity", "newInstance".into()),
        ("customerId", "68cbc86abc2018ab880d92f36422fa0e".into()),
        ("customerName", "Buyer Co".into()),
        ("businessId", business_id.into()),
        ("orderId", order_id.into()),
        ("productId", "00301-666666-0--0".into()),
        ("skuCode", "sku-v1".into()),
        ("expireTime", "20991231235959".into()),
        ("chargingMode", "1".into()),
        ("periodType", "year".into()),
        ("periodNumber", "1".into()),
        ("mobilePhone", appinfo::encrypt(ACCESS_KEY, EncryptType::Aes256, "13800000000")),
        ("email", appinfo::encrypt(ACCESS_KEY, EncryptType::Aes256, "buyer@example.com")),
        ("saasExtendParams", extend),
        ("testFlag", "0".into()),
    ]
}

fn borrow<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn the_v1_story_from_purchase_to_release(app: TestApp) {
    let order_id = random_id("CS");
    let business_id = random_id("biz-");
    let params = new_instance_params(&order_id, &business_id);
    let bought = app.v1(&borrow(&params)).await;
    assert_eq!(bought.code(), "000000", "{:?}", bought.json);
    assert_eq!(bought.json["instanceId"], business_id.as_str());
    assert!(bought.json["appInfo"]["frontEndUrl"].as_str().is_some());
    bought.assert_signed_with(ACCESS_KEY);

    // V1 keys the purchase on orderId alone.
    let again = app.v1(&borrow(&new_instance_params(&order_id, &random_id("biz-")))).await;
    assert_eq!(again.json["instanceId"], business_id.as_str());

    let id = business_id.as_str();
    let expire =
        app.v1(&[("activity", "expireInstance"), ("instanceId", id), ("orderId", &order_id)]).await;
    assert_eq!(expire.code(), "000000");
    assert_eq!(app.instance(id).await["frozenReason"], "expiry");

    // A renewal with a future expiry lifts the expiry freeze (spec §5).
    let renew = app
        .v1(&[
            ("activity", "refreshInstance"),
            ("instanceId", id),
            ("orderId", "CS-R1"),
            ("expireTime", "21000101000000"),
            ("periodType", "year"),
        ])
        .await;
    assert_eq!(renew.code(), "000000");
    let renewed = app.instance(id).await;
    assert_eq!(
        (renewed["status"].as_str(), renewed["expireTime"].as_str()),
        (Some("active"), Some("21000101000000"))
    );

    // ... but not a freeze for arrears.
    let arrears = app
        .v1(&[("activity", "instanceStatus"), ("instanceId", id), ("instanceStatus", "FREEZE")])
        .await;
    assert_eq!(arrears.code(), "000000");
    let renew2 = app
        .v1(&[
            ("activity", "refreshInstance"),
            ("instanceId", id),
            ("orderId", "CS-R2"),
            ("expireTime", "21010101000000"),
        ])
        .await;
    assert_eq!(renew2.code(), "000000");
    let still = app.instance(id).await;
    assert_eq!(
        (still["status"].as_str(), still["frozenReason"].as_str()),
        (Some("frozen"), Some("arrears"))
    );

    let normal = app
        .v1(&[("activity", "instanceStatus"), ("instanceId", id), ("instanceStatus", "NORMAL")])
        .await;
    assert_eq!(normal.code(), "000000");
    assert_eq!(app.instance(id).await["status"], "active");

    let upgrade = app
        .v1(&[
            ("activity", "upgrade"),
            ("instanceId", id),
            ("orderId", "CS-UP"),
            ("skuCode", "sku-big"),
            ("productId", "00301-777777-0--0"),
            ("amount", "20"),
        ])
        .await;
    assert_eq!(upgrade.code(), "000000");
    let upgraded = app.instance(id).await;
    assert_eq!(
        (upgraded["skuCode"].as_str(), upgraded["productId"].as_str()),
        (Some("sku-big"), Some("00301-777777-0--0"))
    );

    let release = app
        .v1(&[("activity", "releaseInstance"), ("instanceId", id), ("orderId", &order_id)])
        .await;
    assert_eq!(release.code(), "000000");
    assert_eq!(app.instance(id).await["status"], "released");

    let causes: Vec<String> = transitions(&app, id).await.into_iter().map(|t| t.2).collect();
    assert_eq!(
        causes,
        [
            "new_instance",
            "freeze:expiry",
            "renewal",
            "freeze:arrears",
            "unfreeze",
            "upgrade",
            "release"
        ]
    );
}
on_both_backends!(the_v1_story_from_purchase_to_release);

async fn an_identical_v1_request_is_processed_again_harmlessly(app: TestApp) {
    let order_id = random_id("CS");
    let business_id = random_id("biz-");
    let mut params: Vec<(String, String)> = new_instance_params(&order_id, &business_id)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    params.push((
        "timeStamp".into(),
        koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 0),
    ));
    let token = koogate::marketplace::signature::v1_auth_token(ACCESS_KEY, &params);
    params.push(("authToken".into(), token));
    let first = app.v1_raw(&params).await;
    let second = app.v1_raw(&params).await;
    assert_eq!((first.code(), second.code()), ("000000", "000000"));
    assert_eq!(first.json["instanceId"], second.json["instanceId"]);
    assert_eq!(app.footprint().await["instances"], 1);
}
on_both_backends!(an_identical_v1_request_is_processed_again_harmlessly);

async fn v1_refusals_are_precise(app: TestApp) {
    let mut params: Vec<(String, String)> = vec![
        ("activity".into(), "newInstance".into()),
        ("businessId".into(), "b".into()),
        ("orderId".into(), "o".into()),
        ("timeStamp".into(), koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 0)),
    ];
    let token = koogate::marketplace::signature::v1_auth_token("wrong-key", &params);
    params.push(("authToken".into(), token));
    assert_eq!(app.v1_raw(&params).await.code(), "000001", "wrong key");

    let stale = koogate::marketplace::timestamp::format_v1(
        chrono::Utc::now() - chrono::Duration::minutes(6),
        0,
    );
    let reply = app
        .v1(&[
            ("activity", "instanceStatus"),
            ("instanceId", "x"),
            ("instanceStatus", "FREEZE"),
            ("timeStamp", &stale),
        ])
        .await;
    assert_eq!(reply.code(), "000001", "timeStamp 6 minutes old");

    let reply = app
        .v1(&[
            ("activity", "newInstance"),
            ("businessId", "b"),
            ("orderId", "o"),
            ("productId", "p"),
        ])
        .await;
    assert_eq!(reply.code(), "000002", "customerId missing");
    let reply = app
        .v1(&[("activity", "instanceStatus"), ("instanceId", "x"), ("instanceStatus", "PAUSED")])
        .await;
    assert_eq!(reply.code(), "000002", "unknown instanceStatus");
    let reply =
        app.v1(&[("activity", "expireInstance"), ("instanceId", "nope"), ("orderId", "o")]).await;
    assert_eq!(reply.code(), "000003", "unknown instance");
    assert_eq!(app.footprint().await["instances"], 0);
}
on_both_backends!(v1_refusals_are_precise);

async fn a_pay_per_use_order_keys_each_product_apart(app: TestApp) {
    let order_id = random_id("CS");
    let mut first = new_instance_params(&order_id, &random_id("biz-"));
    let mut second = new_instance_params(&order_id, &random_id("biz-"));
    for (params, product) in [(&mut first, "prod-a"), (&mut second, "prod-b")] {
        for (k, v) in params.iter_mut() {
            match *k {
                "chargingMode" => *v = "3".into(),
                "productId" => *v = product.into(),
                _ => {}
            }
        }
    }
    let a = app.v1(&borrow(&first)).await;
    let b = app.v1(&borrow(&second)).await;
    assert_eq!((a.code(), b.code()), ("000000", "000000"));
    assert_ne!(a.json["instanceId"], b.json["instanceId"]);
    assert_eq!(app.footprint().await["instances"], 2);
}
on_both_backends!(a_pay_per_use_order_keys_each_product_apart);
