//! The marketplace's newer shapes (spec §4-§6, issue 12): renewal with a
//! change of specification, 17-digit times, `productInfo` and lists in
//! every shape, flags as numbers, `saasExtendParams` encoded once or twice,
//! and numbers kept as the marketplace wrote them. Bodies are written out
//! as the marketplace sends them, byte for byte, and signed with the test key.

use base64::Engine;
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::helpers::*;

/// A V2 refreshInstance body as the current help page documents it.
fn refresh_body(id: &str, order: &str, scene: &str, expire: &str, extra: &str) -> String {
    format!(
        r#"{{"activity":"refreshInstance","instanceId":"{id}","orderId":"{order}","orderLineId":"{order}-000001","scene":"{scene}","expireTime":"{expire}"{extra},"testFlag":"0"}}"#
    )
}

async fn bought(app: &TestApp) -> String {
    let (_, reply) = app.buy().await;
    reply.json["instanceId"].as_str().expect("instanceId").to_string()
}

/// The stored non-personal order details of an instance.
async fn details(app: &TestApp, id: &str) -> Value {
    let row = entity::instance::Entity::find_by_id(id.to_string())
        .one(&app.db)
        .await
        .expect("instances")
        .expect("the instance");
    serde_json::from_str(row.details.as_deref().unwrap_or("null")).expect("details are JSON")
}

async fn a_renewal_with_a_change_of_specification_moves_the_expiry_and_the_sku(app: TestApp) {
    let id = bought(&app).await;
    let body = refresh_body(
        &id,
        "CS-CHANGE-1",
        "RENEWAL_CHANGE",
        "20301124023618256",
        r#","productId":"OFFI-PRO-2","skuCode":"sku-pro-2""#,
    );
    let changed = app.v2(&body).await;
    assert_eq!(changed.code(), "000000", "{:?}", changed.json);
    changed.assert_signed_with(ACCESS_KEY);
    let stored = app.instance(&id).await;
    assert_eq!(stored["expireTime"], "20301124023618", "shown as yyyyMMddHHmmss");
    assert_eq!(stored["productId"], "OFFI-PRO-2");
    assert_eq!(stored["skuCode"], "sku-pro-2");
    assert_eq!(stored["status"], "active");
    let causes: Vec<String> = transitions(&app, &id).await.into_iter().map(|t| t.2).collect();
    assert_eq!(causes, ["new_instance", "renewal_change"]);

    // The marketplace retries the same order: nothing changes, not even
    // with another expiry or SKU in the retry.
    let before = (app.footprint().await, app.instances_snapshot().await);
    for retry in [
        body.clone(),
        refresh_body(
            &id,
            "CS-CHANGE-1",
            "RENEWAL_CHANGE",
            "20991231000000",
            r#","productId":"OFFI-OTHER","skuCode":"sku-other""#,
        ),
    ] {
        assert_eq!(app.v2(&retry).await.code(), "000000");
    }
    assert_eq!((app.footprint().await, app.instances_snapshot().await), before);

    // Without the new specification in the body the expiry still moves and
    // the SKU stays until the order's details are looked up.
    let bare = refresh_body(&id, "CS-CHANGE-2", "RENEWAL_CHANGE", "20311124023618", "");
    assert_eq!(app.v2(&bare).await.code(), "000000");
    let stored = app.instance(&id).await;
    assert_eq!(stored["expireTime"], "20311124023618");
    assert_eq!(
        (stored["productId"].as_str(), stored["skuCode"].as_str()),
        (Some("OFFI-PRO-2"), Some("sku-pro-2"))
    );

    // The scene is part of the key: the same order line as a plain
    // renewal is another call.
    let renewal = refresh_body(&id, "CS-CHANGE-2", "RENEWAL", "20321124023618", "");
    assert_eq!(app.v2(&renewal).await.code(), "000000");
    assert_eq!(app.instance(&id).await["expireTime"], "20321124023618");
}
on_both_backends!(a_renewal_with_a_change_of_specification_moves_the_expiry_and_the_sku);

async fn a_renewal_change_reads_the_specification_from_product_info(app: TestApp) {
    let id = bought(&app).await;
    let product_info = r#","productInfo":"[{\"productId\":\"OFFI-PI\",\"skuCode\":\"sku-pi\",\"linearValue\":20}]""#;
    let body = refresh_body(&id, "CS-CHANGE-PI", "RENEWAL_CHANGE", "20300101000000", product_info);
    assert_eq!(app.v2(&body).await.code(), "000000");
    let stored = app.instance(&id).await;
    assert_eq!(
        (stored["productId"].as_str(), stored["skuCode"].as_str()),
        (Some("OFFI-PI"), Some("sku-pi"))
    );
}
on_both_backends!(a_renewal_change_reads_the_specification_from_product_info);

async fn an_unknown_scene_is_refused_by_name_counted_and_changes_nothing(app: TestApp) {
    let id = bought(&app).await;
    let series = r#"koogate_unknown_scene_total{activity="refreshInstance"}"#;
    let count = |text: &str| -> f64 {
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
    };
    let before = scrape(&app).await;
    let body = refresh_body(&id, "CS-SWAP-1", "RENEWAL_SWAP", "20300101000000", "");
    refused(&app, "unknown scene", "000002", app.v2(&body)).await;
    let reply = app.v2(&refresh_body(&id, "CS-SWAP-2", "RENEWAL_SWAP", "20300101000000", "")).await;
    let message = reply.json["resultMsg"].as_str().expect("resultMsg");
    assert!(message.contains("RENEWAL_SWAP"), "names the scene: {message}");
    let after = scrape(&app).await;
    assert!(count(&after) >= count(&before) + 2.0, "{after}");
    assert!(!after.contains("RENEWAL_SWAP"), "a label takes only known values");
}
on_both_backends!(an_unknown_scene_is_refused_by_name_counted_and_changes_nothing);

async fn scrape(app: &TestApp) -> String {
    let response = app.http.get(format!("{}/metrics", app.address)).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    response.text().await.expect("text")
}

async fn bad_times_and_refreshes_are_refused_and_change_nothing(app: TestApp) {
    let id = bought(&app).await;
    for (what, expire) in [
        ("15 digits", "202301010000001"),
        ("16 digits", "2023010100000012"),
        ("18 digits", "202301010000001234"),
        ("17 digits, no such month", "20231301000000123"),
        ("17 digits, second 60", "20230101000060123"),
        ("a dash", "2023-01-01 00:00"),
    ] {
        let body = refresh_body(&id, "CS-BAD-T", "RENEWAL_CHANGE", expire, "");
        refused(&app, what, "000002", app.v2(&body)).await;
    }
    let unknown =
        refresh_body("no-such-instance", "CS-BAD-I", "RENEWAL_CHANGE", "20300101000000", "");
    refused(&app, "renewal change of an unknown instance", "000003", app.v2(&unknown)).await;
    let no_line = format!(
        r#"{{"activity":"refreshInstance","instanceId":"{id}","orderId":"CS-BAD-L","scene":"RENEWAL_CHANGE","expireTime":"20300101000000"}}"#
    );
    refused(&app, "renewal change without orderLineId", "000002", app.v2(&no_line)).await;
    app.release_instance(&id).await;
    let released = refresh_body(&id, "CS-BAD-R", "RENEWAL_CHANGE", "20300101000000", "");
    refused(&app, "renewal change of a released instance", "000003", app.v2(&released)).await;
}
on_both_backends!(bad_times_and_refreshes_are_refused_and_change_nothing);

/// The 2022 newInstance body, with `productInfo`, flags and numbers
/// written as `shape` says.
fn new_instance_2022(
    order: &str,
    business: &str,
    product_info: &str,
    flags: (&str, &str),
) -> String {
    let (trial, test) = flags;
    format!(
        r#"{{"activity":"newInstance","buyerInfo":{{"customerId":"688055390f3049f283fe9f1aa90f1858","customerName":"CBC_01","mobilePhone":"18652996659","email":"m@example.com"}},"orderInfo":[{{"businessId":"{business}","orderId":"{order}","orderLineId":"{order}-000001","trialFlag":{trial},"orderAmount":12.50,"chargingMode":"PERIOD","periodType":"month","periodNumber":5,"provisionType":1,"productInfo":{product_info},"createTime":"20221124023618256","expireTime":"20221224023618256","extendParams":"[{{\"name\":\"emailDomainName\",\"value\":\"test.example.com\"}}]"}}],"testFlag":{test}}}"#
    )
}

async fn product_info_flags_and_times_are_read_in_every_shape(app: TestApp) {
    let object = r#"{"skuCode":"sku-1","productId":"OFFI788963615933718528","linearValue":20.50}"#;
    let shapes = [
        ("an array", format!("[{object}]"), (r#""1""#, r#""1""#)),
        ("an object", object.to_string(), ("1", "1")),
        (
            "a string holding an array",
            serde_json::to_string(&format!("[{object}]")).expect("s"),
            ("1", r#""1""#),
        ),
        ("a string holding an object", serde_json::to_string(object).expect("s"), (r#""1""#, "1")),
    ];
    for (what, product_info, flags) in shapes {
        let (order, business) = (random_id("CS"), random_id("biz-"));
        let body = new_instance_2022(&order, &business, &product_info, flags);
        let reply = app.v2(&body).await;
        assert_eq!(reply.code(), "000000", "{what}: {:?}", reply.json);
        assert_eq!(reply.json["instanceId"], business.as_str(), "{what}");
        let stored = app.instance(&business).await;
        assert_eq!(stored["productId"], "OFFI788963615933718528", "{what}");
        assert_eq!(stored["skuCode"], "sku-1", "{what}");
        assert_eq!(
            (stored["trial"].as_bool(), stored["testFlag"].as_bool()),
            (Some(true), Some(true)),
            "{what}"
        );
        assert_eq!(stored["expireTime"], "20221224023618", "{what}: 17 digits shown as 14");
        let kept = details(&app, &business).await;
        assert_eq!(kept["linearValue"], "20.50", "{what}: the number as written");
        assert_eq!(kept["orderAmount"], "12.50", "{what}: the number as written");
        assert_eq!(
            kept["extendParams"],
            json!([{"name": "emailDomainName", "value": "test.example.com"}]),
            "{what}: a list sent as a string"
        );
        let logged = app.last_event().await.request;
        assert!(
            logged.contains(r#""orderAmount":"12.50""#),
            "{what}: the event log keeps 12.50: {logged}"
        );

        // The marketplace retries the purchase: the same instance, nothing new.
        let before = app.footprint().await;
        let again =
            app.v2(&new_instance_2022(&order, &random_id("biz-"), &product_info, flags)).await;
        assert_eq!(
            (again.code(), &again.json["instanceId"]),
            ("000000", &reply.json["instanceId"]),
            "{what}"
        );
        assert_eq!(app.footprint().await, before, "{what}");
    }
}
on_both_backends!(product_info_flags_and_times_are_read_in_every_shape);

async fn an_unreadable_informative_field_never_loses_the_purchase(app: TestApp) {
    let (order, business) = (random_id("CS"), random_id("biz-"));
    let body = new_instance_2022(&order, &business, r#""{not json at all""#, ("0", "0"))
        .replace(
            r#""extendParams":"[{\"name\":\"emailDomainName\",\"value\":\"test.example.com\"}]""#,
            r#""extendParams":"emailDomainName=test.example.com""#,
        )
        .replace(r#""orderAmount":12.50"#, r#""orderAmount":{"amount":"12.50"}"#)
        .replace(r#""buyerInfo":{"customerId""#, r#""buyerInfo":"customerId","x":{"customerId""#);
    for changed in ["emailDomainName=test", r#"{"amount":"12.50"}"#, r#""buyerInfo":"customerId""#]
    {
        assert!(body.contains(changed), "{changed} in {body}");
    }
    let reply = app.v2(&body).await;
    assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    let stored = app.instance(&business).await;
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["productId"], Value::Null, "an unreadable productInfo is dropped");
    let kept = details(&app, &business).await;
    assert_eq!(kept["extendParams"], "emailDomainName=test.example.com", "kept as sent");
    assert_eq!(kept["orderAmount"], Value::Null, "an unreadable amount is dropped");
    assert_eq!(kept["periodNumber"], "5", "the readable fields are kept");
    assert_eq!(stored["customerId"], Value::Null, "buyerInfo that is not an object is dropped");
}
on_both_backends!(an_unreadable_informative_field_never_loses_the_purchase);

fn v1_purchase(order: &str, business: &str, extend: &str) -> Vec<(&'static str, String)> {
    vec![
        ("activity", "newInstance".into()),
        ("customerId", "68cbc86abc2018ab880d92f36422fa0e".into()),
        ("businessId", business.into()),
        ("orderId", order.into()),
        ("productId", "00301-666666-0--0".into()),
        ("skuCode", "sku-v1".into()),
        ("expireTime", "20991231235959".into()),
        ("orderAmount", "12.50".into()),
        ("saasExtendParams", extend.into()),
        ("testFlag", "0".into()),
    ]
}

async fn saas_extend_params_read_the_same_encoded_once_or_twice(app: TestApp) {
    // `?`, `>` and `~` make base64 that holds `+` and `/`, which is what
    // the second URL-encoding mangles.
    let json_text = r#"[{"name":"emailDomainName","value":"a?b>c~d.example.com"},{"name":"seats","value":"12.50"}]"#;
    let base64 = base64::engine::general_purpose::STANDARD.encode(json_text);
    assert!(base64.contains('+') || base64.contains('/'), "{base64}");
    let once: String = form_urlencoded::byte_serialize(base64.as_bytes()).collect();
    let expected: Value = serde_json::from_str(json_text).expect("json");
    // The helper URL-encodes every value once more on the wire.
    for (what, sent) in [("encoded once", base64.clone()), ("encoded twice", once)] {
        let (order, business) = (random_id("CS"), random_id("biz-"));
        let params = v1_purchase(&order, &business, &sent);
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = app.v1(&borrowed).await;
        assert_eq!(reply.code(), "000000", "{what}: {:?}", reply.json);
        let kept = details(&app, &business).await;
        assert_eq!(kept["extendParams"], expected, "{what}");
        assert_eq!(kept["orderAmount"], "12.50", "{what}");
        let before = app.footprint().await;
        assert_eq!(app.v1(&borrowed).await.json["instanceId"], business.as_str(), "{what}: repeat");
        assert_eq!(app.footprint().await, before, "{what}: a repeat creates nothing");
    }

    // Not base64 at all: the purchase goes on and the field is kept as sent.
    let (order, business) = (random_id("CS"), random_id("biz-"));
    let params = v1_purchase(&order, &business, "not base64!");
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(app.v1(&borrowed).await.code(), "000000");
    assert_eq!(details(&app, &business).await["extendParams"], "not base64!");
}
on_both_backends!(saas_extend_params_read_the_same_encoded_once_or_twice);

/// An authSync body written out as the marketplace sends it: the list as
/// a string, the flag as `flag`, the time as `time`.
fn auth_sync_raw(enterprise: &Enterprise, flag: &str, time: &str, name: &str) -> Vec<u8> {
    let users = format!(
        r#"[{{"userName":"zhangsan","name":"{name}","orgCode":"d1","role":"user","enable":"true","employeeType":1.50}}]"#
    );
    format!(
        r#"{{"instanceId":"{}","tenantId":"{}","appId":"{APP_ID}","userList":{},"currentSyncTime":"{time}","flag":{flag},"testFlag":0,"timeStamp":"{}"}}"#,
        enterprise.instance_id,
        enterprise.tenant_id,
        serde_json::to_string(&users).expect("a string"),
        beijing_now()
    )
    .into_bytes()
}

async fn kit_times_take_14_or_17_digits_and_keep_their_order(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let tenant = enterprise.tenant_id.clone();
    let send = |flag: &'static str, time: &'static str, name: &'static str| {
        let body = auth_sync_raw(&enterprise, flag, time, name);
        app.kit_v2_with("authSync", body, KitOptions::default())
    };
    send("1", "20250101120000", "Zhang A").await.assert_kit_ok();
    assert_eq!(app.user(&tenant, "zhangsan").await.expect("granted")["name"], "Zhang A");

    // One millisecond older, written with 17 digits: it must not win.
    send(r#""2""#, "20250101115959999", "Zhang Old").await.assert_kit_ok();
    assert_eq!(app.user(&tenant, "zhangsan").await.expect("granted")["name"], "Zhang A");

    // One millisecond newer: it wins; then a 14-digit one a second later.
    send("2", "20250101120000001", "Zhang B").await.assert_kit_ok();
    assert_eq!(app.user(&tenant, "zhangsan").await.expect("granted")["name"], "Zhang B");
    send(r#""2""#, "20250101120001", "Zhang C").await.assert_kit_ok();
    assert_eq!(app.user(&tenant, "zhangsan").await.expect("granted")["name"], "Zhang C");

    // And the same call again changes nothing.
    let before = app.sync_footprint(&tenant).await;
    send(r#""2""#, "20250101120001", "Zhang C").await.assert_kit_ok();
    assert_eq!(app.sync_footprint(&tenant).await, before);

    for (what, time) in [("15 digits", "202501011200011"), ("no such day", "20250132120001000")] {
        let body = auth_sync_raw(&enterprise, "2", time, "Zhang D");
        kit_refused(
            &app,
            &enterprise,
            ("kit_v2", "authSync"),
            what,
            "000002",
            app.kit_v2_with("authSync", body, KitOptions::default()),
        )
        .await;
    }
}
kit_on_both_backends!(kit_times_take_14_or_17_digits_and_keep_their_order);
