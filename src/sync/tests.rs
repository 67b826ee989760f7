//! Sync calls run without HTTP: a database, the vault, the outbox and a
//! clock are all they take.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::call::run;
use crate::inbound::{Call, Channel};
use crate::store;
use crate::testing::Domain;

#[tokio::test]
async fn a_tenant_sync_runs_on_the_clock_it_is_given_and_is_recorded() {
    let domain = Domain::new().await;
    let clock = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).single().expect("a time");
    let body = json!({
        "tenantId": "t-1", "tenantCode": "huawei", "name": "Example Enterprise",
        "domainName": "https://example.tenantaccount.com", "flag": 1, "testFlag": 0,
    })
    .to_string();
    let mut call = Call::new(Channel::KitV2);
    call.activity = "tenantSync".to_string();
    let answer = run(&domain.sync(clock), body.as_bytes(), &mut call).await.expect("succeeds");
    assert_eq!(answer.result_code, "000000");
    let tenant = store::tenants::find(&domain.db.conn, "t-1").await.expect("read");
    let tenant = tenant.expect("the tenant exists");
    assert_eq!((tenant.name.as_str(), tenant.created_at), ("Example Enterprise", clock));
    let events = domain.events().await;
    assert_eq!(events.len(), 1, "the call is recorded with its effect");
    assert_eq!(events[0].channel, "kit_v2");
    assert_eq!(events[0].tenant_id.as_deref(), Some("t-1"));
}
