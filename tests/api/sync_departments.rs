//! singleOrgSync and allOrgSync: the enterprise's department tree, one
//! change at a time or as a full list; children may come before their
//! parents; no change may make the tree a cycle.

use serde_json::{json, Value};

use crate::helpers::*;

async fn department_count(app: &TestApp, enterprise: &Enterprise) -> u64 {
    app.tenant(&enterprise.tenant_id).await["departmentCount"].as_u64().expect("departmentCount")
}

async fn departments_are_added_renamed_moved_and_deleted_one_by_one(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let org = |flag: i64, code: &str, name: &str, parent: &str| {
        enterprise.single_org_sync(flag, code, name, parent)
    };
    app.kit_v2("singleOrgSync", &org(1, "D1", "Sales", "")).await.assert_kit_ok();
    // parentCode is optional for a top-level department.
    let mut marketing = org(1, "D2", "Marketing", "");
    marketing.as_object_mut().expect("object").remove("parentCode");
    app.kit_v2("singleOrgSync", &marketing).await.assert_kit_ok();
    app.kit_v2("singleOrgSync", &org(1, "D11", "Sales East", "D1")).await.assert_kit_ok();
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![
            department("D1", "Sales", ""),
            department("D11", "Sales East", "D1"),
            department("D2", "Marketing", ""),
        ]
    );
    assert_eq!(department_count(&app, &enterprise).await, 3);
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("kit_v2", "singleOrgSync"));

    // A repeated add changes nothing.
    let before = app.sync_footprint(&enterprise.tenant_id).await;
    app.kit_v2("singleOrgSync", &org(1, "D1", "Sales", "")).await.assert_kit_ok();
    assert_eq!(app.sync_footprint(&enterprise.tenant_id).await, before);

    app.kit_v2("singleOrgSync", &org(2, "D11", "Sales North", "D1")).await.assert_kit_ok();
    app.kit_v2("singleOrgSync", &org(2, "D11", "Sales North", "D2")).await.assert_kit_ok();
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![
            department("D1", "Sales", ""),
            department("D11", "Sales North", "D2"),
            department("D2", "Marketing", ""),
        ]
    );

    let delete = org(0, "D11", "Sales North", "D2");
    app.kit_v2("singleOrgSync", &delete).await.assert_kit_ok();
    let left = vec![department("D1", "Sales", ""), department("D2", "Marketing", "")];
    assert_eq!(app.departments(&enterprise.tenant_id).await, left);
    assert_eq!(department_count(&app, &enterprise).await, 2);

    // Deleting again, or deleting what never existed, is a success.
    app.kit_v2("singleOrgSync", &delete).await.assert_kit_ok();
    app.kit_v2("singleOrgSync", &org(0, "D404", "Nowhere", "")).await.assert_kit_ok();
    assert_eq!(app.departments(&enterprise.tenant_id).await, left);
}
kit_on_both_backends!(departments_are_added_renamed_moved_and_deleted_one_by_one);

async fn a_child_may_arrive_before_its_parent(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let child = enterprise.single_org_sync(1, "D11", "Sales East", "D1");
    app.kit_v2("singleOrgSync", &child).await.assert_kit_ok();
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![department("D11", "Sales East", "D1")]
    );

    let parent = enterprise.single_org_sync(1, "D1", "Sales", "");
    app.kit_v2("singleOrgSync", &parent).await.assert_kit_ok();
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![department("D1", "Sales", ""), department("D11", "Sales East", "D1")]
    );
}
kit_on_both_backends!(a_child_may_arrive_before_its_parent);

async fn a_move_under_its_own_descendant_is_refused(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    for (code, name, parent) in
        [("D1", "Sales", ""), ("D11", "Sales East", "D1"), ("D111", "Shanghai", "D11")]
    {
        let add = enterprise.single_org_sync(1, code, name, parent);
        app.kit_v2("singleOrgSync", &add).await.assert_kit_ok();
    }
    let channel = ("kit_v2", "singleOrgSync");
    for (what, parent) in
        [("under its grandchild", "D111"), ("under its child", "D11"), ("under itself", "D1")]
    {
        let moved = enterprise.single_org_sync(2, "D1", "Sales", parent);
        let send = app.kit_v2("singleOrgSync", &moved);
        kit_refused(&app, &enterprise, channel, what, "000002", send).await;
    }
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![
            department("D1", "Sales", ""),
            department("D11", "Sales East", "D1"),
            department("D111", "Shanghai", "D11"),
        ]
    );
}
kit_on_both_backends!(a_move_under_its_own_descendant_is_refused);

fn full_list(enterprise: &Enterprise, list: Value) -> Value {
    enterprise.body(json!({"orgInfoList": list}))
}

async fn a_full_list_replaces_the_tree(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    // Flat, children first, the name spelled three ways.
    let first = full_list(
        &enterprise,
        json!([
            {"orgCode": "D111", "name": "Shanghai", "parentCode": "D11"},
            {"orgCode": "D11", "OrgName": "Sales East", "parentCode": "D1"},
            {"orgCode": "D1", "orgName": "Sales", "parentCode": ""},
            {"orgCode": "D2", "orgName": "Marketing", "parentCode": ""},
            {"orgCode": "D3", "orgName": "Legal", "parentCode": ""},
        ]),
    );
    app.kit_v2("allOrgSync", &first).await.assert_kit_ok();
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![
            department("D1", "Sales", ""),
            department("D11", "Sales East", "D1"),
            department("D111", "Shanghai", "D11"),
            department("D2", "Marketing", ""),
            department("D3", "Legal", ""),
        ]
    );
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("kit_v2", "allOrgSync"));

    // The next full list, as a string (as the documentation's example
    // sends it, with a stray flag): Legal is gone, Sales East is renamed
    // and moved under Marketing, Research is new.
    let second_list = json!([
        {"orgCode": "D1", "orgName": "Sales", "parentCode": ""},
        {"orgCode": "D11", "orgName": "Growth", "parentCode": "D2"},
        {"orgCode": "D111", "orgName": "Shanghai", "parentCode": "D11"},
        {"orgCode": "D2", "orgName": "Marketing", "parentCode": ""},
        {"orgCode": "D4", "orgName": "Research", "parentCode": ""},
    ]);
    let mut second = full_list(&enterprise, json!(second_list.to_string()));
    second["flag"] = json!(1);
    app.kit_v2("allOrgSync", &second).await.assert_kit_ok();
    assert_eq!(
        app.departments(&enterprise.tenant_id).await,
        vec![
            department("D1", "Sales", ""),
            department("D11", "Growth", "D2"),
            department("D111", "Shanghai", "D11"),
            department("D2", "Marketing", ""),
            department("D4", "Research", ""),
        ]
    );
    assert_eq!(department_count(&app, &enterprise).await, 5);
}
kit_on_both_backends!(a_full_list_replaces_the_tree);

async fn the_same_full_list_delivered_twice_changes_nothing(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let list = full_list(
        &enterprise,
        json!([
            {"orgCode": "D11", "orgName": "Sales East", "parentCode": "D1"},
            {"orgCode": "D1", "orgName": "Sales", "parentCode": ""},
        ]),
    );
    app.kit_v2("allOrgSync", &list).await.assert_kit_ok();
    let once = app.sync_footprint(&enterprise.tenant_id).await;
    let rows_once = app.footprint().await;
    app.kit_v2("allOrgSync", &list).await.assert_kit_ok();
    assert_eq!(app.sync_footprint(&enterprise.tenant_id).await, once);
    assert_eq!(app.footprint().await, rows_once);
}
kit_on_both_backends!(the_same_full_list_delivered_twice_changes_nothing);

async fn a_full_list_with_a_cycle_is_refused(app: TestApp) {
    let enterprise = app.bound_enterprise_with_app().await;
    let tree =
        full_list(&enterprise, json!([{"orgCode": "D1", "orgName": "Sales", "parentCode": ""}]));
    app.kit_v2("allOrgSync", &tree).await.assert_kit_ok();

    let channel = ("kit_v2", "allOrgSync");
    let cycles = [
        (
            "a loop of two",
            json!([
                {"orgCode": "D1", "orgName": "Sales", "parentCode": "D2"},
                {"orgCode": "D2", "orgName": "Marketing", "parentCode": "D1"},
            ]),
        ),
        (
            "a department its own parent",
            json!([
                {"orgCode": "D1", "orgName": "Sales", "parentCode": ""},
                {"orgCode": "D5", "orgName": "Ouroboros", "parentCode": "D5"},
            ]),
        ),
    ];
    for (what, list) in cycles {
        let body = full_list(&enterprise, list);
        let send = app.kit_v2("allOrgSync", &body);
        kit_refused(&app, &enterprise, channel, what, "000002", send).await;
    }
    assert_eq!(app.departments(&enterprise.tenant_id).await, vec![department("D1", "Sales", "")]);
}
kit_on_both_backends!(a_full_list_with_a_cycle_is_refused);
