//! A tenant whose auth centre is the stand-in, its people, and the steps
//! of their sign-in.

use serde_json::{json, Value};

use super::app::TestApp;
use super::auth_centre::{account, AuthCentre, SimDialect};
use super::browser::{Browser, Page};
use super::enterprise::{person, Enterprise};
use super::marketplace::random_id;

/// The session cookie's name when `sso.cookie_secure` is off.
pub const SESSION: &str = "koogate_session";

/// The enterprise's people: (userName, name, role, orgCode).
const PEOPLE: [(&str, &str, &str, &str); 3] = [
    ("alice", "Alice Admin", "admin", "D1"),
    ("bob", "Bob User", "user", "D2"),
    // Has an account at the auth centre; the app was never granted to her.
    ("carol", "Carol Stranger", "user", "D2"),
];

fn someone(user_name: &str) -> (&'static str, &'static str, &'static str) {
    let (_, name, role, org) =
        PEOPLE.iter().find(|p| p.0 == user_name).copied().expect("one of PEOPLE");
    (name, role, org)
}

/// One of [`PEOPLE`] as authSync lists them: the same name, role,
/// department and email as at the auth centre, so `/sso/me` has one
/// right answer whichever side koogate reads.
pub fn member(user_name: &str, enable: &str) -> Value {
    let (name, role, org) = someone(user_name);
    let mut member = person(user_name, name, org, role, enable);
    member["email"] = json!(format!("{user_name}@example.com"));
    member
}

/// A URL query from pairs, encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// An app and an enterprise whose auth centre is a stand-in: the
/// enterprise has its OAuth client, and alice and bob are granted.
pub struct Scene {
    pub app: TestApp,
    pub centre: AuthCentre,
    pub enterprise: Enterprise,
    pub dialect: SimDialect,
}

impl Scene {
    pub async fn new(app: TestApp) -> Scene {
        Scene::for_order(app, &random_id("CS")).await
    }

    /// As [`Scene::new`], the enterprise's instance bought with `order_id`.
    pub async fn for_order(app: TestApp, order_id: &str) -> Scene {
        let centre = AuthCentre::start(&random_id("client-"), &random_id("secret-"));
        Scene::with_centre(app, centre, order_id, &centre_domain).await
    }

    /// As [`Scene::new`], the auth centre speaking `dialect` and the
    /// tenant set to it by an operator: KooGallery, OIDC and CAS at the tenant's
    /// `domainName`, OrgID at a base URL of its own (the `domainName`
    /// then leads nowhere).
    pub async fn speaking(app: TestApp, dialect: SimDialect) -> Scene {
        let centre = AuthCentre::speaking(dialect, &random_id("client-"), &random_id("secret-"));
        let domain = |c: &AuthCentre| match dialect {
            SimDialect::OrgId => "http://127.0.0.1:9".to_string(),
            _ => c.base_url.clone(),
        };
        let scene = Scene::with_centre(app, centre, &random_id("CS"), &domain).await;
        let tenant_id = &scene.enterprise.tenant_id;
        match dialect {
            SimDialect::KooGallery => scene.app.set_sign_in(tenant_id, "koogallery", None).await,
            SimDialect::Oidc => scene.app.set_sign_in(tenant_id, "oidc", None).await,
            SimDialect::OrgId => {
                scene.app.set_sign_in(tenant_id, "orgid", Some(&scene.centre.base_url)).await
            }
            SimDialect::Cas => scene.app.set_sign_in(tenant_id, "cas", None).await,
        }
        scene
    }

    /// A scene around a running `centre`, the enterprise's `domainName`
    /// chosen by `domain`.
    pub async fn with_centre(
        app: TestApp,
        centre: AuthCentre,
        order_id: &str,
        domain: &dyn Fn(&AuthCentre) -> String,
    ) -> Scene {
        let enterprise = app.enterprise_for_order_at(&domain(&centre), order_id).await;
        app.give_app_credential(&enterprise, &centre.client_id, &centre.client_secret).await;
        for (user_name, name, role, org) in PEOPLE {
            centre.add_account(account(&enterprise.tenant_id, user_name, name, role, org));
        }
        let dialect = centre.dialect;
        let scene = Scene { app, centre, enterprise, dialect };
        scene.auth_sync(1, 1, json!([member("alice", "true"), member("bob", "true")])).await;
        scene
    }

    /// The login query for the enterprise: `tenant=T`.
    pub fn tenant_query(&self) -> String {
        query(&[("tenant", &self.enterprise.tenant_id)])
    }

    /// An authSync about the app; `day` orders them (currentSyncTime).
    pub async fn auth_sync(&self, flag: i64, day: u32, users: Value) {
        let time = format!("202401{day:02}000000000");
        let body = self.enterprise.auth_sync(flag, &time, users);
        self.app.kit_v2("authSync", &body).await.assert_kit_ok();
    }

    /// A new browser in which `user_name` goes through the whole sign-in;
    /// the callback's answer.
    pub async fn sign_in(&self, user_name: &str) -> (Browser, Page) {
        self.centre.signs_in(user_name);
        let browser = Browser::new(&self.app);
        let page = match self.dialect {
            SimDialect::Cas => browser.sign_in_cas(&self.tenant_query()).await,
            _ => browser.sign_in(&self.tenant_query()).await,
        };
        (browser, page)
    }

    /// The value of the session cookie `user_name` holds once signed in,
    /// for a client that speaks HTTP without a browser's cookie jar.
    pub async fn session_of(&self, user_name: &str) -> String {
        let (_, page) = self.sign_in(user_name).await;
        page.assert_lands_on("/");
        page.cookie("koogate_session").expect("a session cookie").value.clone()
    }

    /// A new browser in which `user_name` is signed in.
    pub async fn signed_in(&self, user_name: &str) -> Browser {
        let (browser, page) = self.sign_in(user_name).await;
        page.assert_lands_on("/");
        assert_eq!(browser.me().await, (200, self.me_of(user_name)));
        browser
    }

    /// Unified mode: `user_name` signs in at the marketplace's unified
    /// page (in `browser`, which never visits koogate for it); the query
    /// of the stateless callback it sends to koogate.
    pub async fn unified_answer(&self, browser: &Browser, user_name: &str) -> String {
        self.centre.signs_in(user_name);
        let callback = format!("{}/sso/callback", super::app::PUBLIC_URL);
        let authorize = format!(
            "{}/api/v1/oauth2/authorize?{}",
            self.centre.base_url,
            query(&[
                ("response_type", "code"),
                ("client_id", &self.centre.client_id),
                ("redirect_uri", &callback),
                ("scope", "get_user_info")
            ])
        );
        let back = browser.get(&authorize).await;
        let (_, answer) = back.redirect().split_once('?').expect("a query on the way back");
        assert!(!answer.contains("state="), "{answer}");
        answer.to_string()
    }

    /// What `/sso/me` answers for one of [`PEOPLE`].
    pub fn me_of(&self, user_name: &str) -> Value {
        let (name, role, org) = someone(user_name);
        json!({
            "tenantId": self.enterprise.tenant_id,
            "instanceId": self.enterprise.instance_id,
            "userName": user_name,
            "name": name,
            "role": role,
            "orgCode": org,
            "email": format!("{user_name}@example.com"),
        })
    }
}

/// A KooGallery auth centre is the tenant's `domainName`.
fn centre_domain(centre: &AuthCentre) -> String {
    centre.base_url.clone()
}
