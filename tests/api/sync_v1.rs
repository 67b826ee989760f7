//! The legacy Kit interface: the same five calls under `/produceAPI/`,
//! signed with an `authToken` header over the body's fields, with a
//! Beijing-time `timeStamp`.

use serde_json::json;

use crate::helpers::*;

async fn the_v1_story_from_binding_to_granted_users(app: TestApp) {
    let (order_id, bought) = app.buy().await;
    let enterprise = Enterprise {
        tenant_id: random_id("tenant-"),
        instance_id: bought.json["instanceId"].as_str().expect("id").into(),
        order_id,
    };
    let bind = app.kit_v1("tenantSync", &enterprise.tenant_sync(1)).await;
    bind.assert_kit_ok();
    let event = app.last_event().await;
    assert_eq!(
        (event.channel.as_str(), event.activity.as_str(), event.result_code.as_str()),
        ("kit_v1", "tenantSync", "000000")
    );
    let tenant = app.tenant(&enterprise.tenant_id).await;
    assert_eq!(tenant["name"], "Example Enterprise");
    assert_eq!(tenant["instanceIds"], json!([enterprise.instance_id]));

    let secret = random_id("secret-");
    let credential = enterprise.application_sync(
        APP_ID,
        "client-v1",
        &encrypt_client_secret(&secret, OaepDigest::Sha1),
        1,
    );
    app.kit_v1("applicationSync", &credential).await.assert_kit_ok();
    assert_eq!(
        app.tenant(&enterprise.tenant_id).await["apps"],
        json!([{"appId": APP_ID, "clientId": "client-v1"}])
    );

    // V1 departments: "orgInfo", a string, items named with "name".
    let departments = json!([
        {"orgCode": "D11", "name": "Sales East", "parentCode": "D1"},
        {"orgCode": "D1", "name": "Sales", "parentCode": ""},
    ]);
    let full = enterprise.body(json!({"orgInfo": departments.to_string()}));
    app.kit_v1("allOrgSync", &full).await.assert_kit_ok();
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![department("D1", "Sales", ""), department("D11", "Sales East", "D1")]
    );

    // V1 users: the list is a string, optional fields under "extension".
    let mut frank = person("frank", "Frank", "D11", "admin", "true");
    frank["extension"] = json!({"mobile": "13700000007", "email": "frank@example.com",
        "workPlace": "Dongguan", "entryDate": "2019-7-1", "employeeType": 1});
    let users = json!([frank]).to_string();
    let grant = enterprise.auth_sync(1, "20240101000000000", json!(users));
    app.kit_v1("authSync", &grant).await.assert_kit_ok();
    assert_eq!(
        app.users(&enterprise.tenant_id).await,
        vec![json!({"userName": "frank", "name": "Frank", "orgCode": "D11", "role": "admin",
                    "enabled": true, "granted": true})]
    );
    app.assert_never_shown(&enterprise.tenant_id, &[&secret, "13700000007", "frank@example.com"])
        .await;
}
kit_on_both_backends!(the_v1_story_from_binding_to_granted_users);

async fn a_v1_kit_call_with_a_wrong_auth_token_is_refused(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    // V1 knows only add (1) and delete (0).
    let mut renamed = enterprise.tenant_sync(1);
    renamed["name"] = json!("Renamed By An Impostor");
    let channel = ("kit_v1", "tenantSync");
    let token_with = |key: &str, body: &serde_json::Value| {
        let bytes = body.to_string().into_bytes();
        let params = koogate::marketplace::signature::kit_v1_params(&bytes).expect("object");
        koogate::marketplace::signature::v1_auth_token(key, &params)
    };
    let bytes = renamed.to_string().into_bytes();

    for (what, key) in [("a wrong key", "not-the-kit-key"), ("the lifecycle key", ACCESS_KEY)] {
        let token = token_with(key, &renamed);
        let send = app.kit_v1_raw("tenantSync", bytes.clone(), Some(&token));
        kit_refused(&app, &enterprise, channel, what, "000001", send).await;
    }
    let send = app.kit_v1_raw("tenantSync", bytes.clone(), None);
    kit_refused(&app, &enterprise, channel, "no authToken", "000001", send).await;

    // A token made for other content does not cover this body.
    let mut other = renamed.clone();
    other["name"] = json!("Something Else");
    let token = token_with(KIT_KEY, &other);
    let send = app.kit_v1_raw("tenantSync", bytes, Some(&token));
    kit_refused(&app, &enterprise, channel, "a token for another body", "000001", send).await;

    // Correctly signed but stamped ten minutes ago, or in UTC rather than
    // Beijing time (eight hours off): outside the window.
    let ten_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(10);
    let in_utc = koogate::marketplace::timestamp::format_v1(chrono::Utc::now(), 0);
    for (what, stamp) in [
        ("a stale timeStamp", koogate::marketplace::timestamp::format_v1(ten_minutes_ago, 8)),
        ("a timeStamp in UTC", in_utc),
    ] {
        let mut stamped = renamed.clone();
        stamped["timeStamp"] = json!(stamp);
        let token = token_with(KIT_KEY, &stamped);
        let send = app.kit_v1_raw("tenantSync", stamped.to_string().into_bytes(), Some(&token));
        kit_refused(&app, &enterprise, channel, what, "000001", send).await;
    }
}
kit_on_both_backends!(a_v1_kit_call_with_a_wrong_auth_token_is_refused);
