//! Signing in through a tenant whose `domainName` is an OpenID provider:
//! `oidc-provider` from npm (a certified implementation), started per test
//! from `test-support/oidc/`. The browser walks koogate → the provider's
//! login and consent forms → koogate, as a person would.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::*;

const SUPPORT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test-support/oidc");

/// A running `oidc-provider` that knows one client; stopped on drop.
pub struct OidcProvider {
    /// `http://127.0.0.1:{port}`: its issuer and the address it is reached at.
    pub issuer: String,
    _process: Child,
}

impl OidcProvider {
    /// Starts the provider, installing its locked npm dependencies first
    /// when they are missing; or says loudly why it cannot and returns
    /// `None` (in CI, where it must run, that fails the test).
    pub async fn start(client_id: &str, client_secret: &str) -> Option<OidcProvider> {
        if let Err(why) = install_oidc_provider() {
            skip_loudly(
                "an OpenID Connect sign-in test",
                &format!("{why}; install Node.js 20+ and npm, or run `npm ci --prefix test-support/oidc`"),
            );
            return None;
        }
        let mut process = Command::new("node")
            .arg("provider.mjs")
            .current_dir(SUPPORT_DIR)
            .env("OIDC_PORT", "0")
            .env("OIDC_CLIENT_ID", client_id)
            .env("OIDC_CLIENT_SECRET", client_secret)
            .env("OIDC_REDIRECT_URI", format!("{PUBLIC_URL}/sso/callback"))
            .env("OIDC_POST_LOGOUT_REDIRECT_URI", format!("{PUBLIC_URL}/"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (Node.js 20 or later must be installed)");
        let stdout = process.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(issuer) = line.strip_prefix("ready ") {
                    return Some(issuer.to_string());
                }
            }
            None
        })
        .await;
        let mut stderr = process.stderr.take().expect("stderr");
        let Ok(Some(issuer)) = ready else {
            let _ = process.start_kill();
            let mut said = String::new();
            let _ = tokio::time::timeout(Duration::from_secs(2), stderr.read_to_string(&mut said))
                .await;
            panic!("oidc-provider did not start:\n{said}");
        };
        // Keep its pipes drained so it never blocks on a full one.
        tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await });
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(OidcProvider { issuer, _process: process })
    }
}

/// An enterprise whose `domainName` is an OpenID provider with the
/// enterprise's client; alice and bob are granted, carol only has an
/// account at the provider (any name does there).
pub struct Scene {
    pub app: TestApp,
    pub provider: OidcProvider,
    pub enterprise: Enterprise,
    pub client_id: String,
}

impl Scene {
    pub async fn new(app: TestApp) -> Option<Scene> {
        let client_id = random_id("client-");
        let client_secret = random_id("secret-");
        let provider = OidcProvider::start(&client_id, &client_secret).await?;
        let enterprise = app.enterprise_at(&provider.issuer).await;
        app.give_app_credential(&enterprise, &client_id, &client_secret).await;
        let grants = json!([member("alice", "true"), member("bob", "true")]);
        let body = enterprise.auth_sync(1, "20240101000000000", grants);
        app.kit_v2("authSync", &body).await.assert_kit_ok();
        Some(Scene { app, provider, enterprise, client_id })
    }

    pub fn tenant_query(&self) -> String {
        query(&[("tenant", &self.enterprise.tenant_id)])
    }

    /// What `/sso/me` answers for alice or bob: the name the provider
    /// gives, role and department from authSync, no email (koogate asks
    /// for `openid profile` only).
    pub fn me_of(&self, user_name: &str, role: &str, org: &str) -> Value {
        json!({
            "tenantId": self.enterprise.tenant_id,
            "instanceId": self.enterprise.instance_id,
            "userName": user_name,
            "name": format!("{user_name} (from the provider)"),
            "role": role,
            "orgCode": org,
            "email": null,
        })
    }
}

/// The provider's side of a sign-in, from koogate's redirect to it: its
/// login form (any account name, any password), its consent form, until it
/// sends the browser back to koogate. Returns the callback's query.
async fn sign_in_at_provider(
    browser: &Browser,
    provider: &OidcProvider,
    to_provider: &str,
    account: &str,
) -> String {
    let callback = format!("{PUBLIC_URL}/sso/callback?");
    let mut page = browser.get(to_provider).await;
    for _ in 0..12 {
        if let Some(location) = page.location.clone() {
            if let Some(answer) = location.strip_prefix(&callback) {
                return answer.to_string();
            }
            page = browser.get(&absolute(provider, &location)).await;
            continue;
        }
        assert_eq!(page.status, 200, "the provider answered {page:#?}");
        let (action, mut fields) = form(&page.body);
        if page.body.contains(r#"name="login""#) {
            fields.push(("login".to_string(), account.to_string()));
            fields.push(("password".to_string(), "any password".to_string()));
        }
        page = post_form(browser, &absolute(provider, &action), &fields).await;
    }
    panic!("the provider never sent the browser back: {page:#?}");
}

fn absolute(provider: &OidcProvider, location: &str) -> String {
    if location.starts_with('/') {
        format!("{}{location}", provider.issuer)
    } else {
        location.to_string()
    }
}

/// The first form of a page: its action and its hidden fields.
fn form(body: &str) -> (String, Vec<(String, String)>) {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!(r#"{name}=""#))? + name.len() + 2;
        tag[start..].split('"').next().map(str::to_string)
    };
    let form_tag = body.split("<form").nth(1).expect("a form on the page");
    let action = attribute(form_tag.split('>').next().unwrap_or(""), "action").expect("an action");
    let fields = form_tag
        .split("<input")
        .skip(1)
        .filter_map(|input| {
            let tag = input.split('>').next()?;
            (attribute(tag, "type")? == "hidden").then_some(())?;
            Some((attribute(tag, "name")?, attribute(tag, "value").unwrap_or_default()))
        })
        .collect();
    (action.replace("&amp;", "&"), fields)
}

async fn post_form(browser: &Browser, url: &str, fields: &[(String, String)]) -> Page {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let request = browser
        .client()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    Page::read(request.send().await.expect("request sent")).await
}

/// A query's parameters.
fn params(query: &str) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

async fn a_granted_user_signs_in_with_openid_connect(app: TestApp) {
    let Some(scene) = Scene::new(app).await else { return };
    let browser = Browser::new(&scene.app);

    let login = browser.login(&scene.tenant_query()).await;
    let to_provider = login.redirect().to_string();
    let (endpoint, asked) = to_provider.split_once('?').expect("a query");
    assert_eq!(endpoint, format!("{}/auth", scene.provider.issuer), "the discovered endpoint");
    let asked = params(asked);
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], scene.client_id);
    assert_eq!(asked["redirect_uri"], format!("{PUBLIC_URL}/sso/callback"));
    let scopes: Vec<&str> = asked["scope"].split(' ').collect();
    assert!(scopes.contains(&"openid") && scopes.contains(&"profile"), "{scopes:?}");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(asked["nonce"].len() >= 16, "an unguessable nonce: {}", asked["nonce"]);
    assert!(asked["state"].len() >= 16, "an unguessable state: {}", asked["state"]);

    let back = sign_in_at_provider(&browser, &scene.provider, &to_provider, "alice").await;
    let answer = params(&back);
    assert_eq!(answer.get("tenant"), None, "a provider does not name the tenant; the state does");
    assert_eq!(answer["iss"], scene.provider.issuer, "RFC 9207: the provider says who answers");

    let landed = browser.callback(&back).await;
    landed.assert_lands_on("/");
    assert!(landed.cookie(SESSION).is_some_and(|c| c.has("HttpOnly")), "{landed:#?}");
    assert_eq!(browser.me().await, (200, scene.me_of("alice", "admin", "D1")));
    assert_eq!(Browser::new(&scene.app).me().await.0, 401, "another browser has no session");
}
kit_on_both_backends!(a_granted_user_signs_in_with_openid_connect);

async fn a_user_the_app_was_not_granted_to_is_refused(app: TestApp) {
    let Some(scene) = Scene::new(app).await else { return };
    let browser = Browser::new(&scene.app);
    let login = browser.login(&scene.tenant_query()).await;
    // Carol has an account at her enterprise's provider, not the app.
    let back = sign_in_at_provider(&browser, &scene.provider, login.redirect(), "carol").await;
    browser.callback(&back).await.assert_refused(403);
    assert_eq!(browser.me().await.0, 401);
}
kit_on_both_backends!(a_user_the_app_was_not_granted_to_is_refused);

/// The mix-up defence: a tenant's provider must be the issuer at its own
/// `domainName`, and an answer must come from that issuer.
async fn a_provider_answering_for_another_issuer_is_refused(app: TestApp) {
    let Some(scene) = Scene::new(app).await else { return };
    let app = &scene.app;

    // Another enterprise synced with a domainName whose discovery names
    // another issuer (here: the same provider, reached by another name).
    let port = scene.provider.issuer.rsplit(':').next().expect("a port");
    let impostor = app.enterprise_at(&format!("http://localhost:{port}")).await;
    app.give_app_credential(&impostor, &scene.client_id, "any-secret").await;
    let browser = Browser::new(app);
    let refused = browser.login(&query(&[("tenant", &impostor.tenant_id)])).await;
    refused.assert_refused(502);
    assert!(refused.location.is_none(), "never sent to the provider: {refused:#?}");

    // The real tenant's sign-in, whose answer claims another issuer.
    let login = browser.login(&scene.tenant_query()).await;
    let back = sign_in_at_provider(&browser, &scene.provider, login.redirect(), "alice").await;
    let mut forged = params(&back);
    forged.insert("iss".to_string(), "https://attacker.example".to_string());
    let forged = form_urlencoded::Serializer::new(String::new()).extend_pairs(&forged).finish();
    browser.callback(&forged).await.assert_refused(400);
    // This provider promises to name itself; an answer naming no issuer is refused too.
    let login = browser.login(&scene.tenant_query()).await;
    let back = sign_in_at_provider(&browser, &scene.provider, login.redirect(), "alice").await;
    let mut unnamed = params(&back);
    unnamed.remove("iss");
    let unnamed = form_urlencoded::Serializer::new(String::new()).extend_pairs(&unnamed).finish();
    browser.callback(&unnamed).await.assert_refused(400);
    assert_eq!(browser.me().await.0, 401);
}
kit_on_both_backends!(a_provider_answering_for_another_issuer_is_refused);

async fn a_replayed_callback_is_refused(app: TestApp) {
    let Some(scene) = Scene::new(app).await else { return };
    let browser = Browser::new(&scene.app);
    let login = browser.login(&scene.tenant_query()).await;
    let back = sign_in_at_provider(&browser, &scene.provider, login.redirect(), "bob").await;
    browser.callback(&back).await.assert_lands_on("/");
    assert_eq!(browser.me().await, (200, scene.me_of("bob", "user", "D2")));

    // The same answer again, in this browser or in another one.
    browser.callback(&back).await.assert_refused(400);
    let other = Browser::new(&scene.app);
    other.callback(&back).await.assert_refused(400);
    assert_eq!(other.me().await.0, 401);
}
kit_on_both_backends!(a_replayed_callback_is_refused);

/// A code from one browser's sign-in, pasted into another's callback (code
/// injection): PKCE and the nonce tie a code to the sign-in that asked.
async fn a_code_from_another_sign_in_is_refused(app: TestApp) {
    let Some(scene) = Scene::new(app).await else { return };
    let victim = Browser::new(&scene.app);
    let victims_login = victim.login(&scene.tenant_query()).await;
    let victims_state =
        params(victims_login.redirect().split_once('?').expect("a query").1)["state"].clone();

    let attacker = Browser::new(&scene.app);
    let login = attacker.login(&scene.tenant_query()).await;
    let back = sign_in_at_provider(&attacker, &scene.provider, login.redirect(), "alice").await;
    let mut injected = params(&back);
    injected.insert("state".to_string(), victims_state);
    let injected = form_urlencoded::Serializer::new(String::new()).extend_pairs(&injected).finish();

    let page = victim.callback(&injected).await;
    assert!(matches!(page.status, 400 | 502), "refused: {page:#?}");
    page.assert_refused(page.status);
    assert_eq!(victim.me().await.0, 401);
}
kit_on_both_backends!(a_code_from_another_sign_in_is_refused);

async fn signing_out_ends_the_session_here_and_at_the_provider(app: TestApp) {
    let Some(scene) = Scene::new(app).await else { return };
    let browser = Browser::new(&scene.app);
    let login = browser.login(&scene.tenant_query()).await;
    let back = sign_in_at_provider(&browser, &scene.provider, login.redirect(), "alice").await;
    browser.callback(&back).await.assert_lands_on("/");

    let out = browser.sign_out().await;
    let (endpoint, asked) = out.redirect().split_once('?').expect("a query");
    assert_eq!(endpoint, format!("{}/session/end", scene.provider.issuer), "end_session_endpoint");
    let asked = params(asked);
    assert_eq!(asked["client_id"], scene.client_id);
    assert_eq!(asked["post_logout_redirect_uri"], format!("{PUBLIC_URL}/"));
    assert!(out.cookie(SESSION).is_some_and(|c| c.value.is_empty()), "cookie removed: {out:#?}");
    assert_eq!(browser.me().await.0, 401);

    // The provider asks "sign out?"; yes sends the browser back to the app.
    let confirm = browser.get(out.redirect()).await;
    assert_eq!(confirm.status, 200, "{confirm:#?}");
    let (action, mut fields) = form(&confirm.body);
    fields.push(("logout".to_string(), "yes".to_string()));
    let done = post_form(&browser, &absolute(&scene.provider, &action), &fields).await;
    assert_eq!(done.status, 303, "{done:#?}");
    assert_eq!(done.location, Some(format!("{PUBLIC_URL}/")));
}
kit_on_both_backends!(signing_out_ends_the_session_here_and_at_the_provider);
