//! Local sign-in for non-joint products: the credentials the marketplace
//! handed the buyer in appInfo.

use koogate::marketplace::appinfo::{decrypt, EncryptType};
use serde_json::{json, Value};

use crate::helpers::*;

struct Buyer {
    client: reqwest::Client,
    address: String,
    instance_id: String,
    user_name: String,
    password: String,
}

impl Buyer {
    async fn new(app: &TestApp) -> Buyer {
        let (_, bought) = app.buy().await;
        let open = |field: &str| {
            decrypt(
                ACCESS_KEY,
                EncryptType::Aes256,
                bought.json["appInfo"][field].as_str().expect(field),
            )
            .expect("decrypts")
        };
        Buyer {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            address: app.address.clone(),
            instance_id: bought.json["instanceId"].as_str().expect("id").to_string(),
            user_name: open("userName"),
            password: open("password"),
        }
    }

    /// Opens the form and returns its CSRF token.
    async fn open_form(&self) -> String {
        let page = self
            .client
            .get(format!("{}/sso/local?instance={}&next=/home", self.address, self.instance_id))
            .send()
            .await
            .expect("form");
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.expect("html");
        let marker = "name=\"csrf_token\" value=\"";
        let start = html.find(marker).expect("a csrf field") + marker.len();
        html[start..].split('"').next().expect("token").to_string()
    }

    async fn submit(&self, user_name: &str, password: &str, csrf: &str) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}/sso/local", self.address))
            .form(&[
                ("instance", self.instance_id.as_str()),
                ("user_name", user_name),
                ("password", password),
                ("csrf_token", csrf),
                ("next", "/home"),
            ])
            .send()
            .await
            .expect("submitted");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (
            status,
            if location.is_empty() { response.text().await.unwrap_or_default() } else { location },
        )
    }

    /// The same buyer's form posts and pages, seen coming from `address`
    /// (a trusted proxy, 127.0.0.1, says so in `X-Forwarded-For`).
    fn seen_from(&self, address: &str) -> Buyer {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().expect("a header value"));
        Buyer {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .expect("client"),
            address: self.address.clone(),
            instance_id: self.instance_id.clone(),
            user_name: self.user_name.clone(),
            password: self.password.clone(),
        }
    }

    async fn me(&self) -> (u16, Value) {
        let response =
            self.client.get(format!("{}/sso/me", self.address)).send().await.expect("me");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn assert_signed_out_within_a_second(&self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        while self.me().await.0 != 401 {
            assert!(tokio::time::Instant::now() < deadline, "still signed in after 1 s");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn a_buyer_signs_in_with_the_credentials_from_app_info(app: TestApp) {
    let buyer = Buyer::new(&app).await;
    let csrf = buyer.open_form().await;
    let (status, location) = buyer.submit(&buyer.user_name, &buyer.password, &csrf).await;
    assert_eq!((status, location.as_str()), (303, "/home"));
    let (status, me) = buyer.me().await;
    assert_eq!(status, 200);
    assert_eq!(me["instanceId"], buyer.instance_id.as_str());
    assert_eq!(me["userName"], buyer.user_name.as_str());

    // Freezing the instance ends the session and shuts the door.
    let freeze = json!({"activity": "updateInstanceStatus", "instanceId": buyer.instance_id, "status": "FREEZE"});
    assert_eq!(app.v2(&freeze.to_string()).await.code(), "000000");
    buyer.assert_signed_out_within_a_second().await;
    let csrf = buyer.open_form().await;
    assert_eq!(buyer.submit(&buyer.user_name, &buyer.password, &csrf).await.0, 403);
    // Both attempts are in the sign-in record, under the subscription.
    let recorded = app.sign_ins(&format!("userName={}", buyer.user_name)).await;
    let seen: Vec<(&str, &str, &str)> = recorded
        .iter()
        .map(|a| {
            let text = |f: &str| a[f].as_str().unwrap_or("");
            (text("outcome"), text("dialect"), text("instanceId"))
        })
        .collect();
    let id = buyer.instance_id.as_str();
    assert_eq!(seen, [("refused", "local", id), ("signed_in", "local", id)], "{recorded:#?}");
    assert_eq!(recorded[0]["refusal"], "suspended_subscription");

    let release = json!({"activity": "releaseInstance", "instanceId": buyer.instance_id});
    assert_eq!(app.v2(&release.to_string()).await.code(), "000000");
    let csrf = buyer.open_form().await;
    assert!(matches!(buyer.submit(&buyer.user_name, &buyer.password, &csrf).await.0, 404 | 410));
}
on_both_backends!(
    a_buyer_signs_in_with_the_credentials_from_app_info,
    &[("provisioning.local_accounts", "true")]
);

async fn wrong_passwords_missing_csrf_and_guessing_are_refused(app: TestApp) {
    let buyer = Buyer::new(&app).await;
    let csrf = buyer.open_form().await;
    let (status, page) = buyer.submit(&buyer.user_name, "not-the-password", &csrf).await;
    assert_eq!(status, 401);
    assert!(page.contains("not right"), "says so plainly: {page}");

    let (status, page) = buyer.submit(&buyer.user_name, &buyer.password, "forged-token").await;
    assert_eq!(status, 403, "a CSRF token that is not ours");
    assert!(page.contains("did not come from this site"), "{page}");
    assert_eq!(buyer.me().await.0, 401);

    // Five failures lock the account for a while, even for the right password.
    for _ in 0..4 {
        let csrf = buyer.open_form().await;
        assert_eq!(buyer.submit(&buyer.user_name, "guess", &csrf).await.0, 401);
    }
    let csrf = buyer.open_form().await;
    assert_eq!(buyer.submit(&buyer.user_name, &buyer.password, &csrf).await.0, 429);
    assert_eq!(buyer.me().await.0, 401);
}
on_both_backends!(
    wrong_passwords_missing_csrf_and_guessing_are_refused,
    &[("provisioning.local_accounts", "true")]
);

async fn the_form_shows_what_it_is_given_as_text(app: TestApp) {
    let response = app
        .http
        .get(format!("{}/sso/local?instance=%3Cscript%3Ealert(1)%3C%2Fscript%3E", app.address))
        .send()
        .await
        .expect("form");
    let html = response.text().await.expect("html");
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}
on_both_backends!(the_form_shows_what_it_is_given_as_text);

/// Behind TLS the form's CSRF cookie is `__Host-` bound, which browsers
/// accept only with `Path=/` and `Secure`: otherwise they drop it and the
/// form can never be submitted.
#[tokio::test]
async fn behind_tls_the_forms_csrf_cookie_is_one_a_browser_keeps() {
    let settings = [("provisioning.local_accounts", "true"), ("sso.cookie_secure", "true")];
    let app = spawn_app(Backend::Sqlite, &settings).await;
    let response =
        app.http.get(format!("{}/sso/local?instance=any", app.address)).send().await.expect("form");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-koogate_csrf="))
        .expect("a __Host- CSRF cookie")
        .to_string();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(!attributes.iter().any(|a| a.starts_with("Domain")), "{cookie}");
}

async fn nobody_locks_out_another_buyer_or_learns_which_subscriptions_exist(app: TestApp) {
    let buyer = Buyer::new(&app).await.seen_from("198.51.100.9");
    let stranger = buyer.seen_from("203.0.113.7");
    // Someone elsewhere guesses the buyer's password until locked out.
    for _ in 0..5 {
        let csrf = stranger.open_form().await;
        assert_eq!(stranger.submit(&buyer.user_name, "guess", &csrf).await.0, 401);
    }
    let csrf = stranger.open_form().await;
    assert_eq!(stranger.submit(&buyer.user_name, "guess", &csrf).await.0, 429);
    // The buyer still signs in from where they are.
    let csrf = buyer.open_form().await;
    let (status, location) = buyer.submit(&buyer.user_name, &buyer.password, &csrf).await;
    assert_eq!((status, location.as_str()), (303, "/home"));

    // A subscription that does not exist is answered like a wrong password.
    let mut nobody = buyer.seen_from("192.0.2.44");
    let csrf = nobody.open_form().await;
    let (wrong_status, wrong_page) = nobody.submit(&buyer.user_name, "guess", &csrf).await;
    nobody.instance_id = "no-such-instance".to_string();
    let csrf = nobody.open_form().await;
    let (missing_status, missing_page) = nobody.submit(&buyer.user_name, "guess", &csrf).await;
    assert_eq!((missing_status, wrong_status), (401, 401));
    assert!(missing_page.contains("not right") && wrong_page.contains("not right"));
}
on_both_backends!(
    nobody_locks_out_another_buyer_or_learns_which_subscriptions_exist,
    &[("provisioning.local_accounts", "true"), ("server.trusted_proxies", "127.0.0.1")]
);
