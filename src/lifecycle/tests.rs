//! Lifecycle commands run without HTTP: a database, the settings slice,
//! the vault, the outbox and a clock are all they take.

use chrono::{TimeZone, Utc};

use super::call::run_v1;
use crate::inbound::{Call, Channel};
use crate::store;
use crate::testing::Domain;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn v1(domain: &Domain, clock: chrono::DateTime<Utc>, pairs: &[(&str, &str)]) -> String {
    let mut call = Call::new(Channel::LifecycleV1);
    let answer = run_v1(&domain.lifecycle(clock), &params(pairs), &mut call).await;
    answer.expect("the call succeeds").result_code.to_string()
}

#[tokio::test]
async fn a_purchase_and_an_expiry_renewal_run_on_the_clock_they_are_given() {
    let domain = Domain::new().await;
    let clock = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).single().expect("a time");
    let bought = [
        ("activity", "newInstance"),
        ("customerId", "c-1"),
        ("businessId", "inst-1"),
        ("orderId", "O-1"),
        ("productId", "p-1"),
    ];
    assert_eq!(v1(&domain, clock, &bought).await, "000000");
    let row = store::instances::find(&domain.db.conn, "inst-1").await.expect("read");
    let row = row.expect("the instance exists");
    assert_eq!((row.status.as_str(), row.created_at), ("active", clock));
    let events = domain.events().await;
    assert_eq!(events.len(), 1, "the call is recorded with its effect");
    assert_eq!(
        (events[0].channel.as_str(), events[0].activity.as_str()),
        ("lifecycle_v1", "newInstance")
    );
    let transitions =
        store::transitions::for_instance(&domain.db.conn, "inst-1").await.expect("read");
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].event_id, Some(events[0].id));

    let expired = [("activity", "expireInstance"), ("instanceId", "inst-1")];
    assert_eq!(v1(&domain, clock, &expired).await, "000000");
    // Ahead of the real time, but behind the call's clock: still expired.
    let behind = [
        ("activity", "refreshInstance"),
        ("instanceId", "inst-1"),
        ("orderId", "O-2"),
        ("expireTime", "20291231000000"),
    ];
    assert_eq!(v1(&domain, clock, &behind).await, "000000");
    let row = store::instances::find(&domain.db.conn, "inst-1").await.expect("read");
    assert_eq!(row.expect("exists").status, "frozen");
    let ahead = [
        ("activity", "refreshInstance"),
        ("instanceId", "inst-1"),
        ("orderId", "O-3"),
        ("expireTime", "20300301000000"),
    ];
    assert_eq!(v1(&domain, clock, &ahead).await, "000000");
    let row = store::instances::find(&domain.db.conn, "inst-1").await.expect("read");
    assert_eq!(row.expect("exists").status, "active");
    assert_eq!(domain.events().await.len(), 4);
}
