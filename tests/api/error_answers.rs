//! Error answers keep the promises of their status: a 401 says how to
//! authenticate (`WWW-Authenticate`), a 503 says when to come back
//! (`Retry-After`), whichever route answered and whether as JSON or page.

use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

const APP_TOKEN: &str = "app-api-token-for-error-answers-0123";

/// An app with the gate, the app API and the admin API switched on; its
/// upstream listens nowhere (every request here is answered before it).
const SETTINGS: &[(&str, &str)] = &[
    ("upstream.url", "http://127.0.0.1:1"),
    ("upstream.api_token", APP_TOKEN),
    ("admin.api_token", ADMIN_TOKEN),
];

struct Answer {
    status: u16,
    challenge: Option<String>,
    retry_after: Option<String>,
    content_type: String,
    body: String,
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = app.http.get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (challenge, retry_after) = (header("www-authenticate"), header("retry-after"));
    let content_type = header("content-type").unwrap_or_default();
    let status = response.status().as_u16();
    Answer {
        status,
        challenge,
        retry_after,
        content_type,
        body: response.text().await.expect("body"),
    }
}

const BEARER: &str = r#"Bearer realm="koogate""#;
const SIGN_IN: &str = r#"Cookie realm="koogate", form-action="/sso/login""#;

async fn a_401_says_how_to_authenticate(app: TestApp) {
    let json = [("Accept", "application/json")];
    for (path, challenge) in [
        ("/sso/me", SIGN_IN),
        ("/reports/42", SIGN_IN),
        ("/app-api/v1/tenants/some-tenant", BEARER),
        ("/admin/api/instances", BEARER),
    ] {
        let answer = get(&app, path, &json).await;
        assert_eq!(answer.status, 401, "{path}: {}", answer.body);
        assert_eq!(answer.challenge.as_deref(), Some(challenge), "{path}");
        let body: Value = serde_json::from_str(&answer.body).expect("a JSON body");
        assert_eq!(body["error"], "unauthenticated", "{path}");
    }
    let wrong =
        get(&app, "/app-api/v1/tenants/some-tenant", &[("Authorization", "Bearer nope")]).await;
    assert_eq!((wrong.status, wrong.challenge.as_deref()), (401, Some(BEARER)));
    // Other errors challenge nobody.
    let unknown = get(
        &app,
        "/admin/api/instances/nope",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
    )
    .await;
    assert_eq!((unknown.status, unknown.challenge), (404, None));
}
on_both_backends!(a_401_says_how_to_authenticate, super::SETTINGS);

/// The storage loses a table under the running app (a fault the app
/// cannot mend): what needs it answers 503 and says when to retry.
async fn lose_table(app: &TestApp, table: &str) {
    app.db
        .execute_unprepared(&format!("ALTER TABLE {table} RENAME TO {table}_lost"))
        .await
        .expect("rename the table away");
}

async fn a_503_says_when_to_retry(app: TestApp) {
    lose_table(&app, "sessions").await;
    let cookie = ("Cookie", "koogate_session=some-session-id");
    let retry = |answer: &Answer, what: &str| {
        assert_eq!(answer.status, 503, "{what}: {}", answer.body);
        assert_eq!(answer.retry_after.as_deref(), Some("5"), "{what}");
        assert!(!answer.body.contains("sessions"), "{what}: no internals: {}", answer.body);
    };
    let me = get(&app, "/sso/me", &[cookie]).await;
    retry(&me, "/sso/me");
    assert_eq!(serde_json::from_str::<Value>(&me.body).expect("json")["error"], "unavailable");
    let api = get(&app, "/reports/42", &[cookie, ("Accept", "application/json")]).await;
    retry(&api, "the gate, for an API client");
    let page = get(&app, "/reports/42", &[cookie, ("Accept", "text/html")]).await;
    retry(&page, "the gate, for a browser");
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    assert!(page.body.contains("Please try again"), "{}", page.body);

    lose_table(&app, "tenants").await;
    let login = get(&app, "/sso/login?tenant=some-tenant", &[]).await;
    retry(&login, "sign-in");
    assert!(login.body.contains("Please try again"), "{}", login.body);
    let tenants = get(
        &app,
        "/app-api/v1/tenants/some-tenant",
        &[("Authorization", &format!("Bearer {APP_TOKEN}"))],
    )
    .await;
    retry(&tenants, "the app API");
}
on_both_backends!(a_503_says_when_to_retry, super::SETTINGS);
