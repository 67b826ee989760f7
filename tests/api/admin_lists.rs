//! The admin lists as an operator pages, sorts and exports them: instances
//! a hundred a page in the order asked for, links that keep the filters,
//! a sort word outside the list's columns refused; department names in a
//! tenant's users; CSV of tenants, instances, users and events with the
//! page's filters, a BOM, and formula cells quoted.

use chrono::{Duration, Utc};
use sea_orm::EntityTrait;

use crate::helpers::*;

async fn instances_are_paged_and_sorted(app: TestApp) {
    load_instances(&app, 130).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let first = operator.page("/admin/instances").await;
    assert!(first.body.contains("inst-129") && !first.body.contains("inst-029"), "newest 100");
    assert!(first.body.contains("1 / 2"), "{}", first.body);
    assert!(first.body.contains(&href("/admin/instances?page=2")), "{}", first.body);
    let second = operator.page("/admin/instances?page=2").await;
    assert!(second.body.contains("inst-029") && second.body.contains("inst-000"));
    assert!(!second.body.contains("inst-030"), "no row on two pages");
    let past = operator.page("/admin/instances?page=9").await;
    assert!(!past.body.contains("inst-0"), "a page past the last is empty");

    let by_expiry = operator.page("/admin/instances?sort=expires&dir=asc").await;
    assert!(at(&by_expiry.body, "inst-129") < at(&by_expiry.body, "inst-128"));
    assert!(by_expiry.body.contains("aria-sort=\"ascending\""), "the sorted column says so");

    let frozen = operator.page("/admin/instances?status=frozen&sort=instance").await;
    assert!(at(&frozen.body, "inst-000") < at(&frozen.body, "inst-120"));
    assert!(!frozen.body.contains("inst-001"), "the filter holds");
    assert!(
        frozen.body.contains(&href("/admin/instances?status=frozen&sort=instance&dir=desc")),
        "the header link flips the order and keeps the filter: {}",
        frozen.body
    );

    for bad in ["sort=instance_id;drop", "sort=created&dir=sideways", "page=two"] {
        let page = operator.open(&format!("/admin/instances?{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
}

on_both_backends!(instances_are_paged_and_sorted, &crate::helpers::admin_settings());

async fn insert_tenant(app: &TestApp, id: &str, name: &str) {
    let now = Utc::now();
    let row = entity::tenant::Model {
        tenant_id: id.into(),
        tenant_code: format!("code-{id}"),
        name: name.into(),
        domain_name: "https://example.tenantaccount.com".into(),
        test_flag: false,
        deleted: false,
        created_at: now,
        updated_at: now,
    };
    entity::tenant::Entity::insert(entity::tenant::ActiveModel::from(row))
        .exec_without_returning(&app.db)
        .await
        .expect("tenant inserted");
}

async fn users_show_department_names(app: TestApp) {
    insert_tenant(&app, "t-depts", "Departments Inc").await;
    let now = Utc::now();
    let department = |code: &str, name: &str, retired: bool| {
        entity::department::ActiveModel::from(entity::department::Model {
            tenant_id: "t-depts".into(),
            org_code: code.into(),
            org_name: name.into(),
            parent_code: None,
            retired,
            sync_mark: String::new(),
            updated_at: now,
        })
    };
    entity::department::Entity::insert_many([
        department("D1", "研发部", false),
        department("D2", "Closed Unit", true),
    ])
    .exec_without_returning(&app.db)
    .await
    .expect("departments inserted");
    let user = |name: &str, org: &str| {
        entity::user::ActiveModel::from(entity::user::Model {
            tenant_id: "t-depts".into(),
            user_name: name.into(),
            name: format!("{name} full name"),
            org_code: Some(org.into()),
            role: "user".into(),
            enabled: true,
            deleted: false,
            position: Some("secret position".into()),
            employee_code: Some("E-4711".into()),
            employee_type: None,
            personal_sealed: None,
            updated_at: now,
        })
    };
    entity::user::Entity::insert_many([user("ann", "D1"), user("bob", "D2"), user("cyd", "D9")])
        .exec_without_returning(&app.db)
        .await
        .expect("users inserted");
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let page = operator.page("/admin/tenants/t-depts").await;
    let users = &page.body[at(&page.body, "id=\"users\"")..];
    assert!(users.contains("<td>研发部</td>"), "a live department by name: {users}");
    assert!(users.contains("<code>D2</code>"), "a deleted department by code");
    assert!(users.contains("<code>D9</code>"), "a department never synced by code");
    let by_name_desc = operator.page("/admin/tenants/t-depts?users_sort=user&users_dir=desc").await;
    assert!(at(&by_name_desc.body, ">cyd<") < at(&by_name_desc.body, ">ann<"));

    let csv = operator.page("/admin/tenants/t-depts/users.csv").await;
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "\u{feff}userName,name,department,orgCode,role,enabled,granted,apps");
    assert_eq!(lines[1], "ann,ann full name,研发部,D1,user,true,false,");
    assert_eq!(lines[2], "bob,bob full name,,D2,user,true,false,");
    assert!(!csv.body.contains("E-4711") && !csv.body.contains("secret position"));
}

on_both_backends!(users_show_department_names, &crate::helpers::admin_settings());

async fn csv_exports_keep_filters_and_defuse_formulas(app: TestApp) {
    insert_tenant(&app, "t-evil", "=HYPERLINK(\"http://evil.example\",\"x\")").await;
    insert_tenant(&app, "t-acme", "Acme 华为").await;
    load_instances(&app, 30).await;
    let now = Utc::now();
    let events = (0..1234).map(|e| entity::event::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        received_at: sea_orm::Set(now - Duration::seconds(2000 - e)),
        channel: sea_orm::Set("kit_v2".into()),
        activity: sea_orm::Set("authSync".into()),
        result_code: sea_orm::Set(if e % 10 == 0 { "000005" } else { "000000" }.into()),
        result_msg: sea_orm::Set(if e == 7 { "@cmd" } else { "ok" }.into()),
        instance_id: sea_orm::Set(None),
        tenant_id: sea_orm::Set(None),
        order_id: sea_orm::Set(None),
        test_flag: sea_orm::Set(false),
        duration_ms: sea_orm::Set(3),
        request: sea_orm::Set("{\"secret\":\"never\"}".into()),
        response: sea_orm::Set("{}".into()),
        replay_of: sea_orm::Set(None),
        detail: sea_orm::Set(None),
        replay_sealed: sea_orm::Set(None),
        refused: sea_orm::Set(false),
    });
    for batch in events.collect::<Vec<_>>().chunks(500) {
        entity::event::Entity::insert_many(batch.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("events inserted");
    }
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let response = operator
        .browser
        .client()
        .get(format!("{}/admin/tenants.csv", app.address))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("text/csv; charset=utf-8"));
    let bytes = response.bytes().await.expect("body");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let body = String::from_utf8_lossy(&bytes);
    assert!(body.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""), "{body}");
    assert!(body.contains(",Acme 华为,"), "{body}");
    let tenants_page = operator.page("/admin/tenants?q=acme").await;
    assert!(tenants_page.body.contains(&href("/admin/tenants.csv?q=acme")), "the button keeps q");
    let acme = operator.page("/admin/tenants.csv?q=acme").await;
    assert_eq!(acme.body.lines().count(), 2, "{}", acme.body);

    let instances = operator.page("/admin/instances.csv?sort=expires&dir=asc&status=active").await;
    let rows: Vec<&str> = instances.body.lines().skip(1).collect();
    assert_eq!(rows.len(), 27, "the active ones");
    assert!(rows[0].starts_with("inst-029,active,"), "{}", rows[0]);

    let all = operator.page("/admin/events.csv").await;
    assert_eq!(all.body.lines().count(), 1 + 1234, "every row, across batches");
    assert!(all.body.contains(",'@cmd,"), "a cell starting with @ is quoted");
    assert!(!all.body.contains("never"), "no request bodies");
    let failures = operator.page("/admin/events.csv?result=failures").await;
    assert_eq!(failures.body.lines().count(), 1 + 124);
    assert_eq!(operator.open("/admin/events.csv?channel=nope").await.status, 400);
    assert_eq!(operator.open("/admin/instances.csv?sort=password").await.status, 400);
}

on_both_backends!(csv_exports_keep_filters_and_defuse_formulas, &crate::helpers::admin_settings());

async fn sign_ins_page_older_with_the_filters_kept(app: TestApp) {
    load_sign_ins(&app, 250).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let mut path = "/admin/sign-ins?tenantId=t-main".to_string();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let page = operator.page(&path).await;
        for n in 0..250 {
            let user = format!(">user{n:03}<");
            if page.body.contains(&user) {
                seen.push(n);
            }
        }
        let Some(next) = next_link(&page.body) else { break };
        path = next;
        assert!(path.contains("tenantId=t-main"), "the filter is kept: {path}");
    }
    seen.sort_unstable();
    let expected: Vec<i64> = (0..250).filter(|n| n % 5 != 0).collect();
    assert_eq!(seen, expected, "every attempt of the tenant once, over two pages");
}

on_both_backends!(sign_ins_page_older_with_the_filters_kept, &crate::helpers::admin_settings());

/// Exporting only reads: a viewer may; nobody signed in may not.
async fn a_viewer_exports_and_a_stranger_does_not(app: TestApp) {
    insert_tenant(&app, "t-viewed", "Viewed Ltd").await;
    let viewer = entity::operator::Model {
        username: "vera".into(),
        role: "viewer".into(),
        password_hash: admin_password_hash().into(),
        must_change_password: false,
        disabled: false,
        created_by: "admin".into(),
        created_at: Utc::now().timestamp_millis(),
    };
    entity::operator::Entity::insert(entity::operator::ActiveModel::from(viewer))
        .exec_without_returning(&app.db)
        .await
        .expect("viewer inserted");

    let stranger = Operator::new(&app);
    let refused = stranger.open("/admin/tenants.csv").await;
    assert_ne!(refused.status, 200, "{refused:#?}");
    assert!(!refused.body.contains("Viewed Ltd"));

    let vera = Operator::new(&app);
    assert_eq!(vera.try_sign_in("vera", ADMIN_PASSWORD).await.status, 303);
    let tenants = vera.page("/admin/tenants").await;
    assert!(tenants.body.contains(&href("/admin/tenants.csv")), "the button is there");
    let csv = vera.page("/admin/tenants.csv").await;
    assert!(csv.body.contains("t-viewed,code-t-viewed,Viewed Ltd,"), "{}", csv.body);
}

on_both_backends!(a_viewer_exports_and_a_stranger_does_not, &crate::helpers::admin_settings());

async fn sessions_are_paged_and_sorted(app: TestApp) {
    load_sessions(&app, 60).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let first = operator.page("/admin/sessions?tenantId=t-many").await;
    assert!(first.body.contains("user-059") && first.body.contains("user-010"), "newest 50");
    assert!(!first.body.contains("user-009"), "{}", first.body);
    assert!(first.body.contains("1 / 2"), "{}", first.body);
    assert!(
        first.body.contains(&href("/admin/sessions?tenantId=t-many&page=2")),
        "the next page keeps the filter: {}",
        first.body
    );
    let second = operator.page("/admin/sessions?tenantId=t-many&page=2").await;
    assert!(second.body.contains("user-009") && second.body.contains("user-000"));
    assert!(!second.body.contains("user-010"), "no row on two pages");

    let oldest = operator.page("/admin/sessions?tenantId=t-many&sort=created&dir=asc").await;
    assert!(at(&oldest.body, "user-000") < at(&oldest.body, "user-001"));
    assert!(!oldest.body.contains("user-059"), "the newest are on page 2 now");
    let by_seen = operator.page("/admin/sessions?tenantId=t-many&sort=seen").await;
    assert!(at(&by_seen.body, "user-000") < at(&by_seen.body, "user-001"), "last seen first");
    assert!(by_seen.body.contains("aria-sort=\"descending\""), "the sorted column says so");
    let by_user = operator.page("/admin/sessions?tenantId=t-many&sort=user&dir=desc").await;
    assert!(at(&by_user.body, "user-059") < at(&by_user.body, "user-058"));
    assert!(
        by_user.body.contains(&href("/admin/sessions?tenantId=t-many&sort=user&dir=asc")),
        "the header link flips the order and keeps the filter: {}",
        by_user.body
    );

    for bad in ["sort=cookie", "sort=user&dir=sideways", "page=two"] {
        let page = operator.open(&format!("/admin/sessions?{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
}

on_both_backends!(sessions_are_paged_and_sorted, &crate::helpers::admin_settings());

async fn the_outbox_backlog_pages_on_and_sorts(app: TestApp) {
    load_pending_events(&app, 130).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let first = operator.page("/admin/outbox").await;
    assert!(first.body.contains("msg_wait_000") && first.body.contains("msg_wait_099"));
    assert!(!first.body.contains("msg_wait_100"), "a hundred, oldest first");
    assert!(
        first.body.contains(&href("/admin/outbox?backlog_after=100#backlog")),
        "a link to the next hundred: {}",
        first.body
    );
    let next = operator.page("/admin/outbox?backlog_after=100").await;
    assert!(next.body.contains("msg_wait_100") && next.body.contains("msg_wait_129"));
    assert!(!next.body.contains("msg_wait_099"), "no row on two pages");
    assert!(!next.body.contains("backlog_after=130"), "the last page has no next");

    let newest = operator.page("/admin/outbox?backlog_dir=desc").await;
    assert!(at(&newest.body, "msg_wait_129") < at(&newest.body, "msg_wait_128"));
    assert!(!newest.body.contains("msg_wait_029"), "the newest hundred");
    assert!(
        newest.body.contains(&href("/admin/outbox?backlog_dir=desc&backlog_after=31#backlog")),
        "the next page keeps the order: {}",
        newest.body
    );
    let older = operator.page("/admin/outbox?backlog_dir=desc&backlog_after=31").await;
    assert!(at(&older.body, "msg_wait_029") < at(&older.body, "msg_wait_000"));
    assert!(!older.body.contains("msg_wait_030"));

    for bad in ["backlog_dir=sideways", "backlog_after=x"] {
        let page = operator.open(&format!("/admin/outbox?{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
}

on_both_backends!(the_outbox_backlog_pages_on_and_sorts, &crate::helpers::admin_settings());

async fn dead_letters_page_on_and_sort(app: TestApp) {
    load_dead_letters(&app, 130).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let first = operator.page("/admin/outbox").await;
    assert!(at(&first.body, "msg_dead_129") < at(&first.body, "msg_dead_030"), "newest first");
    assert!(!first.body.contains("msg_dead_029"), "a hundred");
    assert!(
        first.body.contains(&href("/admin/outbox?dead_after=31#dead")),
        "a link to the next hundred: {}",
        first.body
    );
    let older = operator.page("/admin/outbox?dead_after=31").await;
    assert!(older.body.contains("msg_dead_029") && older.body.contains("msg_dead_000"));
    assert!(!older.body.contains("msg_dead_030"), "no row on two pages");

    let oldest = operator.page("/admin/outbox?dead_dir=asc").await;
    assert!(at(&oldest.body, "msg_dead_000") < at(&oldest.body, "msg_dead_001"));
    assert!(oldest.body.contains(&href("/admin/outbox?dead_dir=asc&dead_after=100#dead")));
    assert_eq!(operator.open("/admin/outbox?dead_dir=up").await.status, 400);
}

on_both_backends!(dead_letters_page_on_and_sort, &crate::helpers::admin_settings());

async fn drift_findings_are_paged_and_sorted(app: TestApp) {
    load_drift_findings(&app, 130).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let first = operator.page("/admin/drift").await;
    assert!(at(&first.body, "inst-129") < at(&first.body, "inst-030"), "newest found first");
    assert!(!first.body.contains("inst-029"), "a hundred: {}", first.body);
    assert!(first.body.contains(&href("/admin/drift?page=2")), "{}", first.body);
    let second = operator.page("/admin/drift?page=2").await;
    assert!(second.body.contains("inst-029") && second.body.contains("inst-000"));
    assert!(!second.body.contains("inst-030"), "no row on two pages");

    let by_instance = operator.page("/admin/drift?sort=instance").await;
    assert!(at(&by_instance.body, "inst-000") < at(&by_instance.body, "inst-001"));
    assert!(
        by_instance.body.contains(&href("/admin/drift?sort=instance&dir=desc")),
        "the header link flips the order: {}",
        by_instance.body
    );
    for bad in ["sort=here", "sort=found&dir=sideways", "page=two"] {
        let page = operator.open(&format!("/admin/drift?{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
}

on_both_backends!(drift_findings_are_paged_and_sorted, &crate::helpers::admin_settings());
