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
    // A confirmation naming the tenant (its name as text) asks why.
    let named = text_of(browser, "#confirm-tenant").await;
    assert!(named.contains(&enterprise.tenant_id) && named.contains(markup), "{named}");
    let scripts = browser.execute("return document.scripts.length", vec![]).await?;
    assert_eq!(scripts, json!(0), "no script injected by the tenant's name");
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

#[tokio::test]
async fn an_operator_applies_the_marketplaces_version_from_the_drift_page() {
    if !browser_installed() {
        return;
    }
    let port = free_port();
    let sim_url = start_open_api_sim(port, OPEN_API_SK, 0);
    let mut settings = open_api_settings(port);
    settings.push(("open_api.reconcile_interval_secs".to_string(), "0".to_string()));
    settings.push(("admin.password_hash".to_string(), admin_password_hash().to_string()));
    let app = spawn_with(Backend::Sqlite, &settings).await.expect("sqlite");
    let order_id = random_id("CS");
    tell_sim_order(&sim_url, &planted_order(&order_id, "NEW", PLANTED_SKU, 10, 1)).await;
    let instance_id = buy_order(&app, &order_id).await;
    wait_for_source(&app, &instance_id, "order_query", std::time::Duration::from_secs(20)).await;
    tell_sim_order(&sim_url, &planted_order(&order_id, "CHANGE", "sku-other", 10, 1)).await;
    reconcile_once(&app, &sim_url).await;
    let finding = drift_of(&app).await.first().cloned().expect("a finding");

    // A form without the session's token is refused and changes nothing.
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let path = format!("/admin/drift/{}/apply", finding["id"]);
    let forged = operator.post_form(&path, &[("csrf_token", "forged")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(drift_of(&app).await.len(), 1);

    let driver = start_driver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = open_browser(&driver, profile.path()).await;
    let result = drift_story(&app, &browser, &instance_id).await;
    let _ = browser.close().await;
    result.expect("the story");
    assert_eq!(app_instance(&app, &instance_id).await.1["entitlement"]["skuCode"], "sku-other");
    let event = app.last_event().await;
    assert_eq!((event.channel.as_str(), event.activity.as_str()), ("operator", "apply_drift"));
    assert!(event.request.contains(&format!("\"operator\":\"{ADMIN_USER}\"")), "{}", event.request);
    assert!(drift_of(&app).await.is_empty());
}

async fn drift_story(
    app: &TestApp,
    browser: &Client,
    instance_id: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{}/admin/login", app.address)).await?;
    browser.find(Locator::Css("input[name=username]")).await?.send_keys(ADMIN_USER).await?;
    browser.find(Locator::Css("input[name=password]")).await?.send_keys(ADMIN_PASSWORD).await?;
    click(browser, "button[type=submit]").await;
    // From the navigation to the drift page.
    click_and_wait(browser, browser.find(Locator::LinkText("Drift")).await?).await;
    assert_eq!(browser.current_url().await?.path(), "/admin/drift");
    let table = text_of(browser, "#drift").await;
    assert!(table.contains("Different SKU") && table.contains(instance_id), "{table}");
    assert!(table.contains("sku-other") && table.contains(PLANTED_SKU), "{table}");
    shoot(browser, "20-drift", true).await;
    // The button asks for confirmation first, saying what will change.
    click(browser, "#drift tbody a").await;
    let confirmation = text_of(browser, "main").await;
    assert!(
        confirmation.contains("The marketplace's order line replaces koogate's"),
        "{confirmation}"
    );
    assert!(confirmation.contains(PLANTED_SKU), "the plan as it is now: {confirmation}");
    shoot(browser, "21-drift-confirm", true).await;
    click(browser, "#apply").await;
    assert_eq!(browser.current_url().await?.path(), "/admin/drift");
    assert!(text_of(browser, "p.info").await.contains("The marketplace's version was applied"));
    assert!(text_of(browser, "#drift").await.contains("No drift found."));
    shoot(browser, "22-drift-applied", false).await;
    // The same page in Chinese.
    browser.goto(&format!("{}/language?set=zh-CN&next=%2Fadmin%2Fdrift", app.address)).await?;
    assert!(text_of(browser, "#drift").await.contains("没有发现差异"));
    shoot(browser, "23-drift-zh", true).await;
    Ok(())
}
