//! The V2 lifecycle as the marketplace drives it: purchase, query, renew,
//! convert a trial, cancel a renewal, freeze, unfreeze, upgrade, check a
//! change, release.

use serde_json::json;

use crate::helpers::*;

async fn a_purchase_is_answered_with_its_instance_and_a_signed_body(app: TestApp) {
    let order_id = random_id("CS");
    let business_id = random_id("biz-");
    let reply = app.v2(&new_instance_body(&order_id, &business_id)).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.code(), "000000");
    assert_eq!(reply.json["instanceId"], business_id.as_str());
    assert_eq!(
        reply.json["appInfo"]["frontEndUrl"],
        format!("http://127.0.0.1:8080/sso/login?instance={business_id}")
    );
    reply.assert_signed_with(ACCESS_KEY);

    let stored = app.instance(&business_id).await;
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["orderId"], order_id.as_str());
    assert_eq!(stored["orderLineId"], format!("{order_id}-000001"));
    assert_eq!(stored["trial"], false);
    assert_eq!(stored["testFlag"], false);

    let query =
        app.v2(&json!({"activity": "queryInstance", "instanceId": business_id}).to_string()).await;
    assert_eq!(query.code(), "000000");
    assert_eq!(query.json["info"][0]["instanceId"], business_id.as_str());
    assert_eq!(
        query.json["info"][0]["appInfo"]["frontEndUrl"],
        reply.json["appInfo"]["frontEndUrl"]
    );
}
on_both_backends!(a_purchase_is_answered_with_its_instance_and_a_signed_body);

async fn a_repeated_purchase_answers_the_first_instance_and_creates_nothing(app: TestApp) {
    let order_id = random_id("CS");
    let first = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;
    let before = app.footprint().await;
    // The marketplace re-sends with a new businessId each time (spec §5).
    let again = app.v2(&new_instance_body(&order_id, &random_id("biz-"))).await;

    assert_eq!(again.code(), "000000");
    assert_eq!(again.json["instanceId"], first.json["instanceId"]);
    assert_eq!(app.footprint().await, before);
    let (_, list) = app.admin_get(&format!("/admin/api/instances?orderId={order_id}")).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}
on_both_backends!(a_repeated_purchase_answers_the_first_instance_and_creates_nothing);

async fn the_2022_body_shape_with_buyer_and_order_info_is_accepted(app: TestApp) {
    let business_id = random_id("biz-");
    let body = json!({
        "activity": "newInstance",
        "buyerInfo": {"customerId": "688055390f3049f283fe9f1aa90f1858", "customerName": "CBC_01",
                      "userId": "u1", "userName": "CBC_01", "mobilePhone": "18652996659", "email": "m@example.com"},
        "orderInfo": [{"businessId": business_id, "orderId": random_id("CS"), "trialFlag": "1",
                       "orderAmount": 12.78, "chargingMode": "PERIOD", "periodType": "month", "periodNumber": 5,
                       "provisionType": 1,
                       "productInfo": [{"skuCode": "sku-1", "productId": "OFFI788963615933718528", "linearValue": 20}],
                       "createTime": "20221024194509", "expireTime": "20221224194509",
                       "extendParams": [{"name": "emailDomainName", "value": "test.example.com"}]}],
        "testFlag": "1"
    });
    let reply = app.v2(&body.to_string()).await;
    assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    assert_eq!(reply.json["instanceId"], business_id.as_str());

    let stored = app.instance(&business_id).await;
    assert_eq!(stored["trial"], true);
    assert_eq!(stored["testFlag"], true);
    assert_eq!(stored["productId"], "OFFI788963615933718528");
    assert_eq!(stored["skuCode"], "sku-1");
    assert_eq!(stored["customerId"], "688055390f3049f283fe9f1aa90f1858");
    assert_eq!(stored["expireTime"], "20221224194509");
}
on_both_backends!(the_2022_body_shape_with_buyer_and_order_info_is_accepted);

async fn renewal_trial_conversion_and_cancellation_move_the_expiry(app: TestApp) {
    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let refresh = |scene: &str, order: &str, expire: &str| {
        json!({"activity": "refreshInstance", "instanceId": id, "orderId": order,
               "orderLineId": format!("{order}-000001"), "scene": scene, "expireTime": expire,
               "productId": "P-FORMAL"})
        .to_string()
    };

    let renewal = app.v2(&refresh("RENEWAL", "CS-RENEW-1", "20300101000000")).await;
    assert_eq!(renewal.code(), "000000");
    assert_eq!(app.instance(&id).await["expireTime"], "20300101000000");

    // A repeat of the same renewal order changes nothing.
    let before = app.footprint().await;
    let repeat = app.v2(&refresh("RENEWAL", "CS-RENEW-1", "20990101000000")).await;
    assert_eq!(repeat.code(), "000000");
    assert_eq!(app.instance(&id).await["expireTime"], "20300101000000");
    assert_eq!(app.footprint().await, before);

    let cancel =
        app.v2(&refresh("UNSUBSCRIBE_RENEWAL_PERIOD", "CS-RENEW-1", "20290101000000")).await;
    assert_eq!(cancel.code(), "000000");
    assert_eq!(app.instance(&id).await["expireTime"], "20290101000000");

    let formal = app.v2(&refresh("TRIAL_TO_FORMAL", "CS-FORMAL-1", "20310101000000")).await;
    assert_eq!(formal.code(), "000000");
    let stored = app.instance(&id).await;
    assert_eq!(stored["trial"], false);
    assert_eq!(stored["productId"], "P-FORMAL");
    assert_eq!(stored["expireTime"], "20310101000000");
}
on_both_backends!(renewal_trial_conversion_and_cancellation_move_the_expiry);

async fn freeze_unfreeze_upgrade_check_and_release(app: TestApp) {
    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let status = |s: &str| {
        json!({"activity": "updateInstanceStatus", "instanceId": id, "status": s}).to_string()
    };

    assert_eq!(app.v2(&status("FREEZE")).await.code(), "000000");
    let frozen = app.instance(&id).await;
    assert_eq!(frozen["status"], "frozen");
    assert_eq!(frozen["frozenReason"], "marketplace");
    // Freezing a frozen instance is a harmless repeat.
    assert_eq!(app.v2(&status("FREEZE")).await.code(), "000000");

    assert_eq!(app.v2(&status("UNFREEZE")).await.code(), "000000");
    let thawed = app.instance(&id).await;
    assert_eq!(thawed["status"], "active");
    assert_eq!(thawed["frozenReason"], serde_json::Value::Null);

    let upgrade = json!({"activity": "upgradeInstance", "instanceId": id, "orderId": "CS-UP-1", "orderLineId": "CS-UP-1-000001"});
    assert_eq!(app.v2(&upgrade.to_string()).await.code(), "000000");
    let before = app.footprint().await;
    assert_eq!(app.v2(&upgrade.to_string()).await.code(), "000000");
    assert_eq!(app.footprint().await, before, "a repeated upgrade order is a no-op");
    let (_, by_upgrade_order) = app.admin_get("/admin/api/instances?orderId=CS-UP-1").await;
    assert_eq!(by_upgrade_order[0]["instanceId"], id.as_str());

    let check = json!({"activity": "changeInstanceCheck", "instanceId": id, "productInfo": {"skuCode": "s", "productId": "p"}});
    assert_eq!(app.v2(&check.to_string()).await.code(), "000000");

    let release = json!({"activity": "releaseInstance", "instanceId": id}).to_string();
    assert_eq!(app.v2(&release).await.code(), "000000");
    assert_eq!(app.instance(&id).await["status"], "released");
    assert_eq!(app.v2(&release).await.code(), "000000", "release is idempotent");

    // Released is terminal: nothing brings it back.
    assert_eq!(app.v2(&status("UNFREEZE")).await.code(), "000003");
    let query = json!({"activity": "queryInstance", "instanceId": id}).to_string();
    assert_eq!(app.v2(&query).await.code(), "000003");
    assert_eq!(app.instance(&id).await["status"], "released");

    let history: Vec<(String, String, String)> = transitions(&app, &id).await;
    assert_eq!(
        history,
        vec![
            ("none".into(), "active".into(), "new_instance".into()),
            ("active".into(), "frozen".into(), "freeze:marketplace".into()),
            ("frozen".into(), "active".into(), "unfreeze".into()),
            ("active".into(), "active".into(), "upgrade".into()),
            ("active".into(), "released".into(), "release".into()),
        ]
    );
}
on_both_backends!(freeze_unfreeze_upgrade_check_and_release);

async fn a_query_answers_up_to_one_hundred_instances_in_the_order_asked(app: TestApp) {
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, r) = app.buy().await;
        ids.push(r.json["instanceId"].as_str().expect("id").to_string());
    }
    ids.reverse();
    let reply = app
        .v2(&json!({"activity": "queryInstance", "instanceId": ids.join(",")}).to_string())
        .await;
    assert_eq!(reply.code(), "000000");
    let answered: Vec<&str> = reply.json["info"]
        .as_array()
        .expect("info")
        .iter()
        .map(|i| i["instanceId"].as_str().expect("id"))
        .collect();
    assert_eq!(answered, ids.iter().map(String::as_str).collect::<Vec<_>>());
}
on_both_backends!(a_query_answers_up_to_one_hundred_instances_in_the_order_asked);

async fn keys_in_any_order_and_spacing_and_raw_body_signatures_verify(app: TestApp) {
    let order = random_id("CS");
    // Pretty-printed, keys shuffled: the canonical form still verifies.
    let spaced = format!(
        "{{ \"testFlag\": \"0\",\n  \"orderLineId\": \"{order}-000001\", \"activity\": \"newInstance\",\n \"orderId\": \"{order}\", \"businessId\": \"{}\" }}",
        random_id("biz-")
    );
    assert_eq!(app.v2(&spaced).await.code(), "000000");

    // Signed over the exact bytes, in the 2025 formula.
    let body = new_instance_body(&random_id("CS"), &random_id("biz-")).replace(',', " , ");
    let options = V2Options { kit_formula: true, ..V2Options::default() };
    assert_eq!(app.v2_with(body.into_bytes(), options).await.code(), "000000");
}
on_both_backends!(keys_in_any_order_and_spacing_and_raw_body_signatures_verify);

async fn local_accounts_are_returned_encrypted_and_the_same_on_query(app: TestApp) {
    use koogate::marketplace::appinfo::{decrypt, EncryptType};
    let (_, bought) = app.buy().await;
    assert_eq!(bought.json["encryptType"], "1");
    let user_enc = bought.json["appInfo"]["userName"].as_str().expect("userName");
    let password_enc = bought.json["appInfo"]["password"].as_str().expect("password");
    let user = decrypt(ACCESS_KEY, EncryptType::Aes256, user_enc).expect("user decrypts");
    let password =
        decrypt(ACCESS_KEY, EncryptType::Aes256, password_enc).expect("password decrypts");
    assert!(password.chars().count() >= 16);

    let id = bought.json["instanceId"].as_str().expect("id");
    let query = app.v2(&json!({"activity": "queryInstance", "instanceId": id}).to_string()).await;
    let info = &query.json["info"][0];
    assert_eq!(info["encryptType"], "1");
    let again =
        decrypt(ACCESS_KEY, EncryptType::Aes256, info["appInfo"]["password"].as_str().expect("pw"))
            .expect("decrypts");
    assert_eq!(again, password);
    assert_eq!(
        decrypt(ACCESS_KEY, EncryptType::Aes256, info["appInfo"]["userName"].as_str().expect("u"))
            .expect("u"),
        user
    );

    // At rest the credentials are sealed, never in clear.
    let row = &app.instances_snapshot().await[0];
    for column in [&row.app_user_sealed, &row.app_password_sealed] {
        let sealed = column.as_deref().expect("sealed");
        assert!(!sealed.contains(&password) && !sealed.contains(&user));
    }
}
on_both_backends!(
    local_accounts_are_returned_encrypted_and_the_same_on_query,
    &[("provisioning.local_accounts", "true")]
);

async fn aes_128_is_used_when_configured(app: TestApp) {
    use koogate::marketplace::appinfo::{decrypt, EncryptType};
    let (_, bought) = app.buy().await;
    assert_eq!(bought.json["encryptType"], "2");
    let password = bought.json["appInfo"]["password"].as_str().expect("password");
    assert!(decrypt(ACCESS_KEY, EncryptType::Aes128, password).is_ok());
}
on_both_backends!(
    aes_128_is_used_when_configured,
    &[("provisioning.local_accounts", "true"), ("marketplace.encrypt_type", "2")]
);

async fn the_capacity_limit_answers_no_resource(app: TestApp) {
    app.buy().await;
    let before = app.footprint().await;
    let refused = app.v2(&new_instance_body(&random_id("CS"), &random_id("biz-"))).await;
    assert_eq!(refused.code(), "000100");
    assert_eq!(app.footprint().await, before);
    assert_eq!(app.last_event().await.result_code, "000100");
}
on_both_backends!(the_capacity_limit_answers_no_resource, &[("provisioning.max_instances", "1")]);

async fn sixteen_simultaneous_deliveries_of_one_order_make_one_instance(app: TestApp) {
    let order_id = random_id("CS");
    let app = std::sync::Arc::new(app);
    let deliveries: Vec<_> = (0..16)
        .map(|_| {
            let app = app.clone();
            let body = new_instance_body(&order_id, &random_id("biz-"));
            tokio::spawn(async move { app.v2(&body).await })
        })
        .collect();
    let mut instance_ids = std::collections::HashSet::new();
    for delivery in deliveries {
        let reply = delivery.await.expect("task");
        assert!(matches!(reply.code(), "000000" | "000004"), "unexpected answer {:?}", reply.json);
        if reply.code() == "000000" {
            instance_ids.insert(reply.json["instanceId"].as_str().expect("id").to_string());
        }
    }
    assert_eq!(instance_ids.len(), 1, "one instanceId for the order");
    let footprint = app.footprint().await;
    assert_eq!(footprint["instances"], 1);
    assert_eq!(footprint["orders"], 1);
    assert_eq!(footprint["transitions"], 1);
}
on_both_backends!(sixteen_simultaneous_deliveries_of_one_order_make_one_instance);

async fn body_sign_is_written_in_the_case_the_marketplace_requires(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({"activity": "queryInstance", "instanceId": "nope"}).to_string();
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let nonce = random_nonce();
    let sig = koogate::marketplace::signature::lifecycle_v2_signature(
        ACCESS_KEY,
        &nonce,
        &ts,
        body.as_bytes(),
    );
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    let request = format!(
        "POST {}?signature={sig}&timestamp={ts}&nonce={nonce} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.marketplace_path,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    assert!(raw.contains("\r\nBody-Sign: sign_type=\"HMAC-SHA256\", signature=\""), "{raw}");
}
on_both_backends!(body_sign_is_written_in_the_case_the_marketplace_requires);

async fn a_freeze_is_never_lost_to_renewals_arriving_at_the_same_moment(app: TestApp) {
    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id").to_string();
    let app = std::sync::Arc::new(app);
    let mut calls = Vec::new();
    for i in 0..12 {
        let body = if i == 6 {
            json!({"activity": "updateInstanceStatus", "instanceId": id, "status": "FREEZE"})
        } else {
            json!({"activity": "refreshInstance", "instanceId": id, "orderId": format!("CS-R{i}"),
                   "orderLineId": format!("CS-R{i}-1"), "scene": "RENEWAL", "expireTime": format!("20{}0101000000", 30 + i)})
        };
        let app = app.clone();
        calls.push(tokio::spawn(async move { app.v2(&body.to_string()).await }));
    }
    for call in calls {
        assert_eq!(call.await.expect("task").code(), "000000");
    }
    assert_eq!(app.instance(&id).await["status"], "frozen", "the freeze survived every renewal");
    let causes: Vec<String> = transitions(&app, &id).await.into_iter().map(|t| t.2).collect();
    assert_eq!(causes, ["new_instance", "freeze:marketplace"]);
    let footprint = app.footprint().await;
    assert_eq!(footprint["orders"], 12, "the purchase and eleven renewals");
}
on_both_backends!(a_freeze_is_never_lost_to_renewals_arriving_at_the_same_moment);
