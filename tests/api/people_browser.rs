//! Sign-ins and sessions in a real headless Chromium, in Chinese and in
//! English, at 1280 and 390 px: an operator finds a refused sign-in by the
//! reference the person quotes, and ends a user's session (their next
//! request is refused within a second). Screenshots under
//! `target/admin-screenshots/people-*`.

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::helpers::*;

/// One language's words the story checks.
struct Words {
    tag: &'static str,
    sign_ins: &'static str,
    sessions: &'static str,
    not_granted: &'static str,
    ended: &'static str,
}

const ENGLISH: Words = Words {
    tag: "en",
    sign_ins: "Sign-ins",
    sessions: "Sessions",
    not_granted: "No access",
    ended: "The session is ended",
};

const CHINESE: Words = Words {
    tag: "zh-CN",
    sign_ins: "登录记录",
    sessions: "会话",
    not_granted: "没有访问权限",
    ended: "会话已结束",
};

#[tokio::test]
async fn an_operator_reads_sign_ins_and_ends_a_session_in_both_languages() {
    if !browser_installed() {
        return;
    }
    let driver = start_driver().await;
    for words in [CHINESE, ENGLISH] {
        let scene = Scene::new(spawn_app(Backend::Sqlite, &admin_settings()).await).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let browser = open_browser(&driver, profile.path()).await;
        let result = story(&scene, &browser, &words).await;
        let _ = browser.close().await;
        result.expect("the story");
    }
}

async fn story(
    scene: &Scene,
    browser: &Client,
    words: &Words,
) -> Result<(), fantoccini::error::CmdError> {
    let app = &scene.app;
    let tenant = &scene.enterprise.tenant_id;
    // A user whose name, synced from the marketplace, carries markup.
    let markup = "<img src=x onerror=alert(1)> Mallory";
    scene.centre.add_account(account(tenant, "mallory", markup, "user", "D2"));
    scene.auth_sync(1, 2, json!([person("mallory", markup, "D2", "user", "true")])).await;
    let mallory = scene.sign_in("mallory").await.0;
    assert_eq!(mallory.me().await.0, 200);
    let alice = scene.signed_in("alice").await;
    let (_, carol) = scene.sign_in("carol").await;
    carol.assert_refused(403);
    let reference = carol.reference();

    // The operator signs in, in this language.
    browser.goto(&format!("{}/language?set={}&next=/admin/login", app.address, words.tag)).await?;
    browser.find(Locator::Css("input[name=username]")).await?.send_keys(ADMIN_USER).await?;
    browser.find(Locator::Css("input[name=password]")).await?.send_keys(ADMIN_PASSWORD).await?;
    click(browser, "button[type=submit]").await;

    // Sign-ins: Carol's refusal found by the reference she reads out.
    click_and_wait(browser, browser.find(Locator::LinkText(words.sign_ins)).await?).await;
    assert_eq!(text_of(browser, "h1").await, words.sign_ins);
    let all = text_of(browser, "#sign-ins").await;
    assert!(all.contains("alice") && all.contains("carol"), "{all}");
    shoot(browser, &format!("people-sign-ins-{}", words.tag), true).await;
    browser.find(Locator::Css("input[name=reference]")).await?.send_keys(&reference).await?;
    click(browser, "form.filters button").await;
    let found = text_of(browser, "#sign-ins tbody").await;
    assert!(found.contains("carol") && found.contains(&reference), "{found}");
    assert!(found.contains(words.not_granted), "the refusal in words: {found}");
    assert!(!found.contains("alice"), "only Carol's attempt: {found}");
    shoot(browser, &format!("people-sign-in-found-{}", words.tag), true).await;

    // Sessions: names are text; ending Alice's ends it within a second.
    click_and_wait(browser, browser.find(Locator::LinkText(words.sessions)).await?).await;
    let listed = text_of(browser, "#sessions").await;
    assert!(listed.contains(markup) && listed.contains("alice"), "{listed}");
    let images = browser.execute("return document.images.length", vec![]).await?;
    assert_eq!(images, json!(0), "markup in a name is shown as text");
    shoot(browser, &format!("people-sessions-{}", words.tag), true).await;
    let rows = browser.find_all(Locator::Css("#sessions tbody tr")).await?;
    let mut alice_row = None;
    for row in rows {
        if row.find(Locator::Css("td:nth-child(2)")).await?.text().await? == "alice" {
            alice_row = Some(row);
        }
    }
    let end = alice_row.expect("alice's row").find(Locator::Css("button.end-session")).await?;
    click_and_wait(browser, end).await;
    alice.assert_signed_out_within_a_second().await;
    assert_eq!(mallory.me().await.0, 200, "only that session ended");
    assert!(text_of(browser, "p.info").await.contains(words.ended));
    assert!(!text_of(browser, "#sessions").await.contains("alice"));
    shoot(browser, &format!("people-session-ended-{}", words.tag), true).await;
    Ok(())
}
