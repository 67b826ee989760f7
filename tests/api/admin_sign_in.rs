//! The admin site's sign-in over plain HTTP: sessions, their refusals,
//! CSRF, idle ends, lock-outs and the cookies' attributes.

use sea_orm::EntityTrait;

use crate::helpers::*;

async fn an_operator_signs_in_browses_and_signs_out(app: TestApp) {
    let operator = Operator::new(&app);
    let form = operator.open("/admin/login").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"username\"") && form.body.contains("name=\"password\""));
    let csrf_cookie = form.cookie("koogate_admin_csrf").expect("a CSRF cookie");
    assert!(csrf_cookie.has("HttpOnly"));
    assert_eq!(csrf_cookie.attribute("SameSite"), Some("Strict"));

    let signed_in = operator.sign_in().await;
    let session = signed_in.cookie("koogate_admin").expect("a session cookie");
    assert!(session.has("HttpOnly"), "{session:?}");
    assert_eq!(session.attribute("SameSite"), Some("Strict"));
    assert_eq!(session.attribute("Path"), Some("/"));
    assert!(!session.has("Secure"), "plain http public_url: not Secure");

    let dashboard = operator.page("/admin").await;
    assert!(dashboard.body.contains("Dashboard") && dashboard.body.contains("Latest failures"));
    for path in ["/admin/tenants", "/admin/instances", "/admin/events"] {
        operator.page(path).await;
    }

    let csrf = csrf_token(&dashboard);
    let out = operator.post_form("/admin/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/admin/login?signed_out=1"));
    let after = operator.open("/admin/tenants").await;
    assert_eq!(after.status, 303, "signed out: sent to sign in");
    assert!(after.location.as_deref().unwrap_or_default().starts_with("/admin/login"));
}
on_both_backends!(an_operator_signs_in_browses_and_signs_out, &crate::helpers::admin_settings());

#[tokio::test]
async fn pages_and_actions_need_a_session() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let stranger = Operator::new(&app);
    let page = stranger.open("/admin/tenants?q=x").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/admin/login?next=%2Fadmin%2Ftenants%3Fq%3Dx"));
    let (_, bought) = app.buy().await;
    let id = bought.json["instanceId"].as_str().expect("id");
    let freeze = stranger.post_form(&format!("/admin/instances/{id}/freeze"), &[]).await;
    assert_eq!(freeze.status, 303);
    assert_eq!(app.instance(id).await["status"], "active");
    // Coming back after signing in.
    let form = stranger.open("/admin/login?next=%2Fadmin%2Ftenants%3Fq%3Dx").await;
    let back = stranger
        .post_form(
            "/admin/login",
            &[
                ("username", ADMIN_USER),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &csrf_token(&form)),
                ("next", "/admin/tenants?q=x"),
            ],
        )
        .await;
    assert_eq!(back.location.as_deref(), Some("/admin/tenants?q=x"));
}

#[tokio::test]
async fn a_wrong_user_name_or_password_is_refused_plainly() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let operator = Operator::new(&app);
    for (user, password) in [(ADMIN_USER, "not the password"), ("root", ADMIN_PASSWORD), ("", "")] {
        let page = operator.try_sign_in(user, password).await;
        assert_eq!(page.status, 401, "{user}/{password}");
        assert!(page.body.contains("The user name or password is not right."), "{}", page.body);
        assert!(page.cookie("koogate_admin").is_none());
    }
    assert_eq!(operator.open("/admin").await.status, 303);
}

#[tokio::test]
async fn a_sign_in_without_its_csrf_token_is_refused() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let operator = Operator::new(&app);
    // No form fetched first: no CSRF cookie, no token.
    let bare = operator
        .post_form("/admin/login", &[("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!(bare.status, 403);
    assert!(bare.body.contains("This form expired or did not come from this site"));
    // A token that is not the cookie's.
    operator.open("/admin/login").await;
    let forged = operator
        .post_form(
            "/admin/login",
            &[("username", ADMIN_USER), ("password", ADMIN_PASSWORD), ("csrf_token", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.cookie("koogate_admin").is_none());
}

async fn actions_without_the_session_csrf_token_are_refused(app: TestApp) {
    let enterprise = app.bound_enterprise().await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let path = format!("/admin/instances/{}/freeze", enterprise.instance_id);
    for fields in [vec![], vec![("csrf_token", "forged")]] {
        let page = operator.post_form(&path, &fields).await;
        assert_eq!(page.status, 403, "{page:#?}");
        assert!(page.body.contains("This form expired or did not come from this site"));
    }
    assert_eq!(app.instance(&enterprise.instance_id).await["status"], "active");
    let event = app.last_event().await;
    let replay = operator.post_form(&format!("/admin/events/{}/replay", event.id), &[]).await;
    assert_eq!(replay.status, 403);
    assert_eq!(app.last_event().await.id, event.id, "nothing replayed");
    let out = operator.post_form("/admin/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(out.status, 403);
    operator.page("/admin").await;
}
on_both_backends!(
    actions_without_the_session_csrf_token_are_refused,
    &crate::helpers::admin_settings()
);

#[tokio::test]
async fn an_idle_session_ends_and_the_operator_is_told_why() {
    let app = spawn_app(Backend::Sqlite, &admin_settings_with(&[("sso.idle_ttl_secs", "1")])).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    operator.page("/admin").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let page = operator.open("/admin/tenants").await;
    assert_eq!(page.status, 303);
    let location = page.location.clone().expect("to sign in");
    assert!(location.starts_with("/admin/login?expired=1"), "{location}");
    let told = operator.page(&location).await;
    assert!(told.body.contains("Your session ended after a while without activity"));
    let sessions = entity::admin_session::Entity::find().all(&app.db).await.expect("sessions");
    assert!(sessions.is_empty(), "the idle session is gone: {sessions:?}");
}

#[tokio::test]
async fn repeated_failures_lock_the_sign_in_even_for_the_right_password() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let operator = Operator::new(&app);
    for _ in 0..5 {
        assert_eq!(operator.try_sign_in(ADMIN_USER, "guess").await.status, 401);
    }
    let locked = operator.try_sign_in(ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("Too many failed attempts"));
    assert!(locked.cookie("koogate_admin").is_none());
}

#[tokio::test]
async fn behind_tls_the_admin_cookies_are_host_bound_and_secure() {
    let app =
        spawn_app(Backend::Sqlite, &admin_settings_with(&[("sso.cookie_secure", "true")])).await;
    // A client without a jar (one would not send Secure cookies over
    // http), following no redirect.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form =
        Page::read(http.get(format!("{}/admin/login", app.address)).send().await.expect("form"))
            .await;
    let csrf = form.cookie("__Host-koogate_admin_csrf").expect("a __Host- CSRF cookie");
    assert!(csrf.has("Secure") && csrf.has("HttpOnly"));
    assert_eq!(csrf.attribute("Path"), Some("/"));
    let token = csrf_token(&form);
    let response = http
        .post(format!("{}/admin/login", app.address))
        .header("Cookie", format!("__Host-koogate_admin_csrf={}", csrf.value))
        .form(&[("username", ADMIN_USER), ("password", ADMIN_PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .expect("sign in");
    let signed_in = Page::read(response).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let session = signed_in.cookie("__Host-koogate_admin").expect("a __Host- session cookie");
    assert!(session.has("Secure") && session.has("HttpOnly"));
    assert_eq!(session.attribute("SameSite"), Some("Strict"));
    assert_eq!(session.attribute("Path"), Some("/"));
    assert!(session.attribute("Domain").is_none());
}
