//! What a person and an operator meet, in a real headless Chromium, in
//! Chinese and in English, at 1280 and 390 px: a sign-in without a tenant
//! asks for the organisation's code and goes on from there; a signed-in
//! person with no app connected lands on a page saying who they are, and
//! signs out at the auth centre too; a
//! refused one reads the vendor, its contact and a reference; the
//! operator's dashboard and the tenant's page. A name with markup synced
//! from the marketplace is text on each. Screenshots under
//! `target/admin-screenshots/end-user-*`.

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::helpers::*;

/// One language's words the story checks.
struct Words {
    tag: &'static str,
    organisation: &'static str,
    signed_in: &'static str,
    not_connected: &'static str,
    no_access: &'static str,
    dashboard: &'static str,
}

const ENGLISH: Words = Words {
    tag: "en",
    organisation: "Sign in",
    signed_in: "You are signed in",
    not_connected: "is not connected",
    no_access: "No access",
    dashboard: "Dashboard",
};

const CHINESE: Words = Words {
    tag: "zh-CN",
    organisation: "登录",
    signed_in: "您已登录",
    not_connected: "服务商的应用尚未接入",
    no_access: "没有访问权限",
    dashboard: "概览",
};

const VENDOR: &str = "<b>Acme</b> SaaS";
const MARKUP: &str = "<img src=x onerror=alert(1)> Mallory";

#[tokio::test]
async fn a_person_signs_in_without_a_tenant_or_is_refused_in_both_languages() {
    if !browser_installed() {
        return;
    }
    let driver = start_driver().await;
    for words in [CHINESE, ENGLISH] {
        // The browser follows the auth centre back to koogate, so koogate
        // announces the address it listens on.
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let public_url = format!("http://127.0.0.1:{port}");
        let mut settings: Vec<(&str, &str)> = admin_settings();
        settings.extend(KIT_SETTINGS.iter().copied());
        settings.extend([
            ("server.bind", bind.as_str()),
            ("server.public_url", public_url.as_str()),
            ("ui.vendor_name", VENDOR),
            ("ui.support_contact", "help@acme.example"),
        ]);
        let scene = Scene::new(spawn_app(Backend::Sqlite, &settings).await).await;
        let tenant = &scene.enterprise.tenant_id;
        scene.centre.add_account(account(tenant, "mallory", MARKUP, "user", "D2"));
        scene.auth_sync(1, 2, json!([person("mallory", MARKUP, "D2", "user", "true")])).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let browser = open_browser(&driver, profile.path()).await;
        let result = story(&scene, &browser, &words).await;
        let _ = browser.close().await;
        result.expect("the story");
    }
}

/// How many elements the page has of a kind markup would have added.
async fn injected(browser: &Client) -> Result<serde_json::Value, fantoccini::error::CmdError> {
    browser.execute("return document.images.length + document.scripts.length", vec![]).await
}

async fn story(
    scene: &Scene,
    browser: &Client,
    words: &Words,
) -> Result<(), fantoccini::error::CmdError> {
    let app = &scene.app;
    let tag = words.tag;
    let goto = |path: String| async move {
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        browser.goto(&format!("{}/language?set={tag}&next={next}", app.address)).await
    };

    // No tenant: the page asks for the organisation's code (and offers the
    // way back to the console), never a list of customers.
    goto("/sso/login".to_string()).await?;
    assert_eq!(text_of(browser, "h1").await, words.organisation);
    let page = text_of(browser, "main").await;
    assert!(!page.contains(&scene.enterprise.tenant_id), "no list of customers: {page}");
    let console = browser.find(Locator::Css("a[href*='console.huaweicloud.com']")).await;
    assert!(console.is_ok(), "the way back to the console");
    shoot(browser, &format!("end-user-organisation-{tag}"), true).await;

    // The code leads through the auth centre back to koogate: with no app
    // connected, a page saying who the person is, the name as text.
    scene.centre.signs_in("mallory");
    browser.find(Locator::Css("input[name=org]")).await?.send_keys("huawei").await?;
    click(browser, "form.organisation button").await;
    assert_eq!(browser.current_url().await?.path(), "/");
    assert_eq!(text_of(browser, "h1").await, words.signed_in);
    let landed = text_of(browser, "main").await;
    assert!(landed.contains(MARKUP) && landed.contains("mallory"), "{landed}");
    assert!(landed.contains(words.not_connected), "{landed}");
    assert_eq!(injected(browser).await?, json!(0), "markup in a name is text");
    shoot(browser, &format!("end-user-landing-{tag}"), true).await;
    // Signing out goes on to the auth centre's logout too.
    click(browser, "form[action='/sso/logout'] button").await;
    assert_eq!(scene.centre.calls().logout, 1, "the auth centre's logout was visited");

    // Carol's account was never given the app: the refusal names the
    // vendor (as text), its contact, and a reference to quote.
    browser.delete_all_cookies().await?;
    scene.centre.signs_in("carol");
    goto(format!("/sso/login?{}", scene.tenant_query())).await?;
    assert_eq!(text_of(browser, "h1").await, words.no_access);
    assert_eq!(text_of(browser, ".brandbar .vendor").await, VENDOR);
    let help = browser.find(Locator::Css("footer.help a")).await?;
    assert_eq!(help.attr("href").await?.as_deref(), Some("mailto:help@acme.example"));
    let reference = text_of(browser, "p.reference code").await;
    assert!(reference.len() == 9 && reference.as_bytes()[4] == b'-', "{reference}");
    assert_eq!(injected(browser).await?, json!(0), "markup in the vendor's name is text");
    shoot(browser, &format!("end-user-refused-{tag}"), true).await;

    // The operator, in the same language: the dashboard, then the tenant
    // with Mallory among its users (as text).
    goto("/admin/login".to_string()).await?;
    browser.find(Locator::Css("input[name=username]")).await?.send_keys(ADMIN_USER).await?;
    browser.find(Locator::Css("input[name=password]")).await?.send_keys(ADMIN_PASSWORD).await?;
    click(browser, "button[type=submit]").await;
    assert_eq!(browser.current_url().await?.path(), "/admin");
    assert_eq!(text_of(browser, "h1").await, words.dashboard);
    assert!(browser.find(Locator::Css("svg")).await.is_ok(), "the calls chart");
    shoot(browser, &format!("end-user-dashboard-{tag}"), true).await;
    browser.goto(&format!("{}/admin/tenants/{}", app.address, scene.enterprise.tenant_id)).await?;
    let users = text_of(browser, "#users").await;
    assert!(users.contains(MARKUP), "{users}");
    assert_eq!(injected(browser).await?, json!(0), "markup in a user's name is text");
    shoot(browser, &format!("end-user-tenant-{tag}"), true).await;
    Ok(())
}
