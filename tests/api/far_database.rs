//! A PostgreSQL some way off (another zone, a managed service): every
//! round trip to it costs its distance, so a purchase must cost one, not
//! one per row it writes, and its answers must stay what they were.

use std::time::{Duration, Instant};

use crate::helpers::*;

/// What one round trip to the database costs here.
const DISTANCE: Duration = Duration::from_millis(40);

async fn purchase(app: &TestApp, order_id: &str, business_id: &str) -> (String, Option<String>) {
    let reply = app.v2(&new_instance_body(order_id, business_id)).await;
    let instance = reply.json["instanceId"].as_str().map(str::to_string);
    (reply.code().to_string(), instance)
}

#[tokio::test]
async fn a_purchase_costs_one_round_trip_to_a_distant_postgres() {
    if postgres_url().is_none() {
        return;
    }
    let (direct, _) = fresh_postgres_database().await;
    // The schema is made close by; the purchases then go the long way.
    Process::start(&direct, &[]).await.stop().await;
    let port = reqwest::Url::parse(&direct).expect("url").port().unwrap_or(5432);
    let link = SlowLink::start(port, DISTANCE);
    let process = Process::start(
        &link.in_front_of(&direct),
        &[("KOOGATE__DATABASE__MIGRATE_ON_START", "false")],
    )
    .await;
    let app = process.client().await;

    // The first purchases open connections and prepare the statement.
    for n in 0..6 {
        let (code, _) = purchase(&app, &format!("FARWARM{n}"), &format!("biz-farwarm{n}")).await;
        assert_eq!(code, "000000");
    }
    let mut took = Vec::new();
    let mut first_instance = None;
    for n in 0..7 {
        let started = Instant::now();
        let (code, instance) = purchase(&app, &format!("FAR{n}"), &format!("biz-far{n}")).await;
        took.push(started.elapsed());
        assert_eq!(code, "000000");
        first_instance = first_instance.or(instance);
    }
    took.sort();
    let median = took[took.len() / 2];
    eprintln!("a purchase over a {DISTANCE:?} link: median {median:?} of {took:?}");
    // Seven statements (BEGIN, five inserts, COMMIT) would take 280 ms.
    assert!(median < DISTANCE * 4, "more than one round trip: {took:?}");

    // A repeated order still answers its first instance and makes nothing.
    let (code, again) = purchase(&app, "FAR0", "biz-far-again").await;
    assert_eq!(code, "000000");
    assert_eq!(again, first_instance);
    let (status, _) = app.admin_get("/admin/api/instances/biz-far-again").await;
    assert_eq!(status, 404, "a repeat makes no second instance");
    // A businessId another order owns is still a bad request.
    let (code, _) = purchase(&app, "FAR-OTHER", "biz-far1").await;
    assert_eq!(code, "000002");
}
