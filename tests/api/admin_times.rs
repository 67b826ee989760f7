//! An operator in Shanghai reads the admin site's times in their own zone
//! (`ui.time_zone`, offset shown), while the API an integration reads
//! stays in UTC.

use chrono::{DateTime, FixedOffset};

use crate::helpers::*;

/// The newest event's time as `/admin/api/events` gives it (RFC 3339 UTC).
async fn newest_event_time(app: &TestApp) -> DateTime<FixedOffset> {
    let (_, events) = app.admin_get("/admin/api/events?limit=1").await;
    let at = events[0]["receivedAt"].as_str().expect("receivedAt").to_string();
    assert!(at.ends_with('Z'), "the API stays UTC: {at}");
    DateTime::parse_from_rfc3339(&at).expect("RFC 3339")
}

#[tokio::test]
async fn the_event_list_shows_times_in_the_operators_zone() {
    let app =
        spawn_app(Backend::Sqlite, &admin_settings_with(&[("ui.time_zone", "Asia/Shanghai")]))
            .await;
    app.buy().await;
    let at = newest_event_time(&app).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let page = operator.page("/admin/events").await;
    let shanghai = FixedOffset::east_opt(8 * 3600).expect("an offset");
    let shown = at.with_timezone(&shanghai).format("%Y-%m-%d %H:%M:%S +08:00").to_string();
    assert!(page.body.contains(&shown), "{shown} not on the page:\n{}", page.body);
    assert!(!page.body.contains(" UTC<"), "no time left in UTC:\n{}", page.body);
}

#[tokio::test]
async fn an_operator_in_utc_sets_utc() {
    let app = spawn_app(Backend::Sqlite, &admin_settings_with(&[("ui.time_zone", "UTC")])).await;
    app.buy().await;
    let at = newest_event_time(&app).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let page = operator.page("/admin/events").await;
    let shown = at.format("%Y-%m-%d %H:%M:%S +00:00").to_string();
    assert!(page.body.contains(&shown), "{shown} not on the page:\n{}", page.body);
}

#[test]
fn a_zone_that_is_not_one_stops_koogate_with_the_setting_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = std::process::Command::new(KOOGATE)
        .current_dir(dir.path())
        .env("KOOGATE__UI__TIME_ZONE", "Beijing Time")
        .env("KOOGATE__SERVER__BIND", "127.0.0.1:0")
        .args(["serve"])
        .output()
        .expect("koogate runs");
    assert!(!run.status.success());
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("ui.time_zone"), "{said}");
}

/// The newer lists show their times in the zone too: sign-ins, sessions,
/// usage records and drift findings.
#[tokio::test]
async fn the_people_usage_and_drift_pages_show_times_in_the_operators_zone() {
    let app =
        spawn_app(Backend::Sqlite, &admin_settings_with(&[("ui.time_zone", "Asia/Shanghai")]))
            .await;
    load_sign_ins(&app, 3).await;
    load_sessions(&app, 3).await;
    load_usage_records(&app, 3).await;
    load_drift_findings(&app, 3).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    for path in ["/admin/sign-ins", "/admin/sessions", "/admin/usage", "/admin/drift"] {
        let page = operator.page(path).await;
        let body = &page.body[page.body.find("<table").expect("a list")..];
        assert!(body.contains(" +08:00<"), "{path}: no time in the zone:\n{body}");
        for utc in [" UTC<", "Z<", "Z –"] {
            assert!(!body.contains(utc), "{path}: a time left in UTC ({utc}):\n{body}");
        }
    }
}
