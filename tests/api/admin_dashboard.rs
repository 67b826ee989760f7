//! The dashboard answers an operator's first questions at a glance: how
//! the marketplace's calls went hour by hour this week, which paying
//! instances run out within 30 days, and whether webhooks are flowing.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::helpers::*;

async fn a_week_of_calls_what_expires_soon_and_the_outbox(app: TestApp) {
    let (_, soon) = app.buy().await;
    let soon = soon.json["instanceId"].as_str().expect("instanceId").to_string();
    let (_, later) = app.buy().await;
    let later = later.json["instanceId"].as_str().expect("instanceId").to_string();
    let renew = |id: &str, order: &str, expire: String| {
        json!({"activity": "refreshInstance", "instanceId": id, "orderId": order,
               "orderLineId": format!("{order}-000001"), "scene": "RENEWAL", "expireTime": expire})
        .to_string()
    };
    let in_ten_days = (Utc::now() + Duration::days(10)).format("%Y%m%d%H%M%S").to_string();
    let in_ninety_days = (Utc::now() + Duration::days(90)).format("%Y%m%d%H%M%S").to_string();
    assert_eq!(app.v2(&renew(&soon, &random_id("CS"), in_ten_days.clone())).await.code(), "000000");
    assert_eq!(app.v2(&renew(&later, &random_id("CS"), in_ninety_days)).await.code(), "000000");
    assert_eq!(app.v2(r#"{"activity":"newInstance"}"#).await.code(), "000002");

    let (status, dashboard) = app.admin_get("/admin/api/dashboard").await;
    assert_eq!(status, 200, "{dashboard}");
    let chart = &dashboard["chart"];
    let hours = chart["hours"].as_array().expect("hours");
    assert_eq!(hours.len(), 7 * 24);
    let this_hour = Utc::now().format("%Y-%m-%d %H:00:00 UTC").to_string();
    let last = &hours[hours.len() - 1];
    assert_eq!(last["at"], this_hour.as_str());
    assert_eq!(last["ok"], 4, "two purchases and two renewals: {last}");
    assert_eq!(last["failed"], 1, "the incomplete purchase: {last}");
    assert_eq!(chart["totalOk"], 4);
    assert_eq!(chart["totalFailed"], 1);

    let expiring: Vec<&str> = dashboard["expiring"]
        .as_array()
        .expect("expiring")
        .iter()
        .filter_map(|i| i["instanceId"].as_str())
        .collect();
    assert_eq!(expiring, vec![soon.as_str()], "only the one expiring within 30 days");
    assert_eq!(dashboard["outbox"]["dead"], 0);

    let operator = Operator::new(&app);
    operator.sign_in().await;
    let page = operator.page("/admin").await;
    assert!(page.body.contains("<svg"), "the chart is drawn on the server");
    assert_eq!(page.body.matches(r#"<rect class="bar-failed""#).count(), 1, "{}", page.body);
    assert_eq!(page.body.matches(r#"<rect class="bar-ok""#).count(), 1);
    assert!(page.body.contains(&soon) && !page.body.contains(&later));
    assert!(page.body.contains(&in_ten_days));
}
on_both_backends!(
    a_week_of_calls_what_expires_soon_and_the_outbox,
    &crate::helpers::admin_settings()
);

#[tokio::test]
async fn the_dashboard_speaks_the_operators_language() {
    let app = spawn_app(Backend::Sqlite, &admin_settings()).await;
    app.buy().await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    operator.open("/language?set=zh-CN&next=/admin").await;
    let page = operator.page("/admin").await;
    for words in ["最近 7 天每小时调用数", "30 天内到期", "Webhook 发件箱"] {
        assert!(page.body.contains(words), "{words} not on:\n{}", page.body);
    }
    operator.open("/language?set=en&next=/admin").await;
    let page = operator.page("/admin").await;
    for words in ["Calls per hour, last 7 days", "Expiring within 30 days", "Webhook outbox"] {
        assert!(page.body.contains(words), "{words} not on:\n{}", page.body);
    }
}
