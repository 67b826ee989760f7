//! Operators see who is signed in, per tenant and per user, and end one
//! session: the user's next request is refused within a second, on every
//! replica; the action is in the event log with who did it.

use serde_json::Value;
use sha2::Digest;

use crate::helpers::*;

/// A new browser in which `user_name` signs in; its session cookie's value.
async fn signed_in_with_cookie(scene: &Scene, user_name: &str) -> (Browser, String) {
    let (browser, page) = scene.sign_in(user_name).await;
    page.assert_lands_on("/");
    let cookie = page.cookie(SESSION).expect("a session cookie").value.clone();
    (browser, cookie)
}

fn user_names(sessions: &[Value]) -> Vec<&str> {
    let mut names: Vec<&str> = sessions.iter().filter_map(|s| s["userName"].as_str()).collect();
    names.sort_unstable();
    names
}

fn session_of<'a>(sessions: &'a [Value], user_name: &str) -> &'a Value {
    sessions.iter().find(|s| s["userName"] == user_name).expect("a session of the user")
}

async fn an_operator_ends_one_session_and_only_that_one(app: TestApp) {
    let scene = Scene::new(app).await;
    let tenant = scene.enterprise.tenant_id.clone();
    let (alice, alice_cookie) = signed_in_with_cookie(&scene, "alice").await;
    let (bob, bob_cookie) = signed_in_with_cookie(&scene, "bob").await;

    let listed = scene.app.open_sessions(&query(&[("tenantId", &tenant)])).await;
    assert_eq!(user_names(&listed), ["alice", "bob"], "{listed:#?}");
    for (session, cookie) in
        [(session_of(&listed, "alice"), &alice_cookie), (session_of(&listed, "bob"), &bob_cookie)]
    {
        let id = session["sessionId"].as_str().expect("a sessionId");
        assert!(id.len() >= 32, "{id}");
        assert_ne!(id, cookie, "never the cookie's value");
        assert_ne!(id, hex::encode(sha2::Sha256::digest(cookie.as_bytes())), "nor its hash");
        assert!(!serde_json::to_string(session).expect("json").contains(cookie.as_str()));
        assert_eq!(session["tenantId"], tenant.as_str());
    }
    let only_bob =
        scene.app.open_sessions(&query(&[("tenantId", &tenant), ("userName", "bob")])).await;
    assert_eq!(user_names(&only_bob), ["bob"]);
    assert!(scene.app.open_sessions("tenantId=nobody").await.is_empty());

    let alice_id = session_of(&listed, "alice")["sessionId"].as_str().expect("id").to_string();
    let (status, ended) =
        scene.app.admin_post(&format!("/admin/api/sessions/{alice_id}/end")).await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        (ended["sessionId"].as_str(), ended["userName"].as_str()),
        (Some(alice_id.as_str()), Some("alice"))
    );
    alice.assert_signed_out_within_a_second().await;
    assert_eq!(bob.me().await, (200, scene.me_of("bob")), "bob's session goes on");
    let after = scene.app.open_sessions(&query(&[("tenantId", &tenant)])).await;
    assert_eq!(user_names(&after), ["bob"]);

    let event = scene.app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("operator", "endSession"));
    assert_eq!(event.tenant_id.as_deref(), Some(tenant.as_str()));
    assert!(
        event.request.contains(&alice_id) && event.request.contains("\"api\""),
        "{}",
        event.request
    );
    assert!(!event.request.contains(&alice_cookie), "the cookie is never recorded");

    // Ending it again changes nothing; an id no session has is unknown;
    // without the token nothing happens.
    let (again, _) = scene.app.admin_post(&format!("/admin/api/sessions/{alice_id}/end")).await;
    assert_eq!(again, 200);
    let (unknown, body) = scene.app.admin_post("/admin/api/sessions/no-such-session/end").await;
    assert_eq!((unknown, body["error"].as_str()), (404, Some("not_found")), "{body}");
    let bobs_id = session_of(&listed, "bob")["sessionId"].as_str().expect("id").to_string();
    let anonymous =
        scene.app.http.post(format!("{}/admin/api/sessions/{bobs_id}/end", scene.app.address));
    assert_eq!(anonymous.send().await.expect("sent").status(), 401);
    assert_eq!(bob.me().await.0, 200);
}
on_every_session_store!(
    an_operator_ends_one_session_and_only_that_one,
    &crate::helpers::admin_settings()
);

/// The admin page's "end session" button: refused without the form's
/// CSRF token, and with it the user is out within a second.
async fn the_end_session_button_needs_the_forms_token(app: TestApp) {
    let scene = Scene::new(app).await;
    let tenant = scene.enterprise.tenant_id.clone();
    let alice = scene.signed_in("alice").await;
    let operator = Operator::new(&scene.app);
    operator.sign_in().await;
    let page = operator.page(&format!("/admin/sessions?{}", query(&[("tenantId", &tenant)]))).await;
    let id = scene.app.open_sessions(&query(&[("tenantId", &tenant)])).await[0]["sessionId"]
        .as_str()
        .expect("id")
        .to_string();
    let action = format!("/admin/sessions/{id}/end");
    assert!(page.body.contains(&action) && page.body.contains(">alice<"), "{}", page.body);

    let forged = operator.post_form(&action, &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status, 403, "{forged:#?}");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(alice.me().await.0, 200, "a forged form ends nothing");

    let csrf = csrf_token(&page);
    let done = operator.post_form(&action, &[("csrf_token", &csrf)]).await;
    assert_eq!(done.status, 303, "{done:#?}");
    let back = done.location.clone().expect("back to the list");
    alice.assert_signed_out_within_a_second().await;
    let after = operator.page(&back).await;
    assert!(after.body.contains("The session is ended"), "{}", after.body);
    assert!(!after.body.contains(&action), "no longer listed");
    let event = scene.app.last_event().await;
    assert_eq!(event.activity, "endSession");
    assert!(event.request.contains(&format!("\"{ADMIN_USER}\"")), "{}", event.request);
}
on_both_backends!(the_end_session_button_needs_the_forms_token, &crate::helpers::admin_settings());

/// Ended through one replica, refused on another within a second.
#[tokio::test]
async fn an_ended_session_is_refused_on_every_replica() {
    let settings = admin_settings();
    let Some(first) = spawn_redis_app(&settings).await else { return };
    let redis = redis_url().expect("redis");
    let mut with_redis = settings.clone();
    with_redis.push(("redis.url", &redis));
    let second = first.replica(&with_redis).await;
    let scene = Scene::new(first).await;
    let alice = scene.signed_in("alice").await;
    let there = alice.behind(&second);
    assert_eq!(there.me().await.0, 200, "the session works on the other replica");
    let id = scene.app.open_sessions("userName=alice").await[0]["sessionId"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, _) = second.admin_post(&format!("/admin/api/sessions/{id}/end")).await;
    assert_eq!(status, 200);
    there.assert_signed_out_within_a_second().await;
    alice.assert_signed_out_within_a_second().await;
}
