//! Faults during a sync leave the previous copy whole; a released
//! instance takes its tenant's secrets and personal data with it.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::*;

fn full_list(names: &str, count: usize) -> Value {
    let orgs: Vec<Value> = (0..count)
        .map(|i| {
            let parent = if i == 0 { String::new() } else { format!("d{}", (i - 1) / 10) };
            json!({"orgCode": format!("d{i}"), "orgName": format!("{names} {i}"), "parentCode": parent})
        })
        .collect();
    Value::Array(orgs)
}

/// The database connection dies half-way through writing a full sync
/// (PostgreSQL: the backend is terminated from inside the transaction;
/// SQLite: the statement is aborted): the answer asks for a retry and the
/// tree is exactly what it was before.
async fn a_full_sync_killed_half_way_leaves_the_previous_tree(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    let first = enterprise.body(json!({"orgInfoList": full_list("Old", 3000)}));
    app.kit_v2("allOrgSync", &first).await.assert_kit_ok();
    let before = app.departments(&enterprise.tenant_id).await;
    assert_eq!(before.len(), 3000);

    let fault = match app.backend {
        Backend::Sqlite => "CREATE TRIGGER half_way BEFORE INSERT ON departments WHEN NEW.org_code = 'd2500' \
                            BEGIN SELECT RAISE(ABORT, 'connection lost'); END;"
            .to_string(),
        Backend::Postgres => "CREATE FUNCTION half_way() RETURNS trigger AS $$ BEGIN \
                              IF NEW.org_code = 'd2500' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; \
                              RETURN NEW; END; $$ LANGUAGE plpgsql; \
                              CREATE TRIGGER half_way BEFORE INSERT ON departments \
                              FOR EACH ROW EXECUTE FUNCTION half_way();"
            .to_string(),
    };
    app.db.execute_unprepared(&fault).await.expect("install the fault");
    // Renames everything, adds 500 and drops 500: all or nothing.
    let mut second: Vec<Value> = full_list("New", 3000).as_array().expect("list")[500..].to_vec();
    second.extend(full_list("Extra", 3500).as_array().expect("list")[3000..].iter().cloned());
    let reply = app.kit_v2("allOrgSync", &enterprise.body(json!({"orgInfoList": second}))).await;
    assert_eq!(reply.code(), "000005", "{:?}", reply.json);
    assert_eq!(app.departments(&enterprise.tenant_id).await, before, "the previous tree is intact");

    let drop = match app.backend {
        Backend::Sqlite => "DROP TRIGGER half_way",
        Backend::Postgres => "DROP TRIGGER half_way ON departments",
    };
    app.db.execute_unprepared(drop).await.expect("remove the fault");
    let retry = app.kit_v2("allOrgSync", &enterprise.body(json!({"orgInfoList": second}))).await;
    retry.assert_kit_ok();
    let after = app.departments(&enterprise.tenant_id).await;
    assert_eq!(after.len(), 3000);
    assert!(after.iter().all(|d| !d.code.is_empty()));

    // The diff of the retried sync is in its event.
    let event = app.last_event().await;
    let diff: Value = serde_json::from_str(event.detail.as_deref().expect("a diff")).expect("json");
    assert_eq!(diff["added"].as_array().map(Vec::len), Some(500));
    assert_eq!(diff["retired"].as_array().map(Vec::len), Some(500));
    assert_eq!(diff["renamed"].as_array().map(Vec::len), Some(2500));
}
kit_on_both_backends!(a_full_sync_killed_half_way_leaves_the_previous_tree);

async fn sealed_columns(
    app: &TestApp,
    tenant_id: &str,
) -> (Vec<Option<String>>, Vec<Option<String>>) {
    let secrets = entity::tenant_app::Entity::find()
        .filter(entity::tenant_app::Column::TenantId.eq(tenant_id))
        .all(&app.db)
        .await
        .expect("apps")
        .into_iter()
        .map(|a| a.client_secret_sealed)
        .collect();
    let personal = entity::user::Entity::find()
        .filter(entity::user::Column::TenantId.eq(tenant_id))
        .all(&app.db)
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.personal_sealed)
        .collect();
    (secrets, personal)
}

/// Released with another live order still bound: nothing is erased. The
/// last live one released: secrets and personal fields go, the audit trail
/// and the organisation stay.
async fn releasing_the_last_instance_erases_secrets_and_personal_fields(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let (_, second) = app.buy().await;
    let second_id = second.json["instanceId"].as_str().expect("id").to_string();
    let mut bind_second = enterprise.tenant_sync(1);
    bind_second["instanceId"] = json!(second_id);
    app.kit_v2("tenantSync", &bind_second).await.assert_kit_ok();
    let mut user = person("zhangsan", "Zhang San", "10", "admin", "true");
    user["mobile"] = json!("13800000000");
    user["email"] = json!("zs@example.com");
    app.kit_v2("authSync", &enterprise.auth_sync(1, "20260101000000000", json!([user])))
        .await
        .assert_kit_ok();
    let sealed = sealed_columns(&app, &enterprise.tenant_id).await;
    assert!(sealed.0.iter().all(Option::is_some) && sealed.1.iter().all(Option::is_some));

    let release = |id: &str| json!({"activity": "releaseInstance", "instanceId": id}).to_string();
    assert_eq!(app.v2(&release(&enterprise.instance_id)).await.code(), "000000");
    assert_eq!(
        sealed_columns(&app, &enterprise.tenant_id).await,
        sealed,
        "another order still binds it"
    );

    assert_eq!(app.v2(&release(&second_id)).await.code(), "000000");
    let (secrets, personal) = sealed_columns(&app, &enterprise.tenant_id).await;
    assert!(secrets.iter().all(Option::is_none), "client secrets erased");
    assert!(personal.iter().all(Option::is_none), "personal fields erased");
    assert_eq!(app.users(&enterprise.tenant_id).await.len(), 1, "the organisation copy stays");
    assert!(!app.events().await.is_empty(), "the audit trail stays");
}
kit_on_both_backends!(releasing_the_last_instance_erases_secrets_and_personal_fields);

/// Authorisation syncs for one user arriving all at once, out of order:
/// whatever the interleaving, the newest `currentSyncTime` wins.
async fn concurrent_auth_syncs_leave_the_newest_state(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let app = std::sync::Arc::new(app);
    let mut calls = Vec::new();
    for i in (0..10).rev() {
        let role = if i == 9 { "admin" } else { "user" };
        let user = person("lisi", &format!("Li Si {i}"), "10", role, "true");
        let body = enterprise.auth_sync(
            if i == 0 { 1 } else { 2 },
            &format!("2026010100000000{i}"),
            json!([user]),
        );
        let app = app.clone();
        calls.push(tokio::spawn(async move { app.kit_v2("authSync", &body).await }));
    }
    for call in calls {
        call.await.expect("task").assert_kit_ok();
    }
    let user = app.user(&enterprise.tenant_id, "lisi").await.expect("listed");
    assert_eq!((user["name"].as_str(), user["role"].as_str()), (Some("Li Si 9"), Some("admin")));
}
kit_on_both_backends!(concurrent_auth_syncs_leave_the_newest_state);
