//! What a person reads: pages in Simplified Chinese or English, the
//! vendor's branding and a reference on refusals, and a sign-in that
//! never dead-ends.

use crate::helpers::*;

const BRANDING: &[(&str, &str)] = &[
    ("ui.default_language", "zh-CN"),
    ("ui.vendor_name", "<b>Acme</b> SaaS"),
    ("ui.support_contact", "help@acme.example"),
    ("ui.logo_url", "javascript:alert(1)"),
];

async fn page(browser: &Browser, app: &TestApp, path: &str, language: Option<&str>) -> Page {
    let mut request =
        browser.client().get(format!("{}{path}", app.address)).header("Accept", "text/html");
    if let Some(language) = language {
        request = request.header("Accept-Language", language);
    }
    Page::read(request.send().await.expect("request sent")).await
}

fn assert_translated(page: &Page) {
    assert!(!page.body.contains("⟦missing"), "an untranslated key: {}", page.body);
}

#[tokio::test]
async fn a_refusal_speaks_the_browsers_language_and_names_the_vendor() {
    let app = spawn_app(Backend::Sqlite, BRANDING).await;
    let browser = Browser::new(&app);
    // A tenant nobody knows: the refusal, in each language.
    let zh = page(&browser, &app, "/sso/login?tenant=nobody", None).await;
    assert_eq!(zh.status, 404);
    assert!(zh.body.contains("<html lang=\"zh-CN\">"), "{}", zh.body);
    assert!(zh.body.contains("未知的组织"), "{}", zh.body);
    assert_translated(&zh);
    let en = page(&browser, &app, "/sso/login?tenant=nobody", Some("en-US,en;q=0.9")).await;
    assert!(en.body.contains("<html lang=\"en\">") && en.body.contains("Unknown organisation"));
    assert_translated(&en);
    for shown in [&zh, &en] {
        // The vendor's name as text, its contact as a link, no script logo.
        assert!(shown.body.contains("&lt;b&gt;Acme&lt;&#x2f;b&gt; SaaS"), "{}", shown.body);
        assert!(!shown.body.contains("<b>Acme"), "markup in the vendor's name is text");
        assert!(shown.body.contains("href=\"mailto:help@acme.example\""), "{}", shown.body);
        assert!(!shown.body.contains("javascript:"), "no script URL as logo");
        // A reference like K7QD-4MZP.
        let reference = shown.body.split("<code>").nth(1).and_then(|r| r.split("</code>").next());
        let reference = reference.expect("a reference");
        assert_eq!(reference.len(), 9, "{reference}");
        assert_eq!(&reference[4..5], "-");
        // And it asks for the organisation's code.
        assert!(shown.body.contains("name=\"org\""), "{}", shown.body);
    }
}

#[tokio::test]
async fn the_language_link_is_remembered() {
    let app = spawn_app(Backend::Sqlite, BRANDING).await;
    let browser = Browser::new(&app);
    let zh = page(&browser, &app, "/sso/login", Some("zh-CN")).await;
    assert!(
        zh.body.contains("href=\"&#x2f;language?set=en&amp;next=%2Fsso%2Flogin\""),
        "{}",
        zh.body
    );
    let switched = browser.get(&format!("{}/language?set=en&next=/sso/login", app.address)).await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.location.as_deref(), Some("/sso/login"));
    // The browser still prefers Chinese; the choice wins.
    let en = page(&browser, &app, "/sso/login", Some("zh-CN")).await;
    assert!(en.body.contains("<html lang=\"en\">"), "{}", en.body);
    assert_translated(&en);
    // Only our paths, only our languages.
    let away =
        browser.get(&format!("{}/language?set=zh-CN&next=//evil.example/", app.address)).await;
    assert_eq!(away.location.as_deref(), Some("/"));
    let bad = browser.get(&format!("{}/language?set=fr", app.address)).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn without_a_tenant_a_person_is_asked_for_the_organisations_code() {
    let settings: Vec<(&str, &str)> = BRANDING.iter().chain(KIT_SETTINGS).copied().collect();
    let app = spawn_app(Backend::Sqlite, &settings).await;
    let scene = Scene::new(app).await;
    let browser = Browser::new(&scene.app);
    for language in ["zh-CN", "en"] {
        let asked = page(&browser, &scene.app, "/sso/login", Some(language)).await;
        assert_eq!(asked.status, 200, "{}", asked.body);
        assert!(asked.body.contains("name=\"org\""), "{}", asked.body);
        assert!(asked.body.contains("console.huaweicloud.com"), "the way back to the console");
        assert!(!asked.body.contains(&scene.enterprise.tenant_id), "no list of customers");
        assert_translated(&asked);
    }
    let unknown = page(&browser, &scene.app, "/sso/login?org=nope", Some("en")).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("No organisation has this code"), "{}", unknown.body);
    // The enterprise's code leads to its auth centre.
    let known = page(&browser, &scene.app, "/sso/login?org=huawei", Some("en")).await;
    assert_eq!(known.status, 302, "{}", known.body);
    assert!(known.location.as_deref().is_some_and(|l| l.starts_with(&scene.centre.base_url)));
}

#[tokio::test]
async fn a_signed_in_person_without_an_app_lands_on_a_page_saying_who_they_are() {
    let settings: Vec<(&str, &str)> = BRANDING.iter().chain(KIT_SETTINGS).copied().collect();
    let app = spawn_app(Backend::Sqlite, &settings).await;
    let scene = Scene::new(app).await;
    let browser = scene.signed_in("alice").await;
    let landed = page(&browser, &scene.app, "/", Some("zh-CN")).await;
    assert_eq!(landed.status, 200, "{}", landed.body);
    assert!(landed.body.contains("Alice Admin") && landed.body.contains("alice"));
    assert!(landed.body.contains("服务商的应用尚未接入"), "{}", landed.body);
    assert_translated(&landed);
    let en = page(&browser, &scene.app, "/", Some("en")).await;
    assert!(en.body.contains("not connected"), "{}", en.body);
    // A program still gets the JSON 404.
    let json = browser.get(&format!("{}/", scene.app.address)).await;
    assert_eq!(json.status, 404);
}
