//! "Why can't alice sign in since 10:00?": every sign-in attempt leaves a
//! record an operator reads in the admin site or the admin API, found by
//! tenant, user, outcome, or the reference the person's refusal page showed.

use serde_json::{json, Value};

use crate::helpers::*;

/// The attempts' (userName, outcome, refusal) in the order listed.
fn summary(attempts: &[Value]) -> Vec<(Value, Value, Value)> {
    attempts
        .iter()
        .map(|a| (a["userName"].clone(), a["outcome"].clone(), a["refusal"].clone()))
        .collect()
}

async fn every_sign_in_attempt_is_recorded_with_the_reference_its_page_showed(app: TestApp) {
    let scene = Scene::new(app).await;
    let tenant = scene.enterprise.tenant_id.clone();
    scene.signed_in("alice").await;
    // Carol has an account at the auth centre but no grant.
    let (_, carol) = scene.sign_in("carol").await;
    carol.assert_refused(403);
    let carols_reference = carol.reference();
    // A callback this browser never started: which tenant it claims is
    // not believed, so it is recorded without one.
    let forged = Browser::new(&scene.app)
        .callback(&query(&[("code", "c"), ("state", "forged"), ("tenant", &tenant)]))
        .await;
    forged.assert_refused(400);
    let forged_reference = forged.reference();
    // While the instance is frozen, the sign-in is refused at its start.
    scene.app.set_instance_status(&scene.enterprise.instance_id, "FREEZE").await;
    let frozen = Browser::new(&scene.app).login(&scene.tenant_query()).await;
    frozen.assert_refused(403);
    let frozen_reference = frozen.reference();

    let of_tenant = scene.app.sign_ins(&query(&[("tenantId", &tenant)])).await;
    assert_eq!(
        summary(&of_tenant),
        vec![
            (Value::Null, json!("refused"), json!("suspended_organisation")),
            (json!("carol"), json!("refused"), json!("not_granted")),
            (json!("alice"), json!("signed_in"), Value::Null),
        ],
        "newest first: {of_tenant:#?}"
    );
    assert_eq!(of_tenant[0]["reference"], json!(frozen_reference));
    assert_eq!(of_tenant[1]["reference"], json!(carols_reference));
    assert_eq!(of_tenant[1]["dialect"], "koogallery");
    assert_eq!(of_tenant[2]["reference"], Value::Null, "a success shows no reference");
    for attempt in &of_tenant {
        let at = attempt["at"].as_str().expect("at");
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'), "{at}");
    }

    // The reference a person reads out finds their attempt, however typed.
    let by_reference =
        scene.app.sign_ins(&query(&[("reference", &carols_reference.to_lowercase())])).await;
    assert_eq!(
        summary(&by_reference),
        vec![(json!("carol"), json!("refused"), json!("not_granted"))]
    );
    let forged_one = scene.app.sign_ins(&query(&[("reference", &forged_reference)])).await;
    assert_eq!(forged_one.len(), 1, "{forged_one:#?}");
    assert_eq!(forged_one[0]["outcome"], "bad_request");
    assert_eq!(forged_one[0]["refusal"], "not_this_browser");
    assert_eq!(forged_one[0]["tenantId"], Value::Null);

    let by_user = scene.app.sign_ins(&query(&[("tenantId", &tenant), ("userName", "alice")])).await;
    assert_eq!(summary(&by_user), vec![(json!("alice"), json!("signed_in"), Value::Null)]);
    let signed_in = scene.app.sign_ins("outcome=signed_in").await;
    assert_eq!(signed_in.len(), 1);
    let limited = scene.app.sign_ins("limit=1").await;
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0]["reference"], json!(frozen_reference), "the newest");

    // Bad filters are refused and name what is wrong; no token, no list.
    let (status, body) = scene.app.admin_get("/admin/api/sign-ins?outcome=maybe").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    let anonymous = scene.app.http.get(format!("{}/admin/api/sign-ins", scene.app.address));
    assert_eq!(anonymous.send().await.expect("sent").status(), 401);

    // The admin site finds Carol's attempt by the reference she quotes.
    let operator = Operator::new(&scene.app);
    operator.sign_in().await;
    let page = operator.page(&format!("/admin/sign-ins?reference={carols_reference}")).await;
    assert!(
        page.body.contains(&carols_reference) && page.body.contains(">carol<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("No access"), "the refusal in words: {}", page.body);
    assert!(!page.body.contains(">alice<"), "only the attempt asked for");
}
on_both_backends!(
    every_sign_in_attempt_is_recorded_with_the_reference_its_page_showed,
    &crate::helpers::admin_settings()
);

async fn markup_in_what_a_link_carried_is_shown_as_text(app: TestApp) {
    let markup = "<script>alert(1)</script>";
    let refused = Browser::new(&app).login(&query(&[("tenant", markup)])).await;
    refused.assert_refused(404);
    let recorded = app.sign_ins("outcome=refused").await;
    assert_eq!(recorded[0]["tenantId"], markup, "{recorded:#?}");
    assert_eq!(recorded[0]["refusal"], "unknown_organisation");
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let page = operator.page("/admin/sign-ins").await;
    assert!(page.body.contains("&lt;script&gt;alert(1)"), "{}", page.body);
    assert!(!page.body.contains(markup), "markup is text, not markup");
}
on_both_backends!(
    markup_in_what_a_link_carried_is_shown_as_text,
    &crate::helpers::admin_settings()
);
