//! Usage metering for pay-per-use instances (`ON_DEMAND`, `ON_DEMAND_PKG`).
//!
//! The vendor's app posts records; each is checked, then stored once per
//! app record id with a `metering_sn` chosen on arrival, in one
//! transaction (a bad record refuses the whole post and stores nothing).
//! A pusher on every replica claims due records with a lease and sends up
//! to 100 at a time to `isv/usage-data`. A push whose answer is lost is
//! sent again with the same `metering_sn`s, which the marketplace counts
//! once. When the marketplace refuses a batch, its records go again one
//! by one, so each learns its own answer and code.

use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, Set};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::{CallError, OpenApi};
use super::entitlement;
use crate::access::InstanceStatus;
use crate::error::Error;
use crate::settings::OpenApiSettings;
use crate::state::AppState;
use crate::store::{self, usage::State};
use entity::usage_record;

/// Records per push (research §3.1: 100 to be safe).
pub const BATCH: u64 = 100;
/// Records per post from the app.
pub const MAX_RECORDS_PER_POST: usize = 1000;
/// The marketplace refuses usage that began longer ago than this.
pub const MAX_AGE_DAYS: i64 = 21;
/// Pending records older than this are flagged: they have days left.
pub const FLAG_AGE_DAYS: i64 = 18;
/// A record may end this far in the future (clocks differ a little).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// One record as the vendor's app sends it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecordIn {
    pub id: String,
    pub instance_id: String,
    /// RFC 3339.
    pub begin_time: String,
    /// RFC 3339.
    pub end_time: String,
    /// A decimal string above 0 with at most 4 decimal places.
    pub value: String,
}

/// `POST /app-api/v1/usage`
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UsagePost {
    pub records: Vec<UsageRecordIn>,
}

/// What became of one posted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Taken {
    /// Stored now; it will be pushed.
    Stored,
    /// A record with this id was stored before (or earlier in this post)
    /// with the same contents: nothing new.
    Duplicate,
    /// A record with this id was stored before with other contents: the
    /// first one stands.
    Conflict,
}

#[derive(Debug, Clone, Serialize)]
pub struct TakenRecord {
    pub id: String,
    pub result: Taken,
}

/// A record that passed the checks.
#[derive(Debug, Clone, PartialEq)]
struct Checked {
    id: String,
    instance_id: String,
    begin_at: i64,
    end_at: i64,
    value: String,
}

/// The checks a record must pass, with the precise reason when it does not.
fn check(index: usize, record: &UsageRecordIn, now: i64) -> Result<Checked, Error> {
    let bad = |field: &str, why: &str| Error::Invalid(format!("records[{index}].{field}: {why}"));
    if record.id.is_empty() || record.id.len() > 64 {
        return Err(bad("id", "1 to 64 characters"));
    }
    if record.instance_id.is_empty() || record.instance_id.len() > 64 {
        return Err(bad("instanceId", "1 to 64 characters"));
    }
    let time = |field: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc).timestamp_millis())
            .map_err(|_| bad(field, "not an RFC 3339 time"))
    };
    let begin_at = time("beginTime", &record.begin_time)?;
    let end_at = time("endTime", &record.end_time)?;
    if end_at <= begin_at {
        return Err(bad("endTime", "must be after beginTime"));
    }
    if end_at > now + CLOCK_SKEW_MS {
        return Err(bad("endTime", "is in the future"));
    }
    if begin_at < now - MAX_AGE_DAYS * 86_400_000 {
        return Err(bad("beginTime", "more than 21 days ago: the marketplace takes no such usage"));
    }
    if !is_usage_value(&record.value) {
        return Err(bad("value", "a decimal string above 0 with at most 4 decimal places"));
    }
    Ok(Checked {
        id: record.id.clone(),
        instance_id: record.instance_id.clone(),
        begin_at,
        end_at,
        value: record.value.clone(),
    })
}

/// `digits[.digits]`, at most 4 decimals, above zero, at most 20 characters.
fn is_usage_value(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    text.len() <= 20
        && !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && fraction.len() <= 4
        && !(text.contains('.') && fraction.is_empty())
        && text.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// Stores a post in the caller's transaction: every record is checked
/// first (one bad record refuses the post and nothing is stored), then
/// each is stored once per id.
pub async fn take(
    conn: &impl ConnectionTrait,
    post: &UsagePost,
    now: i64,
) -> Result<Vec<TakenRecord>, Error> {
    if post.records.is_empty() || post.records.len() > MAX_RECORDS_PER_POST {
        return Err(Error::Invalid(format!("records: 1 to {MAX_RECORDS_PER_POST} records")));
    }
    let mut checked = Vec::with_capacity(post.records.len());
    for (index, record) in post.records.iter().enumerate() {
        checked.push(check(index, record, now)?);
    }
    for (index, record) in checked.iter().enumerate() {
        let bad = |why: &str| Error::Invalid(format!("records[{index}].instanceId: {why}"));
        let Some(instance) = store::instances::find(conn, &record.instance_id).await? else {
            return Err(bad("no such instance"));
        };
        if store::instances::status(&instance)? == InstanceStatus::Released {
            return Err(bad("the instance is released"));
        }
        let plan = entitlement::of_instance(conn, &instance).await?;
        // Unknown yet (the order is still being fetched): taken, and the
        // marketplace has the last word.
        if let Some(mode) = plan.charging_mode.as_deref() {
            if mode != "ON_DEMAND" && mode != "ON_DEMAND_PKG" {
                return Err(bad("not a pay-per-use instance"));
            }
        }
    }
    let mut out = Vec::with_capacity(checked.len());
    for record in checked {
        let result = match store::usage::find(conn, &record.id).await? {
            Some(stored) => same_or_conflict(&stored, &record),
            None => {
                let row = usage_record::ActiveModel {
                    id: NotSet,
                    record_id: Set(record.id.clone()),
                    instance_id: Set(record.instance_id.clone()),
                    begin_at: Set(record.begin_at),
                    end_at: Set(record.end_at),
                    value: Set(record.value.clone()),
                    metering_sn: Set(Alphanumeric.sample_string(&mut rand::thread_rng(), 32)),
                    state: Set(State::Pending.as_str().to_string()),
                    solo: Set(false),
                    relate_pkg_instance: Set(None),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    claimed_until: Set(None),
                    claim_token: Set(None),
                    last_error: Set(None),
                    refusal_code: Set(None),
                    refusal_message: Set(None),
                    received_at: Set(now),
                    pushed_at: Set(None),
                };
                if store::usage::insert(conn, row).await? {
                    Taken::Stored
                } else {
                    // Another request stored the same id a moment ago.
                    match store::usage::find(conn, &record.id).await? {
                        Some(stored) => same_or_conflict(&stored, &record),
                        None => Taken::Duplicate,
                    }
                }
            }
        };
        out.push(TakenRecord { id: record.id, result });
    }
    Ok(out)
}

fn same_or_conflict(stored: &usage_record::Model, record: &Checked) -> Taken {
    let same = stored.instance_id == record.instance_id
        && stored.begin_at == record.begin_at
        && stored.end_at == record.end_at
        && stored.value == record.value;
    if same {
        Taken::Duplicate
    } else {
        Taken::Conflict
    }
}

/// One stored record as the app and operators see it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecordView {
    pub id: String,
    pub instance_id: String,
    pub begin_time: String,
    pub end_time: String,
    pub value: String,
    pub state: State,
    pub metering_sn: String,
    pub received_at: String,
    pub pushed_at: Option<String>,
    pub refusal_code: Option<String>,
    pub refusal_message: Option<String>,
    /// Still pending and close to the marketplace's 21-day limit.
    pub expiring: bool,
}

pub fn view(row: usage_record::Model, now: i64) -> UsageRecordView {
    let state = State::parse(&row.state).unwrap_or(State::Pending);
    UsageRecordView {
        expiring: state == State::Pending && row.begin_at < flag_before(now),
        id: row.record_id,
        instance_id: row.instance_id,
        begin_time: rfc3339(row.begin_at),
        end_time: rfc3339(row.end_at),
        value: row.value,
        state,
        metering_sn: row.metering_sn,
        received_at: rfc3339(row.received_at),
        pushed_at: row.pushed_at.map(rfc3339),
        refusal_code: row.refusal_code,
        refusal_message: row.refusal_message,
    }
}

/// Pending records that began before this are flagged.
pub fn flag_before(now: i64) -> i64 {
    now - FLAG_AGE_DAYS * 86_400_000
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

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

/// Starts this replica's pusher (nothing to do without the Open API).
pub fn spawn(state: web::Data<AppState>) {
    let Some(api) = state.open_api.clone() else { return };
    tokio::spawn(async move {
        let poll = Duration::from_millis(state.settings.open_api.poll_ms.max(1));
        let mut failing = false;
        loop {
            match push_once(&state.db, &api, &state.settings.open_api).await {
                Ok(claimed) => {
                    failing = false;
                    if claimed > 0 {
                        continue;
                    }
                }
                Err(err) => {
                    if !failing {
                        failing = true;
                        tracing::warn!(error = ?err, "the usage pusher cannot reach the database; retrying");
                    }
                }
            }
            tokio::time::sleep(poll).await;
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
    let lease_until = now.saturating_add(super::fetch::lease_ms(settings));
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
            let at = now.saturating_add(super::fetch::pause_ms(settings, attempts));
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
    fn usage_values_are_positive_decimals_with_at_most_four_places() {
        for ok in ["1", "0.5", "12.3456", "100", "0.0001", "007"] {
            assert!(is_usage_value(ok), "{ok}");
        }
        for bad in ["", "0", "0.0000", "-1", "1.23456", "1e3", "1.", ".5", " 1", "1,5", "NaN"] {
            assert!(!is_usage_value(bad), "{bad}");
        }
    }

    #[test]
    fn records_are_checked_field_by_field() {
        let now =
            DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").expect("time").timestamp_millis();
        let good = UsageRecordIn {
            id: "r-1".into(),
            instance_id: "i-1".into(),
            begin_time: "2026-11-26T10:00:00+08:00".into(),
            end_time: "2026-11-26T03:00:00Z".into(),
            value: "1.5".into(),
        };
        let checked = check(0, &good, now).expect("good");
        assert_eq!(checked.end_at - checked.begin_at, 3_600_000);
        assert_eq!(checked.value, "1.5");
        let refused = |change: fn(&mut UsageRecordIn)| {
            let mut r = good.clone();
            change(&mut r);
            match check(3, &r, now) {
                Err(Error::Invalid(why)) => why,
                other => panic!("{other:?}"),
            }
        };
        assert!(refused(|r| r.end_time = r.begin_time.clone()).starts_with("records[3].endTime"));
        assert!(refused(|r| r.begin_time = "yesterday".into()).starts_with("records[3].beginTime"));
        assert!(refused(|r| r.begin_time = "2026-11-01T00:00:00Z".into()).contains("21 days"));
        assert!(refused(|r| r.end_time = "2026-11-27T00:00:00Z".into()).contains("future"));
        assert!(refused(|r| r.value = "2.00001".into()).starts_with("records[3].value"));
        assert!(refused(|r| r.id = String::new()).starts_with("records[3].id"));
    }

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
