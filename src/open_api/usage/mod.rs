//! Usage metering for pay-per-use instances (`ON_DEMAND`, `ON_DEMAND_PKG`).
//!
//! The vendor's app posts records; each is checked, then stored once per
//! app record id with a `metering_sn` chosen on arrival, in one
//! transaction (a bad record refuses the whole post and stores nothing).
//! [`push`] sends them on to the marketplace.

pub mod push;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, Set};
use serde::{Deserialize, Serialize};

use super::entitlement;
use crate::access::InstanceStatus;
use crate::error::Error;
use crate::store::{self, usage::State};
use entity::usage_record;

/// Records per post from the app.
pub const MAX_RECORDS_PER_POST: usize = 1000;
/// The marketplace refuses usage that began longer ago than this.
pub const MAX_AGE_DAYS: i64 = 21;
/// Pending records older than this are flagged: they have days left.
pub const FLAG_AGE_DAYS: i64 = 18;
/// A record may end this far in the future (clocks differ a little).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// One record as the vendor's app sends it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct UsagePost {
    pub records: Vec<UsageRecordIn>,
}

/// What became of one posted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
}
