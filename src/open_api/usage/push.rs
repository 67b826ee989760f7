//! The usage pusher: on every replica, claims due records with a lease
//! and sends up to 100 at a time to `isv/usage-data`. A push whose answer
//! is lost is sent again with the same `metering_sn`s, which the
//! marketplace counts once. When the marketplace refuses a batch, its
//! records go again one by one, so each learns its own answer and code.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::super::client::{CallError, OpenApi};
use super::super::{entitlement, fetch};
use crate::error::Error;
use crate::settings::OpenApiSettings;
use crate::store;
use entity::usage_record;

/// Records per push (research §3.1: 100 to be safe).
pub const BATCH: u64 = 100;

fn marketplace_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// The push body: compact JSON with keys in natural (sorted) order, as the
/// body signature wants; serde_json's maps keep keys sorted.
pub fn push_body(rows: &[usage_record::Model]) -> String {
    let records: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut record = json!({
                "instance_id": row.instance_id,
                "record_time": marketplace_time(row.received_at),
                "begin_time": marketplace_time(row.begin_at),
                "end_time": marketplace_time(row.end_at),
                "usage_value": row.value,
                "metering_sn": row.metering_sn,
            });
            if let Some(package) = &row.relate_pkg_instance {
                record["relate_pkg_instance"] = json!(package);
            }
            record
        })
        .collect();
    json!({ "usage_records": records }).to_string()
}

/// Starts this replica's pusher.
pub fn spawn(db: store::Db, api: Arc<OpenApi>, settings: OpenApiSettings) {
    let poll = Duration::from_millis(settings.poll_ms.max(1));
    let context = Arc::new((db, api, settings));
    super::super::spawn_rounds("usage pusher", poll, move || {
        let context = context.clone();
        async move {
            let (db, api, settings) = &*context;
            push_once(db, api, settings).await
        }
    });
}

/// Claims one batch, pushes it, records the answer; returns how many
/// records were claimed.
pub async fn push_once(
    db: &store::Db,
    api: &OpenApi,
    settings: &OpenApiSettings,
) -> Result<usize, Error> {
    let token = Alphanumeric.sample_string(&mut rand::thread_rng(), 24);
    let now = Utc::now().timestamp_millis();
    let lease_until = now.saturating_add(fetch::lease_ms(settings));
    let tx = db.begin_write().await?;
    let mut rows = store::usage::claim(&tx.txn, now, lease_until, &token, BATCH).await?;
    for row in rows.iter_mut().filter(|r| r.relate_pkg_instance.is_none()) {
        if let Some(package) = package_of(&tx.txn, &row.instance_id).await? {
            store::usage::set_relate_pkg_instance(&tx.txn, row.id, &package).await?;
            row.relate_pkg_instance = Some(package);
        }
    }
    tx.commit().await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let outcome = api.push_usage(&push_body(&rows)).await;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let now = Utc::now().timestamp_millis();
    let tx = db.begin_write().await?;
    match outcome {
        Ok(_) => {
            store::usage::pushed(&tx.txn, &ids, &token, now).await?;
        }
        Err(CallError::Refused { code, message, .. }) if rows.len() == 1 => {
            tracing::warn!(code = %code, "the marketplace refused a usage record");
            store::usage::refused(&tx.txn, ids[0], &token, &code, &message).await?;
        }
        Err(CallError::Refused { code, .. }) => {
            // Which record? Each goes alone now and learns its own answer.
            let error = format!("batch refused with {code}; pushing one by one");
            store::usage::retry_at(&tx.txn, &ids, &token, &error, now, true).await?;
        }
        Err(err @ (CallError::Unavailable(_) | CallError::CredentialsRefused { .. })) => {
            let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(1);
            let at = now.saturating_add(fetch::pause_ms(settings, attempts));
            let error: String = err.to_string().chars().take(200).collect();
            store::usage::retry_at(&tx.txn, &ids, &token, &error, at, false).await?;
        }
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// The package a record of this instance consumes: the instance itself
/// when it is a pay-per-use package.
async fn package_of(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<Option<String>, Error> {
    let Some(instance) = store::instances::find(conn, instance_id).await? else { return Ok(None) };
    let plan = entitlement::of_instance(conn, &instance).await?;
    Ok((plan.charging_mode.as_deref() == Some("ON_DEMAND_PKG")).then(|| instance_id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_body_has_sorted_keys_and_marketplace_times() {
        let row = usage_record::Model {
            id: 1,
            record_id: "r".into(),
            instance_id: "inst-0001".into(),
            begin_at: 1_735_714_800_000,
            end_at: 1_735_718_400_000,
            value: "1.5".into(),
            metering_sn: "sn-0001".into(),
            state: "pending".into(),
            solo: false,
            relate_pkg_instance: None,
            attempts: 0,
            next_attempt_at: 0,
            claimed_until: None,
            claim_token: None,
            last_error: None,
            refusal_code: None,
            refusal_message: None,
            received_at: 1_735_718_700_000,
            pushed_at: None,
        };
        // research §2.4 vector D's body, byte for byte.
        assert_eq!(
            push_body(&[row]),
            r#"{"usage_records":[{"begin_time":"20250101T070000Z","end_time":"20250101T080000Z","instance_id":"inst-0001","metering_sn":"sn-0001","record_time":"20250101T080500Z","usage_value":"1.5"}]}"#
        );
    }
}
