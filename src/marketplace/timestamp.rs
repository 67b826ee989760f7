//! Timestamp windows of the two auth schemes (spec §3.1, §3.3).

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};

use crate::error::Error;

/// V2: epoch milliseconds, no older and no further ahead than `tolerance`.
pub fn check_v2(timestamp: &str, now: DateTime<Utc>, tolerance_secs: u64) -> Result<(), Error> {
    let millis: i64 = timestamp
        .parse()
        .map_err(|_| Error::Unauthenticated("timestamp is not epoch milliseconds"))?;
    let skew = (now.timestamp_millis() - millis).unsigned_abs();
    if skew > tolerance_secs.saturating_mul(1000) {
        return Err(Error::Unauthenticated("timestamp outside the allowed window"));
    }
    Ok(())
}

/// V1: `yyyyMMddHHmmssSSS` read in the channel's zone (UTC for lifecycle,
/// UTC+8 in Kit bodies); `tolerance_secs` 0 turns the check off.
pub fn check_v1(
    timestamp: &str,
    offset_hours: i32,
    now: DateTime<Utc>,
    tolerance_secs: u64,
) -> Result<(), Error> {
    if tolerance_secs == 0 {
        return Ok(());
    }
    let sent = parse_v1(timestamp, offset_hours)
        .ok_or(Error::Unauthenticated("timeStamp is not yyyyMMddHHmmssSSS"))?;
    let skew = (now - sent).num_milliseconds().unsigned_abs();
    if skew > tolerance_secs.saturating_mul(1000) {
        return Err(Error::Unauthenticated("timeStamp outside the allowed window"));
    }
    Ok(())
}

/// Formats `now` as a V1 `timeStamp` in the given zone (for the simulator
/// and tests).
pub fn format_v1(now: DateTime<Utc>, offset_hours: i32) -> String {
    let zone = FixedOffset::east_opt(offset_hours * 3600).unwrap_or(Utc.fix());
    now.with_timezone(&zone).format("%Y%m%d%H%M%S%3f").to_string()
}

fn parse_v1(timestamp: &str, offset_hours: i32) -> Option<DateTime<Utc>> {
    if timestamp.len() != 17 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(timestamp, "%Y%m%d%H%M%S%3f").ok()?;
    let zone = FixedOffset::east_opt(offset_hours * 3600)?;
    zone.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// A marketplace `expireTime`: exactly `yyyyMMddHHmmss`, a real date.
pub fn is_valid_expire_time(value: &str) -> bool {
    value.len() == 14
        && value.bytes().all(|b| b.is_ascii_digit())
        && NaiveDateTime::parse_from_str(value, "%Y%m%d%H%M%S").is_ok()
}

/// Parses a valid `expireTime` as UTC.
pub fn expire_time_utc(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(value, "%Y%m%d%H%M%S").ok().map(|n| Utc.from_utc_datetime(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("valid instant")
    }

    #[test]
    fn v2_accepts_inside_the_window_and_refuses_outside_both_ways() {
        let now = at(1_716_363_778_801);
        assert!(check_v2("1716363778801", now, 60).is_ok());
        assert!(check_v2("1716363718801", now, 60).is_ok(), "exactly 60 s old");
        assert!(check_v2("1716363598801", now, 60).is_err(), "3 minutes old");
        assert!(check_v2("1716363958801", now, 60).is_err(), "3 minutes ahead");
        assert!(check_v2("1716363778", now, 60).is_err(), "seconds, not ms");
        assert!(check_v2("abc", now, 60).is_err());
    }

    #[test]
    fn v1_reads_the_time_in_the_channel_zone() {
        // 2020-07-27 07:37:11.903 UTC is 15:37:11.903 in Beijing.
        let now = Utc.with_ymd_and_hms(2020, 7, 27, 7, 37, 11).single().expect("date");
        assert!(check_v1("20200727073711903", 0, now, 300).is_ok());
        assert!(check_v1("20200727153711903", 8, now, 300).is_ok());
        assert!(check_v1("20200727153711903", 0, now, 300).is_err());
        assert!(check_v1("20200727073711903", 0, now + chrono::Duration::minutes(6), 300).is_err());
        assert!(check_v1("anything", 0, now, 0).is_ok(), "0 turns the check off");
        assert!(check_v1("2020072707371190", 0, now, 300).is_err(), "16 digits");
    }

    #[test]
    fn format_v1_round_trips() {
        let now = Utc.with_ymd_and_hms(2023, 3, 27, 7, 2, 51).single().expect("date");
        assert_eq!(format_v1(now, 0), "20230327070251000");
        assert_eq!(format_v1(now, 8), "20230327150251000");
    }

    #[test]
    fn expire_times_must_be_real_dates() {
        assert!(is_valid_expire_time("20260101000000"));
        assert!(!is_valid_expire_time("20261301000000"));
        assert!(!is_valid_expire_time("2026-01-01"));
        assert!(!is_valid_expire_time("202601010000000"));
    }
}
