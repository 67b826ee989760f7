//! Kit sync calls that fail authentication or carry bad input are answered
//! precisely, change nothing and are recorded with their code.

use serde_json::json;

use crate::helpers::*;

async fn kit_calls_that_fail_authentication_answer_000001(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    let mut renamed = enterprise.tenant_sync(2);
    renamed["name"] = json!("Renamed By An Impostor");
    let body = || renamed.to_string().into_bytes();
    let now = chrono::Utc::now().timestamp_millis();
    let sent = |options: KitOptions| app.kit_v2_with("tenantSync", body(), options);
    let refused = |what: &'static str, send| {
        kit_refused(&app, &enterprise, ("kit_v2", "tenantSync"), what, "000001", send)
    };

    let wrong_key = KitOptions { key: "not-the-kit-key".into(), ..KitOptions::default() };
    refused("a wrong key", sent(wrong_key)).await;
    // The lifecycle key is a different key: it opens no Kit call.
    let lifecycle_key = KitOptions { key: ACCESS_KEY.into(), ..KitOptions::default() };
    refused("the lifecycle key", sent(lifecycle_key)).await;
    let other_bytes = KitOptions {
        signed_bytes: Some(enterprise.tenant_sync(2).to_string().into_bytes()),
        ..KitOptions::default()
    };
    refused("a signature over other bytes", sent(other_bytes)).await;
    let stale = KitOptions { timestamp_ms: now - 180_000, ..KitOptions::default() };
    refused("a timestamp 3 minutes old", sent(stale)).await;
    let ahead = KitOptions { timestamp_ms: now + 180_000, ..KitOptions::default() };
    refused("a timestamp 3 minutes ahead", sent(ahead)).await;
    for header in ["x-sign", "x-timestamp", "x-nonce"] {
        let missing = KitOptions { omit: vec![header], ..KitOptions::default() };
        let what = format!("no {header} header");
        let channel = ("kit_v2", "tenantSync");
        kit_refused(&app, &enterprise, channel, &what, "000001", sent(missing)).await;
    }

    // A retry is re-signed with a new nonce; a reused one is a replay.
    let nonce = random_nonce();
    let mut first_name = enterprise.tenant_sync(2);
    first_name["name"] = json!("Genuinely Renamed");
    let first = app
        .kit_v2_with(
            "tenantSync",
            first_name.to_string().into_bytes(),
            KitOptions { nonce: nonce.clone(), ..KitOptions::default() },
        )
        .await;
    first.assert_kit_ok();
    assert_eq!(app.tenant(&enterprise.tenant_id).await["name"], "Genuinely Renamed");
    let replay = KitOptions { nonce, ..KitOptions::default() };
    refused("a reused nonce", sent(replay)).await;
}
kit_on_both_backends!(kit_calls_that_fail_authentication_answer_000001);

async fn the_canonical_form_and_the_exact_bytes_both_verify(app: TestApp) {
    let (order_id, bought) = app.buy().await;
    let enterprise = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: bought.json["instanceId"].as_str().expect("id").into(),
        order_id,
    };
    // Spaced out, keys in the marketplace's order; signed over the compact
    // form with sorted keys (what serde_json writes for a `Value`).
    let body = enterprise.tenant_sync(1);
    let spaced = format!(
        "{{ \"instanceId\": \"{}\", \"orderId\": \"{}\", \"tenantId\": \"{}\",\n  \"tenantCode\": \"huawei\", \"name\": \"Example Enterprise\",\n  \"domainName\": \"https://example.tenantaccount.com\", \"flag\": 1, \"testFlag\": 0, \"timeStamp\": \"{}\" }}",
        enterprise.instance_id, enterprise.order_id, enterprise.tenant_id, body["timeStamp"].as_str().expect("timeStamp")
    );
    let canonical = KitOptions {
        signed_bytes: Some(serde_json::to_vec(&body).expect("json")),
        ..KitOptions::default()
    };
    app.kit_v2_with("tenantSync", spaced.clone().into_bytes(), canonical).await.assert_kit_ok();
    // The same spaced bytes signed exactly as sent.
    app.kit_v2_with("tenantSync", spaced.into_bytes(), KitOptions::default()).await.assert_kit_ok();
    assert_eq!(
        app.tenant(&enterprise.tenant_id).await["instanceIds"],
        json!([enterprise.instance_id])
    );
}
kit_on_both_backends!(the_canonical_form_and_the_exact_bytes_both_verify);

async fn without_a_kit_key_of_its_own_the_lifecycle_key_signs_kit_calls(app: TestApp) {
    let (order_id, bought) = app.buy().await;
    let enterprise = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: bought.json["instanceId"].as_str().expect("id").into(),
        order_id,
    };
    let body = enterprise.tenant_sync(1).to_string().into_bytes();
    let with_access_key = KitOptions { key: ACCESS_KEY.into(), ..KitOptions::default() };
    let reply = app.kit_v2_with("tenantSync", body, with_access_key).await;
    assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    reply.assert_signed_with(ACCESS_KEY);
    assert_eq!(app.tenant(&enterprise.tenant_id).await["deleted"], false);
}
on_both_backends!(without_a_kit_key_of_its_own_the_lifecycle_key_signs_kit_calls);

async fn kit_calls_with_invalid_parameters_answer_000002(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let long = "x".repeat(65);
    let without = |mut body: serde_json::Value, field: &str| {
        body.as_object_mut().expect("object").remove(field);
        body
    };
    let with = |mut body: serde_json::Value, field: &str, value: serde_json::Value| {
        body[field] = value;
        body
    };
    let secret = encrypt_client_secret("a-fine-secret", OaepDigest::Sha1);
    let app_sync = || enterprise.application_sync("app-2", "client-2", &secret, 1);
    let org = || enterprise.single_org_sync(1, "D1", "Sales", "");
    let users =
        |user: serde_json::Value| enterprise.auth_sync(1, "20240101000000000", json!([user]));
    let alice = || person("alice", "Alice", "D1", "user", "true");

    let cases: Vec<(&str, &str, serde_json::Value)> = vec![
        ("tenantSync", "missing tenantId", without(enterprise.tenant_sync(2), "tenantId")),
        ("tenantSync", "unknown flag", with(enterprise.tenant_sync(2), "flag", json!(7))),
        (
            "tenantSync",
            "tenantId over 64 characters",
            with(enterprise.tenant_sync(1), "tenantId", json!(long)),
        ),
        ("applicationSync", "missing appId", without(app_sync(), "appId")),
        ("applicationSync", "missing clientId", without(app_sync(), "clientId")),
        ("applicationSync", "appId over 64 characters", with(app_sync(), "appId", json!(long))),
        ("applicationSync", "unknown flag", with(app_sync(), "flag", json!(7))),
        ("singleOrgSync", "missing orgCode", without(org(), "orgCode")),
        ("singleOrgSync", "orgCode over 64 characters", with(org(), "orgCode", json!(long))),
        ("singleOrgSync", "unknown flag", with(org(), "flag", json!(7))),
        ("authSync", "missing userName", users(without(alice(), "userName"))),
        ("authSync", "userName over 64 characters", users(with(alice(), "userName", json!(long)))),
        ("authSync", "unknown flag", with(users(alice()), "flag", json!(7))),
        ("authSync", "missing tenantId", without(users(alice()), "tenantId")),
        (
            "allOrgSync",
            "missing tenantId",
            without(
                enterprise.body(json!({
            "orgInfoList": [{"orgCode": "D1", "orgName": "Sales", "parentCode": ""}]})),
                "tenantId",
            ),
        ),
    ];
    for (call, what, body) in cases {
        let send = app.kit_v2(call, &body);
        kit_refused(&app, &enterprise, ("kit_v2", call), what, "000002", send).await;
    }

    for call in ["tenantSync", "authSync"] {
        let send = app.kit_v2_with(
            call,
            b"{\"tenantId\": \"t\", \"flag\": ".to_vec(),
            KitOptions::default(),
        );
        kit_refused(&app, &enterprise, ("kit_v2", call), "malformed JSON", "000002", send).await;
    }
}
kit_on_both_backends!(kit_calls_with_invalid_parameters_answer_000002);
