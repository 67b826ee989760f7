//! A real headless Chromium (Debian's `chromium`, driven through
//! `chromedriver` over WebDriver) for the browser stories: start it, take
//! screenshots at 1280 and 390 px under `target/admin-screenshots/`, click
//! and wait for the next page.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::databases::skip_loudly;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The chromedriver this test started; stopped (by its own pid) when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromium and chromedriver, or `None` after a loud skip (a failure in CI).
pub fn browser_installed() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    skip_loudly(
        "the headless Chromium admin test",
        "apt-get install -y chromium chromium-driver; .ci/run installs them",
    );
    false
}

pub async fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{}/status", driver.url)).send().await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {}", driver.url);
}

pub async fn open_browser(driver: &Driver, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

pub fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`: keep the shots beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|target| target.join("admin-screenshots"))
        .unwrap_or_else(|| PathBuf::from("target/admin-screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Saves the page at 1280 px, and also at 390 px when `narrow`.
pub async fn shoot(browser: &Client, name: &str, narrow: bool) {
    let dir = screenshot_dir();
    browser.set_window_size(1280, 900).await.expect("wide");
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}-1280.png")), png).expect("saved");
    if narrow {
        browser.set_window_size(390, 1400).await.expect("narrow");
        let png = browser.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}-390.png")), png).expect("saved");
        // Nothing may need sideways scrolling of the page itself.
        let overflow = browser
            .execute("return document.documentElement.scrollWidth", vec![])
            .await
            .expect("width");
        assert!(overflow.as_i64().unwrap_or(0) <= 400, "{name} overflows at 390 px: {overflow}");
        browser.set_window_size(1280, 900).await.expect("wide");
    }
}

pub async fn text_of(browser: &Client, css: &str) -> String {
    browser.find(Locator::Css(css)).await.expect(css).text().await.expect("text")
}

/// Clicks an element that navigates (a submit button, a link) and waits
/// for the next page to have loaded.
pub async fn click(browser: &Client, css: &str) {
    let element = browser.find(Locator::Css(css)).await.expect(css);
    click_and_wait(browser, element).await;
}

pub async fn click_and_wait(browser: &Client, element: fantoccini::elements::Element) {
    // Marks the current document; the next one does not carry the mark.
    browser
        .execute("document.documentElement.dataset.leaving = '1'", vec![])
        .await
        .expect("mark the page");
    element.click().await.expect("click");
    for _ in 0..100 {
        let loaded = browser
            .execute(
                "return document.readyState === 'complete' \
                 && document.documentElement.dataset.leaving === undefined",
                vec![],
            )
            .await;
        if loaded.ok() == Some(json!(true)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the click did not lead to a new page");
}

/// Clicks `css` without leaving the page (a `<summary>`).
pub async fn toggle(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.expect(css).click().await.expect("click");
}
