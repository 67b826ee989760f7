//! A browser: a cookie jar that follows no redirect by itself, and the
//! pages and cookies it receives.

use std::time::Duration;

use serde_json::Value;

use super::app::{TestApp, PUBLIC_URL};

/// A browser with its own cookie jar that follows no redirect by itself,
/// so a test walks koogate → auth centre → koogate one hop at a time.
pub struct Browser {
    client: reqwest::Client,
    app_address: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        let client = reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client");
        Browser { client, app_address: app.address.clone() }
    }

    /// A fresh browser whose jar holds one cookie (`name=value`), as a
    /// hostile page or a copied cookie would put it there.
    pub fn holding(app: &TestApp, cookie: &str) -> Browser {
        let jar = reqwest::cookie::Jar::default();
        let url = app.address.parse::<reqwest::Url>().expect("the app's address");
        jar.add_cookie_str(&format!("{cookie}; Path=/"), &url);
        let client = reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::new(jar))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("client");
        Browser { client, app_address: app.address.clone() }
    }

    /// The same browser (cookies and all) talking to another replica, as
    /// a load balancer would send it there.
    pub fn behind(&self, replica: &TestApp) -> Browser {
        Browser { client: self.client.clone(), app_address: replica.address.clone() }
    }

    /// `GET` any absolute URL.
    pub async fn get(&self, url: &str) -> Page {
        Page::read(self.client.get(url).send().await.expect("request sent")).await
    }

    /// The browser's HTTP client (its cookie jar included), for requests
    /// a test shapes itself.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `GET` a path of koogate.
    pub async fn open(&self, path: &str) -> Page {
        self.get(&format!("{}{path}", self.app_address)).await
    }

    /// `POST` (empty form) to a path of koogate.
    pub async fn post(&self, path: &str) -> Page {
        let request = self
            .client
            .post(format!("{}{path}", self.app_address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("");
        Page::read(request.send().await.expect("request sent")).await
    }

    /// `POST` a form to a path of koogate.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(format!("{}{path}", self.app_address)).form(fields);
        Page::read(request.send().await.expect("request sent")).await
    }

    /// `POST` (empty form) to a path of koogate from one of its own pages,
    /// as a browser says: `Origin` is koogate's public URL.
    pub async fn post_from_this_site(&self, path: &str) -> Page {
        let request = self
            .client
            .post(format!("{}{path}", self.app_address))
            .header("Origin", PUBLIC_URL)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("");
        Page::read(request.send().await.expect("request sent")).await
    }

    /// Signs out as a person does: `GET /sso/logout` asks "Sign out?",
    /// its button posts the form; the post's answer.
    pub async fn sign_out(&self) -> Page {
        let asked = self.open("/sso/logout").await;
        assert_eq!(asked.status, 200, "a sign-out page: {asked:#?}");
        let token = asked.hidden_field("csrf_token");
        self.post_form("/sso/logout", &[("csrf_token", &token)]).await
    }

    /// `GET /sso/login?{query}`: the start of a sign-in.
    pub async fn login(&self, query: &str) -> Page {
        self.open(&format!("/sso/login?{query}")).await
    }

    /// Follows the login's 302 to the auth centre, which answers 302 back
    /// to koogate's `redirect_uri`; returns the query koogate is to get.
    pub async fn authorize(&self, login: &Page) -> String {
        let back = self.get(login.redirect()).await;
        let (callback, query) = back.redirect().split_once('?').expect("a query on the way back");
        assert_eq!(callback, format!("{PUBLIC_URL}/sso/callback"));
        query.to_string()
    }

    /// Follows `url` at an auth centre, which answers 302 back to
    /// koogate's `path`; returns the query koogate is to get.
    pub async fn back_from(&self, url: &str, path: &str) -> String {
        let back = self.get(url).await;
        let (landing, query) = back.redirect().split_once('?').expect("a query on the way back");
        assert_eq!(landing, format!("{PUBLIC_URL}{path}"), "{back:#?}");
        query.to_string()
    }

    /// `GET /sso/cas?{query}`: a CAS sign-in arriving.
    pub async fn cas(&self, query: &str) -> Page {
        self.open(&format!("/sso/cas?{query}")).await
    }

    /// The whole CAS sign-in from `/sso/login?{login_query}`; the answer
    /// to the ticket.
    pub async fn sign_in_cas(&self, login_query: &str) -> Page {
        let login = self.login(login_query).await;
        let query = self.back_from(login.redirect(), "/sso/cas").await;
        self.cas(&query).await
    }

    /// `GET /sso/callback?{query}` (on `address`, not on the public URL).
    pub async fn callback(&self, query: &str) -> Page {
        self.open(&format!("/sso/callback?{query}")).await
    }

    /// The whole sign-in from `/sso/login?{login_query}`; the callback's answer.
    pub async fn sign_in(&self, login_query: &str) -> Page {
        let login = self.login(login_query).await;
        let query = self.authorize(&login).await;
        self.callback(&query).await
    }

    /// `GET /sso/me`: status and body.
    pub async fn me(&self) -> (u16, Value) {
        let page = self.open("/sso/me").await;
        (page.status, serde_json::from_str(&page.body).unwrap_or(Value::Null))
    }

    /// Asserts `/sso/me` answers 401 within a second (polled every 50 ms).
    pub async fn assert_signed_out_within_a_second(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            let (status, body) = self.me().await;
            if status == 401 {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "still signed in after 1 s: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One answer as a browser sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub cookies: Vec<SetCookie>,
    pub body: String,
}

impl Page {
    pub async fn read(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers();
        let location =
            headers.get("location").map(|v| v.to_str().expect("an ASCII Location").to_string());
        let cookies = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| SetCookie::parse(v.to_str().expect("an ASCII Set-Cookie")))
            .collect();
        let body = response.text().await.unwrap_or_default();
        Page { status, location, cookies, body }
    }

    /// The value of the form field `name` on this page.
    pub fn hidden_field(&self, name: &str) -> String {
        let marker = format!(r#"name="{name}" value=""#);
        let start = self.body.find(&marker).unwrap_or_else(|| panic!("no {name}: {self:#?}"))
            + marker.len();
        self.body[start..].split('"').next().expect("a value").to_string()
    }

    /// The `Location` of a 302; panics on anything else.
    pub fn redirect(&self) -> &str {
        assert_eq!(self.status, 302, "expected a 302: {self:#?}");
        self.location.as_deref().expect("a Location")
    }

    /// The cookie of this name the answer sets.
    pub fn cookie(&self, name: &str) -> Option<&SetCookie> {
        self.cookies.iter().find(|c| c.name == name)
    }

    /// Asserts a refusal page with this status and no trace of a crash.
    pub fn assert_refused(&self, status: u16) {
        assert_eq!(self.status, status, "{self:#?}");
        for crash in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!self.body.contains(crash), "a crash shows: {}", self.body);
        }
    }

    /// The reference a refusal page shows (like `K7QD-4MZP`).
    pub fn reference(&self) -> String {
        let marker = "class=\"reference\">";
        let after = self.body.split(marker).nth(1).expect("a reference on the page");
        let code = after.split("<code>").nth(1).and_then(|r| r.split("</code>").next());
        code.expect("the reference in <code>").to_string()
    }

    /// Asserts a 302 to `path` of koogate (relative, or under the public URL).
    pub fn assert_lands_on(&self, path: &str) {
        let location = self.redirect();
        assert!(
            location == path || location == format!("{PUBLIC_URL}{path}"),
            "expected to land on {path}, sent to {location}"
        );
    }
}

/// One `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// (name, value) as sent; the value is empty for a flag.
    pub attributes: Vec<(String, String)>,
}

impl SetCookie {
    pub fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts.next().and_then(|p| p.split_once('=')).expect("name=value");
        let attributes = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        SetCookie { name: name.to_string(), value: value.to_string(), attributes }
    }

    /// The value of an attribute, its name compared case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }
}
