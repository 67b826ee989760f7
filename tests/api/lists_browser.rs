//! The admin lists in a real headless Chromium, in Chinese and in
//! English, at 1280 and 390 px: an operator sorts instances by expiry with
//! a click on the header, pages on with the order kept, and the CSV button
//! exports the same order; sorts the usage page's instances by refused
//! records and pages on through its records with that order kept; reads
//! the event log oldest first and pages on to newer events. Screenshots
//! under `target/admin-screenshots/lists-*`.

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::helpers::*;

/// One language's words the story checks.
struct Words {
    tag: &'static str,
    instances: &'static str,
    export: &'static str,
    usage: &'static str,
    events: &'static str,
    oldest_first: &'static str,
    newer: &'static str,
}

const ENGLISH: Words = Words {
    tag: "en",
    instances: "Instances",
    export: "Export CSV",
    usage: "Usage",
    events: "Events",
    oldest_first: "Oldest first",
    newer: "Newer",
};
const CHINESE: Words = Words {
    tag: "zh-CN",
    instances: "实例",
    export: "导出 CSV",
    usage: "用量",
    events: "事件",
    oldest_first: "最早的在前",
    newer: "较新",
};

#[tokio::test]
async fn an_operator_sorts_pages_and_exports_instances_in_both_languages() {
    if !browser_installed() {
        return;
    }
    let driver = start_driver().await;
    for words in [CHINESE, ENGLISH] {
        let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
        load_instances(&app, 130).await;
        load_usage_records(&app, 230).await;
        load_events(&app, 130).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let browser = open_browser(&driver, profile.path()).await;
        let result = story(&app, &browser, &words).await;
        let _ = browser.close().await;
        result.expect("the story");
    }
}

/// The first cell of the list's first row.
async fn first_instance(browser: &Client) -> String {
    text_of(browser, "table.list tbody tr td").await
}

async fn story(
    app: &TestApp,
    browser: &Client,
    words: &Words,
) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{}/language?set={}&next=/admin/login", app.address, words.tag)).await?;
    browser.find(Locator::Css("input[name=username]")).await?.send_keys(ADMIN_USER).await?;
    browser.find(Locator::Css("input[name=password]")).await?.send_keys(ADMIN_PASSWORD).await?;
    click(browser, "button[type=submit]").await;

    click_and_wait(browser, browser.find(Locator::LinkText(words.instances)).await?).await;
    assert!(first_instance(browser).await.starts_with("inst-129"), "newest first");
    assert!(text_of(browser, "nav.pager").await.contains("1 / 2"));
    shoot(browser, &format!("lists-instances-{}", words.tag), true).await;

    // Sorted by expiry with a click on its header: the soonest first.
    click(browser, "th a.sort[href*='sort=expires']").await;
    assert!(first_instance(browser).await.starts_with("inst-129"), "soonest expiry first");
    // The header now sorts the other way; the next page keeps the order.
    click(browser, "th a.sort[href*='sort=expires']").await;
    assert!(first_instance(browser).await.starts_with("inst-000"), "latest expiry first");
    click(browser, "a[rel=next]").await;
    let url = browser.current_url().await?;
    assert!(url.as_str().contains("sort=expires") && url.as_str().contains("page=2"), "{url}");
    assert!(first_instance(browser).await.starts_with("inst-100"), "page 2 in that order");
    shoot(browser, &format!("lists-instances-page-2-{}", words.tag), true).await;

    // The CSV button: the same order, every page (the BOM is checked in
    // admin_lists; a browser's text() drops it).
    let button = browser.find(Locator::LinkText(words.export)).await?;
    let href = button.attr("href").await?.expect("a link");
    assert!(href.contains("sort=expires") && !href.contains("page="), "{href}");
    let csv = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch(arguments[0]).then(r => r.text()).then(done, e => done(String(e)));",
            vec![json!(href)],
        )
        .await?;
    let csv = csv.as_str().unwrap_or_default().to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 131, "{csv}");
    assert!(lines[0].trim_start_matches('\u{feff}').starts_with("instanceId,"), "{}", lines[0]);
    assert!(lines[1].starts_with("inst-000,") && lines[130].starts_with("inst-129,"));

    // Usage: instances with refused records first, with a click; the
    // records' next page keeps that order.
    click_and_wait(browser, browser.find(Locator::LinkText(words.usage)).await?).await;
    click(browser, "#usage-instances th a.sort[href*='instances_sort=refused']").await;
    let second = text_of(browser, "#usage-instances tbody tr:nth-child(2) td").await;
    assert_eq!(second, "inst-005", "one refused record each, then by id");
    shoot(browser, &format!("lists-usage-{}", words.tag), true).await;
    click(browser, "a[rel=next][href*='usage-records']").await;
    let url = browser.current_url().await?;
    assert!(url.as_str().contains("instances_sort=refused") && url.as_str().contains("page=2"));
    assert_eq!(text_of(browser, "#usage-records tbody tr td").await, "r-129");
    shoot(browser, &format!("lists-usage-page-2-{}", words.tag), true).await;

    // Events oldest first, then on to newer ones.
    click_and_wait(browser, browser.find(Locator::LinkText(words.events)).await?).await;
    click_and_wait(browser, browser.find(Locator::LinkText(words.oldest_first)).await?).await;
    assert_eq!(text_of(browser, "table.list tbody tr td").await, "1", "the oldest first");
    let newer = browser.find(Locator::Css("a[rel=next]")).await?;
    assert!(newer.text().await?.contains(words.newer));
    click_and_wait(browser, newer).await;
    assert_eq!(text_of(browser, "table.list tbody tr td").await, "51", "the next fifty");
    shoot(browser, &format!("lists-events-oldest-{}", words.tag), true).await;
    Ok(())
}
