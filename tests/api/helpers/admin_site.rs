//! An operator at the admin site, through a cookie-jar browser.

use std::sync::OnceLock;

use serde_json::json;

use crate::helpers::*;

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "operator password for tests";

/// The argon2id hash of [`ADMIN_PASSWORD`], made once per test binary.
pub fn admin_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| koogate::sso::local::hash_password(ADMIN_PASSWORD).expect("hash"))
}

/// [`KIT_SETTINGS`] with the operator's password configured.
pub fn admin_settings() -> Vec<(&'static str, &'static str)> {
    let mut all = KIT_SETTINGS.to_vec();
    all.push(("admin.password_hash", admin_password_hash()));
    all
}

/// [`admin_settings`] plus `extra` (which win).
pub fn admin_settings_with(
    extra: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut all = admin_settings();
    all.extend_from_slice(extra);
    all
}

/// An operator's browser at the admin site.
pub struct Operator {
    pub browser: Browser,
    address: String,
}

impl Operator {
    pub fn new(app: &TestApp) -> Operator {
        Operator { browser: Browser::new(app), address: app.address.clone() }
    }

    pub async fn open(&self, path: &str) -> Page {
        self.browser.open(path).await
    }

    /// Posts a form (url-encoded) to a path of koogate.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .browser
            .client()
            .post(format!("{}{path}", self.address))
            .form(fields)
            .send()
            .await
            .expect("request sent");
        Page::read(response).await
    }

    /// Opens the sign-in form and submits it with these credentials.
    pub async fn try_sign_in(&self, username: &str, password: &str) -> Page {
        let form = self.open("/admin/login").await;
        assert_eq!(form.status, 200, "{form:#?}");
        let csrf = csrf_token(&form);
        self.post_form(
            "/admin/login",
            &[("username", username), ("password", password), ("csrf_token", &csrf)],
        )
        .await
    }

    /// Signs in with the right credentials; asserts it lands on the dashboard.
    pub async fn sign_in(&self) -> Page {
        let page = self.try_sign_in(ADMIN_USER, ADMIN_PASSWORD).await;
        assert_eq!(page.status, 303, "sign-in failed: {}", page.body);
        assert_eq!(page.location.as_deref(), Some("/admin"));
        page
    }

    /// A page that must answer 200.
    pub async fn page(&self, path: &str) -> Page {
        let page = self.open(path).await;
        assert_eq!(page.status, 200, "{path}: {page:#?}");
        page
    }

    /// The CSRF token the session's forms carry (from the dashboard).
    pub async fn session_csrf(&self) -> String {
        csrf_token(&self.page("/admin").await)
    }
}

/// The value of the first `csrf_token` hidden field of a page.
pub fn csrf_token(page: &Page) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.body.find(marker).expect("a form with a CSRF token") + marker.len();
    let rest = &page.body[start..];
    rest[..rest.find('"').expect("end of the value")].to_string()
}

/// An enterprise with an app, a department tree, and users, all synced
/// through signed Kit calls; `name` is used for the tenant, a department
/// and a user, so markup in it reaches every page.
pub async fn populated_enterprise(app: &TestApp, name: &str) -> Enterprise {
    let enterprise = app.bound_enterprise_with_app().await;
    let mut rename = enterprise.tenant_sync(2);
    rename["name"] = json!(name);
    app.kit_v2("tenantSync", &rename).await.assert_kit_ok();
    for (code, dept_name, parent) in
        [("HQ", "Head office", ""), ("RD", name, "HQ"), ("RD-1", "Platform team", "RD")]
    {
        app.kit_v2("singleOrgSync", &enterprise.single_org_sync(1, code, dept_name, parent))
            .await
            .assert_kit_ok();
    }
    let users = json!([
        person("alice", "Alice Admin", "HQ", "admin", "true"),
        person("bob", name, "RD-1", "user", "true"),
    ]);
    app.kit_v2("authSync", &enterprise.auth_sync(1, &beijing_now(), users)).await.assert_kit_ok();
    enterprise
}
