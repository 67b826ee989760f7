//! `koogate sim`, run as the real binary against a running koogate: the
//! README's "try it locally" path, from purchase to a signed-in browser.

use std::process::Stdio;

use std::time::Duration;
use tokio::process::Command;

use crate::helpers::*;

/// `koogate sim story …` against `app`; its printed lines.
async fn story(app: &TestApp, extra: &[&str]) -> (bool, String) {
    let output = Command::new(KOOGATE)
        .args(["sim", "story", "--url"])
        .arg(format!("{}{}", app.address, app.marketplace_path))
        .args(["--isv-public-key", ISV_PUBLIC_KEY_FILE])
        .args(extra)
        .env("KOOGATE_SIM_ACCESS_KEY", ACCESS_KEY)
        .env("KOOGATE_SIM_KIT_ACCESS_KEY", KIT_KEY)
        .output()
        .await
        .expect("koogate sim story runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The whole story, V2 and then V1: every step answered 000000 with a
/// Body-Sign that verifies, and koogate ends with the instance released.
async fn the_story_plays_a_tenants_whole_life(app: TestApp) {
    for version in ["v2", "v1"] {
        let (ok, printed) = story(&app, &["--version", version]).await;
        assert!(ok, "the {version} story failed:\n{printed}");
        for step in ["purchase", "bind tenant", "app credentials", "departments", "grant users"] {
            assert!(printed.contains(step), "{step} missing from:\n{printed}");
        }
        let steps = printed.lines().filter(|l| l.contains("code 000000 (Body-Sign ok)")).count();
        assert_eq!(steps, 8, "eight answered steps:\n{printed}");
        let instance_id = word_after(&printed, "instance ");
        assert_eq!(app.instance(&instance_id).await["status"], "released");
    }
}
kit_on_both_backends!(the_story_plays_a_tenants_whole_life);

/// The local path a developer clicks through: a story that stops once the
/// tenant is set up, the simulated auth centre as the tenant's domain,
/// and a browser that signs in on its form.
async fn a_developer_signs_in_through_the_simulated_auth_centre(app: TestApp) {
    let port = free_port();
    let domain = format!("http://127.0.0.1:{port}");
    let (ok, printed) = story(&app, &["--domain", &domain, "--keep", "--user", "carol"]).await;
    assert!(ok, "the story failed:\n{printed}");
    assert!(!printed.contains("freeze"), "--keep stops before the freeze:\n{printed}");
    let tenant_id = word_after(&printed, "tenant ");

    // Killed when the test ends, however it ends.
    let _centre = Command::new(KOOGATE)
        .args(["sim", "auth-centre", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--tenant", &tenant_id])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the auth centre starts");
    wait_for(&format!("{domain}/api/v1/logout")).await;

    let browser = Browser::new(&app);
    let login = browser.login(&format!("tenant={tenant_id}")).await;
    let form = browser.get(login.redirect()).await;
    assert_eq!(form.status, 200, "the sign-in form: {}", form.body);
    let mut fields = hidden_fields(&form.body);
    fields.push(("login_user".into(), "carol".into()));
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
    let back = browser
        .client()
        .post(login.redirect())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the form posts");
    let back = Page::read(back).await;
    let (_, query) = back.redirect().split_once('?').expect("back to koogate with a code");
    browser.callback(query).await.assert_lands_on("/");
    let (status, me) = browser.me().await;
    assert_eq!(
        (status, me["userName"].as_str(), me["tenantId"].as_str()),
        (200, Some("carol"), Some(tenant_id.as_str()))
    );
}
kit_on_both_backends!(a_developer_signs_in_through_the_simulated_auth_centre);

/// `koogate sim auth-centre --dialect …` speaks OIDC, OrgID and CAS: a
/// tenant set to each signs its person in through the running binary.
async fn the_simulated_auth_centre_speaks_every_dialect(app: TestApp) {
    let dialects = [("oidc", "/sso/callback"), ("orgid", "/sso/callback"), ("cas", "/sso/cas")];
    for (dialect, landing) in dialects {
        let port = free_port();
        let domain = format!("http://127.0.0.1:{port}");
        let (ok, printed) = story(&app, &["--domain", &domain, "--keep", "--user", "carol"]).await;
        assert!(ok, "the story failed:\n{printed}");
        let tenant_id = word_after(&printed, "tenant ");
        app.set_sign_in(&tenant_id, dialect, Some(&domain)).await;
        let _centre = Command::new(KOOGATE)
            .args(["sim", "auth-centre", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--tenant", &tenant_id, "--auto-user", "carol", "--dialect", dialect])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the auth centre starts");
        wait_for(&domain).await;

        let browser = Browser::new(&app);
        let login = browser.login(&format!("tenant={tenant_id}")).await;
        let query = browser.back_from(login.redirect(), landing).await;
        browser.open(&format!("{landing}?{query}")).await.assert_lands_on("/");
        let (status, me) = browser.me().await;
        assert_eq!(
            (status, me["userName"].as_str(), me["tenantId"].as_str()),
            (200, Some("carol"), Some(tenant_id.as_str())),
            "{dialect}"
        );
    }
}
kit_on_both_backends!(the_simulated_auth_centre_speaks_every_dialect);

/// One call, as `koogate sim send` makes it: the answer and its Body-Sign.
#[tokio::test]
async fn send_prints_the_answer_and_checks_its_signature() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let body = new_instance_body("SIMSEND1", "biz-1");
    let run = |key: &'static str| {
        Command::new(KOOGATE)
            .args(["sim", "send", "--url"])
            .arg(format!("{}{}", app.address, app.marketplace_path))
            .arg(&body)
            .env("KOOGATE_SIM_ACCESS_KEY", key)
            .kill_on_drop(true)
            .output()
    };
    let output = run(ACCESS_KEY).await.expect("koogate sim send runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("HTTP 200  Body-Sign verified"), "{printed}");
    assert!(printed.contains("\"resultCode\": \"000000\""), "{printed}");
    // The wrong key: koogate refuses, and signs its refusal with its own key.
    let output = run("not-the-key").await.expect("koogate sim send runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("\"resultCode\": \"000001\""), "{printed}");
    assert!(printed.contains("Body-Sign WRONG"), "{printed}");
}

fn word_after(text: &str, label: &str) -> String {
    text.lines()
        .rev()
        .find_map(|line| line.split(label).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        .to_string()
}

async fn wait_for(url: &str) {
    for _ in 0..100 {
        if reqwest::get(url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered");
}

/// `(name, value)` of every `<input type="hidden">` on a page.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').expect("a name");
            let value = rest
                .split_once("value=\"")
                .and_then(|(_, v)| v.split_once('"'))
                .map_or("", |(v, _)| v);
            (unescape(name), unescape(value))
        })
        .collect()
}
