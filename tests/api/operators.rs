//! Named operator accounts: made on the command line or by an admin with
//! a one-time password that must be replaced before anything else; roles
//! that decide who may change things (a viewer sees no freeze button and
//! its POST is refused); a freeze that names the tenant, says how many
//! users it signs out, and asks why.

use crate::helpers::*;

/// `koogate operator add NAME --role ROLE` against `app`'s database; the
/// one-time password it printed.
async fn operator_add(app: &TestApp, name: &str, role: &str) -> String {
    // Awaited, not blocking: the app under test shares this runtime, and a
    // write it has under way must be able to finish while the CLI waits.
    let run = tokio::process::Command::new(KOOGATE)
        .args(["operator", "add", name, "--role", role])
        .env("KOOGATE__DATABASE__URL", &app.database_url)
        .env("KOOGATE__ADMIN__USERNAME", ADMIN_USER)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("koogate operator add runs");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{out}{}", String::from_utf8_lossy(&run.stderr));
    let marker = "one-time password: ";
    let at = out.find(marker).unwrap_or_else(|| panic!("no password printed: {out}"));
    out[at + marker.len()..].chars().take_while(char::is_ascii_alphanumeric).collect()
}

/// Signs `name` in with its one-time password and chooses `new_password`.
async fn first_sign_in(app: &TestApp, name: &str, one_time: &str, new_password: &str) -> Operator {
    let operator = Operator::new(app);
    let signed_in = operator.try_sign_in(name, one_time).await;
    assert_eq!(signed_in.status, 303, "{signed_in:#?}");
    // Every page sends a one-time password's holder to choose their own.
    let elsewhere = operator.open("/admin/tenants").await;
    assert_eq!((elsewhere.status, elsewhere.location.as_deref()), (303, Some("/admin/password")));
    let form = operator.page("/admin/password").await;
    let csrf = csrf_token(&form);
    let short = operator
        .post_form(
            "/admin/password",
            &[("csrf_token", &csrf), ("password", "short"), ("again", "short")],
        )
        .await;
    assert!(short.body.contains("too short"), "{}", short.body);
    let fields =
        [("csrf_token", csrf.as_str()), ("password", new_password), ("again", new_password)];
    let chosen = operator.post_form("/admin/password", &fields).await;
    assert_eq!(chosen.status, 303, "{chosen:#?}");
    operator.page("/admin/tenants").await;
    operator
}

async fn the_command_line_makes_an_account_whose_password_works_once(app: TestApp) {
    let one_time = operator_add(&app, "vera", "viewer").await;
    assert_eq!(one_time.len(), 20, "{one_time}");
    let vera = first_sign_in(&app, "vera", &one_time, "vera's own long password").await;
    let csrf = vera.session_csrf().await;
    vera.post_form("/admin/logout", &[("csrf_token", &csrf)]).await;
    let again = Operator::new(&app).try_sign_in("vera", &one_time).await;
    assert_eq!(again.status, 401, "the one-time password is spent: {again:#?}");
    let own = Operator::new(&app).try_sign_in("vera", "vera's own long password").await;
    assert_eq!(own.status, 303);
    // The name is taken now; a bad role is refused before anything.
    let taken = tokio::process::Command::new(KOOGATE)
        .args(["operator", "add", "vera", "--role", "admin"])
        .env("KOOGATE__DATABASE__URL", &app.database_url)
        .output()
        .await
        .expect("runs");
    assert!(!taken.status.success());
    let bad = tokio::process::Command::new(KOOGATE)
        .args(["operator", "add", "olga", "--role", "root"])
        .env("KOOGATE__DATABASE__URL", &app.database_url)
        .output()
        .await
        .expect("runs");
    assert!(!bad.status.success());
}
on_both_backends!(
    the_command_line_makes_an_account_whose_password_works_once,
    &crate::helpers::admin_settings()
);

async fn a_viewer_reads_but_cannot_freeze(app: TestApp) {
    let scene = Scene::new(app).await;
    let app = &scene.app;
    let instance = scene.enterprise.instance_id.clone();
    let alice = scene.signed_in("alice").await;
    let one_time = operator_add(app, "vera", "viewer").await;
    let vera = first_sign_in(app, "vera", &one_time, "vera's own long password").await;

    let tenant = vera.page(&format!("/admin/tenants/{}", scene.enterprise.tenant_id)).await;
    assert!(!tenant.body.contains("/freeze"), "no freeze button for a viewer");
    let sessions = vera.page("/admin/sessions").await;
    assert!(
        sessions.body.contains(">alice<") && !sessions.body.contains("/end\""),
        "{}",
        sessions.body
    );
    assert!(!tenant.body.contains("/admin/operators"), "no operators page for a viewer");
    let csrf = csrf_token(&tenant);
    let events_before = app.events().await.len();
    let freeze = vera
        .post_form(
            &format!("/admin/instances/{instance}/freeze"),
            &[("csrf_token", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(freeze.status, 403, "{freeze:#?}");
    let confirm = vera.open(&format!("/admin/instances/{instance}/freeze")).await;
    assert_eq!(confirm.status, 403);
    let id =
        app.open_sessions("userName=alice").await[0]["sessionId"].as_str().expect("id").to_string();
    let end = vera.post_form(&format!("/admin/sessions/{id}/end"), &[("csrf_token", &csrf)]).await;
    assert_eq!(end.status, 403);
    let add = vera
        .post_form(
            "/admin/operators",
            &[("csrf_token", &csrf), ("username", "eve"), ("role", "admin")],
        )
        .await;
    assert_eq!(add.status, 403);
    let tenant_id = &scene.enterprise.tenant_id;
    let sign_in = vera
        .post_form(
            &format!("/admin/tenants/{tenant_id}/sign-in"),
            &[("csrf_token", &csrf), ("dialect", "cas"), ("base_url", "https://cas.example.com")],
        )
        .await;
    assert_eq!(sign_in.status, 403, "how a tenant signs in is an admin's to change");
    assert_eq!(app.tenant(tenant_id).await["signIn"]["dialect"], "auto", "nothing changed");
    let apply = vera.post_form("/admin/drift/1/apply", &[("csrf_token", &csrf)]).await;
    assert_eq!(apply.status, 403, "a viewer applies no drift");
    assert_eq!(app.instance(&instance).await["status"], "active", "nothing changed");
    assert_eq!(app.events().await.len(), events_before, "nothing recorded as done");
    assert_eq!(alice.me().await.0, 200);
}
on_both_backends!(a_viewer_reads_but_cannot_freeze, &crate::helpers::admin_settings());

async fn a_freeze_names_the_tenant_counts_who_is_signed_out_and_asks_why(app: TestApp) {
    let scene = Scene::new(app).await;
    let app = &scene.app;
    let instance = scene.enterprise.instance_id.clone();
    let alice = scene.signed_in("alice").await;
    let bob = scene.signed_in("bob").await;
    // An admin makes an operator on the operators page.
    let admin = Operator::new(app);
    admin.sign_in().await;
    let csrf = admin.session_csrf().await;
    let made = admin
        .post_form(
            "/admin/operators",
            &[("csrf_token", &csrf), ("username", "otto"), ("role", "operator")],
        )
        .await;
    assert_eq!(made.status, 200, "{made:#?}");
    let marker = "<code>";
    let shown = made.body.split("id=\"made\"").nth(1).expect("the one-time password shown");
    let one_time: String = shown
        .split(marker)
        .nth(1)
        .expect("code")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert_eq!(app.last_event().await.activity, "addOperator");
    assert!(!app.last_event().await.request.contains(&one_time), "the password is never recorded");
    let otto = first_sign_in(app, "otto", &one_time, "otto's own long password").await;

    let confirm = otto.page(&format!("/admin/instances/{instance}/freeze")).await;
    assert!(confirm.body.contains(&scene.enterprise.tenant_id), "names the tenant");
    let count =
        confirm.body.split("id=\"signed-out\"").nth(1).and_then(|r| r.split("<strong>").nth(1));
    assert_eq!(count.and_then(|c| c.split("</strong>").next()), Some("2"), "alice and bob");
    let csrf = csrf_token(&confirm);
    let path = format!("/admin/instances/{instance}/freeze");
    let no_reason = otto.post_form(&path, &[("csrf_token", &csrf), ("reason", "  ")]).await;
    assert_eq!(no_reason.status, 400);
    assert_eq!(app.instance(&instance).await["status"], "active", "nothing changed");
    let frozen =
        otto.post_form(&path, &[("csrf_token", &csrf), ("reason", "unpaid invoice 42")]).await;
    assert_eq!(frozen.status, 303, "{frozen:#?}");
    assert_eq!(app.instance(&instance).await["status"], "frozen");
    alice.assert_signed_out_within_a_second().await;
    bob.assert_signed_out_within_a_second().await;
    let event = app.last_event().await;
    assert_eq!(event.activity, "freeze");
    assert!(
        event.request.contains("\"operator\":\"otto\"")
            && event.request.contains("unpaid invoice 42"),
        "{}",
        event.request
    );

    // Disabled, otto is out at the next request and cannot sign in again.
    let disabled = admin
        .post_form("/admin/operators/otto/disable", &[("csrf_token", &admin.session_csrf().await)])
        .await;
    assert_eq!(disabled.status, 303);
    let out = otto.open("/admin/tenants").await;
    assert_eq!(out.status, 303);
    assert!(out.location.as_deref().is_some_and(|l| l.starts_with("/admin/login")), "{out:#?}");
    let again = Operator::new(app).try_sign_in("otto", "otto's own long password").await;
    assert_eq!(again.status, 401);
}
on_both_backends!(
    a_freeze_names_the_tenant_counts_who_is_signed_out_and_asks_why,
    &crate::helpers::admin_settings()
);
