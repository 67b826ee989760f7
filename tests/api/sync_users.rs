//! authSync: the enterprise admin grants the app to accounts, edits them,
//! cancels and deletes them; lists as arrays or strings; an older sync
//! never overwrites a newer one; at most 500 users per call.

use serde_json::{json, Value};

use crate::helpers::*;

fn listed(
    user_name: &str,
    name: &str,
    org: &str,
    role: &str,
    enabled: bool,
    granted: bool,
) -> Value {
    json!({"userName": user_name, "name": name, "orgCode": org, "role": role,
           "enabled": enabled, "granted": granted})
}

async fn user_count(app: &TestApp, enterprise: &Enterprise) -> u64 {
    app.tenant(&enterprise.tenant_id).await["userCount"].as_u64().expect("userCount")
}

async fn an_admin_grants_edits_cancels_and_deletes_accounts(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let grant = enterprise.auth_sync(
        1,
        "20240101000000000",
        json!([
            person("alice", "Alice", "D1", "admin", "true"),
            person("bob", "Bob", "D2", "user", "false"),
        ]),
    );
    app.kit_v2("authSync", &grant).await.assert_kit_ok();
    assert_eq!(
        app.users(&enterprise.tenant_id).await,
        vec![
            listed("alice", "Alice", "D1", "admin", true, true),
            listed("bob", "Bob", "D2", "user", false, true),
        ]
    );
    assert_eq!(user_count(&app, &enterprise).await, 2);
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("kit_v2", "authSync"));

    // The same grant delivered again changes nothing.
    let before = app.sync_footprint(&enterprise.tenant_id).await;
    app.kit_v2("authSync", &grant).await.assert_kit_ok();
    assert_eq!(app.sync_footprint(&enterprise.tenant_id).await, before);

    let edit = enterprise.auth_sync(
        2,
        "20240102000000000",
        json!([person("bob", "Robert", "D1", "admin", "true")]),
    );
    app.kit_v2("authSync", &edit).await.assert_kit_ok();
    assert_eq!(
        app.user(&enterprise.tenant_id, "bob").await,
        Some(listed("bob", "Robert", "D1", "admin", true, true))
    );

    // Cancelling the grant keeps the account on the list.
    let cancel = enterprise.auth_sync(
        3,
        "20240103000000000",
        json!([person("bob", "Robert", "D1", "admin", "true")]),
    );
    app.kit_v2("authSync", &cancel).await.assert_kit_ok();
    let bob = app.user(&enterprise.tenant_id, "bob").await.expect("bob is listed");
    assert_eq!(bob["granted"], false);

    // Deleting an account takes its grant away for good.
    let granted_before = user_count(&app, &enterprise).await;
    let delete = enterprise.auth_sync(
        0,
        "20240104000000000",
        json!([person("alice", "Alice", "D1", "admin", "true")]),
    );
    app.kit_v2("authSync", &delete).await.assert_kit_ok();
    let alice = app.user(&enterprise.tenant_id, "alice").await;
    assert!(
        alice.as_ref().is_none_or(|a| a["granted"] == false),
        "a deleted account is not granted: {alice:?}"
    );
    assert!(user_count(&app, &enterprise).await < granted_before);

    // Deleting again, or deleting someone never granted, is a success.
    app.kit_v2("authSync", &delete).await.assert_kit_ok();
    let stranger = enterprise.auth_sync(
        0,
        "20240105000000000",
        json!([person("nobody", "Nobody", "D1", "user", "true")]),
    );
    app.kit_v2("authSync", &stranger).await.assert_kit_ok();
    assert!(app.user(&enterprise.tenant_id, "nobody").await.is_none_or(|n| n["granted"] == false));
}
kit_on_both_backends!(an_admin_grants_edits_cancels_and_deletes_accounts);

async fn a_user_list_may_be_a_string_with_optional_fields_anywhere(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    // V1 style: the list is a string, the optional fields sit in "extension".
    let mut carol = person("carol", "Carol", "D1", "user", "true");
    carol["extension"] = json!({"mobile": "13900000001", "email": "carol@example.com",
        "workPlace": "Shenzhen", "entryDate": "2021-3-1", "employeeType": 1});
    // V2 style: the same optional fields at the top level.
    let mut dave = person("dave", "Dave", "D2", "admin", "false");
    for (field, value) in [
        ("mobile", json!("13900000002")),
        ("email", json!("dave@example.com")),
        ("workPlace", json!("Xi'an")),
        ("entryDate", json!("2020-12-31")),
        ("employeeType", json!(2)),
        ("position", json!("Engineer")),
        ("employeeCode", json!("E-0002")),
    ] {
        dave[field] = value;
    }
    let as_text = serde_json::to_string(&json!([carol, dave])).expect("json");
    let grant = enterprise.auth_sync(1, "20240101000000000", json!(as_text));
    app.kit_v2("authSync", &grant).await.assert_kit_ok();

    assert_eq!(
        app.users(&enterprise.tenant_id).await,
        vec![
            listed("carol", "Carol", "D1", "user", true, true),
            listed("dave", "Dave", "D2", "admin", false, true),
        ]
    );
    // Personal fields stay out of the admin API and the event log.
    app.assert_never_shown(
        &enterprise.tenant_id,
        &["13900000001", "carol@example.com", "13900000002", "dave@example.com"],
    )
    .await;
}
kit_on_both_backends!(a_user_list_may_be_a_string_with_optional_fields_anywhere);

async fn an_older_sync_never_overwrites_a_newer_one(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let at = |flag: i64, time: &str, role: &str| {
        let erin = person("erin", "Erin", "D1", role, "true");
        enterprise.auth_sync(flag, time, json!([erin]))
    };
    app.kit_v2("authSync", &at(1, "20240101000000000", "admin")).await.assert_kit_ok();

    // A delayed retry of a change made the year before arrives late: it
    // is answered as a success and ignored.
    app.kit_v2("authSync", &at(2, "20230101000000000", "user")).await.assert_kit_ok();
    let erin = app.user(&enterprise.tenant_id, "erin").await.expect("erin");
    assert_eq!(erin["role"], "admin");

    // A newer change applies.
    app.kit_v2("authSync", &at(2, "20250101000000000", "user")).await.assert_kit_ok();
    let erin = app.user(&enterprise.tenant_id, "erin").await.expect("erin");
    assert_eq!(erin["role"], "user");
}
kit_on_both_backends!(an_older_sync_never_overwrites_a_newer_one);

async fn five_hundred_users_fit_in_one_call_and_501_do_not(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let people = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| person(&format!("user{i:04}"), &format!("User {i}"), "D1", "user", "true"))
                .collect(),
        )
    };

    let too_many = enterprise.auth_sync(1, "20240101000000000", people(501));
    let send = app.kit_v2("authSync", &too_many);
    kit_refused(&app, &enterprise, ("kit_v2", "authSync"), "501 users", "000002", send).await;
    assert_eq!(app.users(&enterprise.tenant_id).await, Vec::<Value>::new());

    let full = enterprise.auth_sync(1, "20240101000000000", people(500));
    app.kit_v2("authSync", &full).await.assert_kit_ok();
    assert_eq!(user_count(&app, &enterprise).await, 500);
    assert_eq!(app.users(&enterprise.tenant_id).await.len(), 500);
}
kit_on_both_backends!(five_hundred_users_fit_in_one_call_and_501_do_not);
