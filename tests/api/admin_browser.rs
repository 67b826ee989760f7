//! The admin site in a real headless Chromium (Debian's `chromium`, driven
//! through `chromedriver` over WebDriver): an operator signs in, opens a
//! tenant, sees its department tree and users, replays a call and freezes
//! an instance. Screenshots at 1280 and 390 px wide are kept under
//! `target/admin-screenshots/`.

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn an_operator_works_the_admin_site_in_a_real_browser() {
    if !browser_installed() {
        return;
    }
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    let markup = "<script>alert(1)</script> Acme";
    let enterprise = populated_enterprise(&app, markup).await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = open_browser(&driver, profile.path()).await;
    let result = story(&app, &browser, &enterprise, markup).await;
    let _ = browser.close().await;
    result.expect("the story");
}

async fn story(
    app: &TestApp,
    browser: &Client,
    enterprise: &Enterprise,
    markup: &str,
) -> Result<(), fantoccini::error::CmdError> {
    // Sign in; a page asked for first is where the browser ends up.
    browser.goto(&format!("{}/admin/tenants", app.address)).await?;
    assert!(browser.current_url().await?.path().starts_with("/admin/login"));
    shoot(browser, "01-sign-in", true).await;
    browser.find(Locator::Css("input[name=username]")).await?.send_keys(ADMIN_USER).await?;
    browser.find(Locator::Css("input[name=password]")).await?.send_keys("wrong").await?;
    click(browser, "button[type=submit]").await;
    assert_eq!(text_of(browser, "p.error").await, "The user name or password is not right.");
    browser.find(Locator::Css("input[name=password]")).await?.send_keys(ADMIN_PASSWORD).await?;
    click(browser, "button[type=submit]").await;
    assert_eq!(browser.current_url().await?.path(), "/admin/tenants");
    shoot(browser, "02-tenants", true).await;

    // Open the tenant: its name is text, not markup.
    click_and_wait(browser, browser.find(Locator::LinkText(markup)).await?).await;
    assert_eq!(text_of(browser, "h1").await.split(" active").next(), Some(markup));
    let scripts = browser.execute("return document.scripts.length", vec![]).await?;
    assert_eq!(scripts, json!(0), "no script on the page, none injected");
    // The department tree, collapsible without script.
    let tree = text_of(browser, "#departments").await;
    for name in ["Head office", markup, "Platform team"] {
        assert!(tree.contains(name), "{name} in the tree: {tree}");
    }
    toggle(browser, "#departments details summary").await;
    let open = browser
        .execute("return document.querySelector('#departments details').open", vec![])
        .await?;
    assert_eq!(open, json!(false), "a click folds the department");
    toggle(browser, "#departments details summary").await;
    let users = text_of(browser, "#users").await;
    assert!(users.contains("Alice Admin") && users.contains("alice"), "{users}");
    assert!(users.contains(APP_ID), "grants show: {users}");
    shoot(browser, "03-tenant", true).await;

    // Replay the purchase from its event page.
    let purchase = app
        .events()
        .await
        .into_iter()
        .find(|e| e.activity == "newInstance")
        .expect("the purchase event");
    browser.goto(&format!("{}/admin/events/{}", app.address, purchase.id)).await?;
    shoot(browser, "04-event", true).await;
    click(browser, "form.action button").await;
    assert!(text_of(browser, "p.info").await.starts_with("Replayed"));
    let replay = app.last_event().await;
    assert_eq!(replay.replay_of, Some(purchase.id));
    assert_eq!(browser.current_url().await?.path(), format!("/admin/events/{}", replay.id));
    shoot(browser, "05-replayed", false).await;

    // Freeze the instance from the tenant page.
    browser.goto(&format!("{}/admin/tenants/{}", app.address, enterprise.tenant_id)).await?;
    click(browser, "button.danger").await;
    // A confirmation naming the tenant asks why.
    assert!(text_of(browser, "#confirm-tenant").await.contains(&enterprise.tenant_id));
    browser.find(Locator::Css("textarea[name=reason]")).await?.send_keys("unpaid invoice").await?;
    click(browser, "form.confirm button.danger").await;
    assert!(text_of(browser, "p.info").await.contains("The instance is frozen"));
    assert_eq!(app.instance(&enterprise.instance_id).await["status"], "frozen");
    shoot(browser, "06-frozen", true).await;

    browser.goto(&format!("{}/admin", app.address)).await?;
    shoot(browser, "07-dashboard", true).await;
    browser.goto(&format!("{}/admin/events", app.address)).await?;
    shoot(browser, "08-events", true).await;

    // Sign out.
    click(browser, "form.signout button").await;
    assert!(text_of(browser, "p.info").await.contains("You are signed out."));
    Ok(())
}
