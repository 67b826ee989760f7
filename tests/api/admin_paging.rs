//! The admin lists as an operator pages on through them: the usage page's
//! two tables paged and sorted (each keeping the other's place), the
//! event log and the sign-ins newest or oldest first with the cursor
//! going on either way (and the CSV in the page's order), and the
//! sessions list going on past the ten thousand it sorts over at once.

use crate::helpers::*;

/// The part of `body` from `start` up to `end` (or its end).
fn section<'a>(body: &'a str, start: &str, end: Option<&str>) -> &'a str {
    let from = at(body, start);
    let to = end.map_or(body.len(), |end| from + at(&body[from..], end));
    &body[from..to]
}

/// The usage page's per-instance table.
fn instances(body: &str) -> &str {
    section(body, "id=\"usage-instances\"", Some("id=\"usage-records\""))
}

/// The usage page's records.
fn records(body: &str) -> &str {
    section(body, "id=\"usage-records\"", None)
}

async fn usage_lists_are_paged_and_sorted(app: TestApp) {
    // 230 records on 115 instances (two each): 23 refused, 23 pushed.
    load_usage_records(&app, 230).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let first = operator.page("/admin/usage").await;
    let newest = records(&first.body);
    assert!(newest.contains("r-229") && newest.contains("r-130"), "the newest 100: {newest}");
    assert!(!newest.contains("r-129"), "{newest}");
    assert!(first.body.contains(&href("/admin/usage?page=2#usage-records")), "{}", first.body);
    let by_id = instances(&first.body);
    assert!(by_id.contains("inst-000") && by_id.contains("inst-099"), "{by_id}");
    assert!(!by_id.contains("inst-100"), "a hundred instances a page: {by_id}");
    assert!(first.body.contains(&href("/admin/usage?instances_page=2#usage-instances")));
    let third = operator.page("/admin/usage?page=3").await;
    let oldest = records(&third.body);
    assert!(oldest.contains("r-029") && oldest.contains("r-000") && !oldest.contains("r-030"));

    let by_period = operator.page("/admin/usage?sort=period&dir=asc").await;
    let by_period = records(&by_period.body);
    assert!(at(by_period, "r-000") < at(by_period, "r-001"), "earliest usage first");
    assert!(!by_period.contains("r-100"), "{by_period}");

    // Instances by refused records, most first; the records keep their page.
    let page = operator.page("/admin/usage?page=2&instances_sort=refused").await;
    let by_refused = instances(&page.body);
    assert!(at(by_refused, "inst-005") < at(by_refused, "inst-001"), "{by_refused}");
    assert!(by_refused.contains("aria-sort=\"descending\""), "the sorted column says so");
    assert!(
        page.body.contains(&href(
            "/admin/usage?page=2&instances_sort=refused&instances_dir=asc#usage-instances"
        )),
        "the header flips the order and keeps the records' page: {}",
        page.body
    );
    assert!(
        page.body.contains(&href("/admin/usage?instances_sort=refused&page=3#usage-records")),
        "the records' next page keeps the instances' order: {}",
        page.body
    );
    let refused = operator.page("/admin/usage?state=refused").await;
    let refused = records(&refused.body);
    assert!(refused.contains("r-220") && !refused.contains("r-221"), "the filter holds");

    for bad in ["sort=value", "instances_sort=password", "dir=sideways", "instances_dir=up"] {
        let page = operator.open(&format!("/admin/usage?{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
    assert_eq!(operator.open("/admin/usage?page=two").await.status, 400);
    let far = operator.page("/admin/usage?page=18446744073709551615&instances_page=0").await;
    assert!(!records(&far.body).contains("r-0"), "a page far past the last is empty");
    assert!(instances(&far.body).contains("inst-000"), "page 0 reads as 1");
    // The greatest page number a query can carry is one more empty page
    // on every paged list (the database takes offsets up to i64::MAX).
    for list in ["/admin/instances", "/admin/tenants", "/admin/drift", "/admin/sessions"] {
        let page = operator.open(&format!("{list}?page=18446744073709551615")).await;
        assert_eq!(page.status, 200, "{list}: {}", page.body);
    }

    // The API: the same pages, and the fields it always had.
    let (status, body) = app.admin_get("/admin/api/usage?page=3&instances_sort=pending").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["pending"].as_u64(), body["refused"].as_u64()), (Some(184), Some(23)));
    assert_eq!(body["records"].as_array().map(Vec::len), Some(30), "{body}");
    assert_eq!(body["recordsTotal"], 230);
    assert_eq!(body["recordsPager"]["pages"], 3);
    assert_eq!(body["instancesTotal"], 115);
    assert_eq!(body["instances"][0]["instanceId"], "inst-002", "two pending, the first id");
    assert_eq!(body["instances"][0]["pending"], 2);
    assert_eq!((body["instance"].as_str(), body["state"].as_str()), (Some(""), Some("")));
    let (status, _) = app.admin_get("/admin/api/usage?sort=value").await;
    assert_eq!(status, 400);
}

on_both_backends!(usage_lists_are_paged_and_sorted, &crate::helpers::admin_settings());

/// The event ids a page lists, in the order shown.
fn event_ids(body: &str) -> Vec<i64> {
    let marker = "href=\"/admin/events/";
    body.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &body[i + marker.len()..];
            rest[..rest.find('"')?].parse().ok()
        })
        .collect()
}

/// Every page from `path` on, following the pager's next link: what
/// `read` finds on each, in order, and the links followed.
async fn walk<T>(
    operator: &Operator,
    path: &str,
    read: impl Fn(&str) -> Vec<T>,
) -> (Vec<T>, Vec<String>) {
    let mut path = path.to_string();
    let (mut found, mut followed) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let page = operator.page(&path).await;
        found.extend(read(&page.body));
        let Some(next) = next_link(&page.body) else { return (found, followed) };
        followed.push(next.clone());
        path = next;
    }
    panic!("more pages than there are rows");
}

async fn events_page_either_way(app: TestApp) {
    load_events(&app, 130).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;
    let calls: Vec<i64> = (1..=130).filter(|e| e % 4 != 0).collect();

    let (newest_first, links) = walk(&operator, "/admin/events?channel=kit_v2", event_ids).await;
    assert_eq!(newest_first, calls.iter().rev().copied().collect::<Vec<_>>(), "{links:?}");
    assert!(links.iter().all(|l| l.contains("channel=kit_v2&before=")), "{links:?}");
    let (oldest_first, links) =
        walk(&operator, "/admin/events?channel=kit_v2&dir=asc", event_ids).await;
    assert_eq!(oldest_first, calls, "every call once, oldest first: {links:?}");
    assert!(links.iter().all(|l| l.contains("channel=kit_v2&dir=asc&after=")), "{links:?}");

    let first = operator.page("/admin/events?channel=kit_v2").await;
    assert!(first.body.contains(&href("/admin/events?channel=kit_v2&dir=asc")), "either order");
    let second = operator.page(&links[0]).await;
    assert!(second.body.contains(&href("/admin/events?channel=kit_v2&dir=asc")), "back to first");
    assert!(second.body.contains(&href("/admin/events.csv?channel=kit_v2&dir=asc")), "the CSV");
    let csv = operator.page("/admin/events.csv?channel=kit_v2&dir=asc").await;
    let rows: Vec<&str> = csv.body.lines().skip(1).collect();
    assert_eq!(rows.len(), calls.len(), "{}", csv.body);
    assert!(rows[0].starts_with("1,"), "oldest first: {}", csv.body);
    assert!(rows[rows.len() - 1].starts_with("130,"), "{}", csv.body);

    let (status, body) = app.admin_get("/admin/api/events/filtered?dir=asc").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"][0]["id"], 1);
    assert_eq!(body["links"]["newestFirst"], false);
    let next = body["links"]["next"].as_str().unwrap_or_default();
    assert!(next.ends_with("dir=asc&after=50"), "{body}");
    assert_eq!(body["older"], body["links"]["next"], "the field it always had");
    assert_eq!(operator.open("/admin/events?dir=sideways").await.status, 400);
}

on_both_backends!(events_page_either_way, &crate::helpers::admin_settings());

/// The users a sign-ins page lists, in the order shown.
fn users(body: &str) -> Vec<String> {
    body.match_indices("<td>user").map(|(i, _)| body[i + 4..i + 11].to_string()).collect()
}

async fn sign_ins_page_oldest_first(app: TestApp) {
    load_sign_ins(&app, 250).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let first = operator.page("/admin/sign-ins?tenantId=t-main").await;
    let oldest = "/admin/sign-ins?tenantId=t-main&dir=asc";
    assert!(first.body.contains(&href(oldest)), "the other order's link: {}", first.body);
    let (seen, links) = walk(&operator, oldest, users).await;
    let expected: Vec<String> =
        (0..250).filter(|n| n % 5 != 0).map(|n| format!("user{n:03}")).collect();
    assert_eq!(seen, expected, "every attempt of the tenant once, oldest first: {links:?}");
    assert_eq!(links.len(), 1, "two pages: {links:?}");
    assert!(links[0].contains("tenantId=t-main&dir=asc&after_at="), "{links:?}");

    let (status, body) = app.admin_get("/admin/api/sign-ins?dir=asc&limit=3").await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> =
        body.as_array().into_iter().flatten().filter_map(|a| a["userName"].as_str()).collect();
    assert_eq!(names, ["user000", "user001", "user002"]);
    assert_eq!(app.admin_get("/admin/api/sign-ins?dir=up").await.0, 400);
}

on_both_backends!(sign_ins_page_oldest_first, &crate::helpers::admin_settings());

async fn sessions_go_on_past_the_window(app: TestApp) {
    // More than the 10,000 the page sorts over at once.
    load_crowd_sessions(&app, 10_120).await;
    let operator = Operator::new(&app);
    operator.sign_in().await;

    let last = operator.page("/admin/sessions?tenantId=t-crowd&page=200").await;
    assert!(last.body.contains(">crowd-00169<") && last.body.contains(">crowd-00120<"));
    assert!(!last.body.contains(">crowd-00119<") && last.body.contains("200 / 200"));
    assert!(!last.body.contains("role=\"status\""), "newest first, nothing is left out");
    let next = next_link(&last.body).expect("a next page past the window");
    assert!(next.contains("tenantId=t-crowd&before_at=") && next.contains("before=crowd-00120-"));
    let on = operator.page(&next).await;
    assert!(on.body.contains(">crowd-00119<") && on.body.contains(">crowd-00070<"), "{}", on.body);
    assert!(!on.body.contains(">crowd-00120<") && !on.body.contains(">crowd-00069<"));
    assert!(on.body.contains(&href("/admin/sessions?tenantId=t-crowd")), "back to the newest");
    let (mut rest, _) = walk(&operator, &next, |body| {
        (0..120).filter(|i| body.contains(&format!(">crowd-{i:05}<"))).collect::<Vec<_>>()
    })
    .await;
    rest.sort_unstable();
    assert_eq!(rest, (0..120).collect::<Vec<_>>(), "the sessions past the window, each once");

    // In another order the page sorts the newest 10,000 and says so.
    let by_user = operator.page("/admin/sessions?tenantId=t-crowd&sort=user&page=200").await;
    assert!(by_user.body.contains("role=\"status\"") && by_user.body.contains("10000"));
    assert!(next_link(&by_user.body).is_none(), "no window past it in this order");
}

on_both_backends!(sessions_go_on_past_the_window, &crate::helpers::admin_settings());
