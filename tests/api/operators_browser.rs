//! Operator roles and a freeze with its reason, in a real headless
//! Chromium, in Chinese and in English, at 1280 and 390 px: a viewer sees
//! no freeze button, and the POST sent from its page is refused; an
//! operator freezes after a confirmation naming the tenant and how many
//! users it signs out.
//! Screenshots under `target/admin-screenshots/roles-*`.

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::helpers::*;

/// Posts a freeze form to `arguments[0]` from the page, with the page's
/// CSRF token and a reason; the answer's status.
const POST_AS_THE_PAGE: &str = "const done = arguments[arguments.length - 1];\
    const token = document.querySelector('input[name=csrf_token]').value;\
    const body = new URLSearchParams({csrf_token: token, reason: 'x'});\
    fetch(arguments[0], {method: 'POST', body, redirect: 'manual'})\
      .then(r => done(r.status), e => done(String(e)));";

const LANGUAGES: [(&str, &str); 2] = [("zh-CN", "实例已冻结"), ("en", "The instance is frozen")];

/// `koogate operator add` on the app's database; the one-time password.
async fn operator_add(app: &TestApp, name: &str, role: &str) -> String {
    // Awaited, not blocking: the app under test shares this runtime, and a
    // write it has under way must be able to finish while the CLI waits.
    let run = tokio::process::Command::new(KOOGATE)
        .args(["operator", "add", name, "--role", role])
        .env("KOOGATE__DATABASE__URL", &app.database_url)
        .output()
        .await
        .expect("koogate operator add runs");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{out}");
    let at = out.find("one-time password: ").expect("a password") + "one-time password: ".len();
    out[at..].chars().take_while(char::is_ascii_alphanumeric).collect()
}

/// Signs in with the one-time password and chooses a password of one's own.
async fn sign_in_first_time(
    browser: &Client,
    app: &TestApp,
    lang: &str,
    name: &str,
    one_time: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser.goto(&format!("{}/language?set={lang}&next=/admin/login", app.address)).await?;
    browser.find(Locator::Css("input[name=username]")).await?.send_keys(name).await?;
    browser.find(Locator::Css("input[name=password]")).await?.send_keys(one_time).await?;
    click(browser, "button[type=submit]").await;
    assert_eq!(browser.current_url().await?.path(), "/admin/password");
    shoot(browser, &format!("roles-choose-password-{lang}"), true).await;
    for field in ["password", "again"] {
        let input = browser.find(Locator::Css(&format!("input[name={field}]"))).await?;
        input.send_keys("a long password of my own").await?;
    }
    click(browser, "form.confirm button").await;
    assert_eq!(browser.current_url().await?.path(), "/admin");
    Ok(())
}

#[tokio::test]
async fn a_viewer_cannot_freeze_and_an_operator_freezes_with_a_reason() {
    if !browser_installed() {
        return;
    }
    let driver = start_driver().await;
    for (lang, frozen_words) in LANGUAGES {
        let scene = Scene::new(spawn_app(Backend::Sqlite, &admin_settings()).await).await;
        let alice = scene.signed_in("alice").await;
        for (name, role) in [("vera", "viewer"), ("otto", "operator")] {
            let one_time = operator_add(&scene.app, name, role).await;
            let profile = tempfile::tempdir().expect("profile dir");
            let browser = open_browser(&driver, profile.path()).await;
            let result = async {
                sign_in_first_time(&browser, &scene.app, lang, name, &one_time).await?;
                let tenant =
                    format!("{}/admin/tenants/{}", scene.app.address, scene.enterprise.tenant_id);
                browser.goto(&tenant).await?;
                if role == "viewer" {
                    let buttons = browser.find_all(Locator::Css("#instances button")).await?;
                    assert!(buttons.is_empty(), "a viewer sees no freeze button");
                    // Nor does the POST a page of theirs could send work
                    // (with the session's own CSRF token).
                    let freeze =
                        format!("/admin/instances/{}/freeze", scene.enterprise.instance_id);
                    let status =
                        browser.execute_async(POST_AS_THE_PAGE, vec![json!(freeze)]).await?;
                    assert_eq!(status, json!(403), "a viewer's freeze is refused");
                    shoot(&browser, &format!("roles-viewer-tenant-{lang}"), true).await;
                    return Ok(());
                }
                click(&browser, "#instances button.danger").await;
                assert!(text_of(&browser, "#confirm-tenant")
                    .await
                    .contains(&scene.enterprise.tenant_id));
                assert_eq!(text_of(&browser, "#signed-out strong").await, "1");
                browser
                    .find(Locator::Css("textarea[name=reason]"))
                    .await?
                    .send_keys("unpaid invoice 42")
                    .await?;
                shoot(&browser, &format!("roles-freeze-confirm-{lang}"), true).await;
                click(&browser, "form.confirm button.danger").await;
                assert!(text_of(&browser, "p.info").await.contains(frozen_words));
                shoot(&browser, &format!("roles-frozen-{lang}"), true).await;
                Ok::<(), fantoccini::error::CmdError>(())
            }
            .await;
            let _ = browser.close().await;
            result.expect("the story");
        }
        // The viewer's POST is refused (the HTTP story checks it in full);
        // the operator's freeze ended Alice's session.
        alice.assert_signed_out_within_a_second().await;
        let event = scene.app.last_event().await;
        assert!(event.request.contains("unpaid invoice 42") && event.request.contains("otto"));
    }
}
