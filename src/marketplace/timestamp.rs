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

/// A V1 `timeStamp` (`yyyyMMddHHmmssSSS` in the given zone) as UTC.
pub fn parse_v1(timestamp: &str, offset_hours: i32) -> Option<DateTime<Utc>> {
    if timestamp.len() != 17 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(timestamp, "%Y%m%d%H%M%S%3f").ok()?;
    let zone = FixedOffset::east_opt(offset_hours * 3600)?;
    zone.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// A V2 time field (`expireTime`, `createTime`, `currentSyncTime`) as the
/// marketplace writes it: 14 digits `yyyyMMddHHmmss`, or 17 digits
/// `yyyyMMddHHmmssSSS` as the current help page's own example does. A real
/// date, read as UTC.
pub fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let format = match value.len() {
        14 => "%Y%m%d%H%M%S",
        17 => "%Y%m%d%H%M%S%3f",
        _ => return None,
    };
    let naive = NaiveDateTime::parse_from_str(value, format).ok()?;
    // chrono reads second 60 as a leap second; no calendar time has one.
    (naive.and_utc().timestamp_subsec_nanos() < 1_000_000_000)
        .then(|| Utc.from_utc_datetime(&naive))
}

/// The contract's `yyyyMMddHHmmss` of a time field in either width (what
/// koogate stores and shows); the milliseconds of a 17-digit time are dropped.
pub fn to_contract_time(value: &str) -> Option<String> {
    parse_time(value).map(|t| t.format("%Y%m%d%H%M%S").to_string())
}

/// The 17-digit `yyyyMMddHHmmssSSS` of a time field in either width, for
/// fields that are compared as text (Kit `currentSyncTime`): a 14-digit
/// time is its second's first millisecond.
pub fn to_millis_time(value: &str) -> Option<String> {
    parse_time(value).map(|t| t.format("%Y%m%d%H%M%S%3f").to_string())
}

/// Parses a stored contract time (`yyyyMMddHHmmss`) as UTC.
pub fn expire_time_utc(value: &str) -> Option<DateTime<Utc>> {
    parse_time(value)
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
    fn time_fields_take_14_or_17_digits_and_must_be_real_dates() {
        assert_eq!(to_contract_time("20260101000000").as_deref(), Some("20260101000000"));
        assert_eq!(to_contract_time("20221124023618256").as_deref(), Some("20221124023618"));
        assert_eq!(to_millis_time("20221124023618").as_deref(), Some("20221124023618000"));
        assert_eq!(to_millis_time("20221124023618256").as_deref(), Some("20221124023618256"));
        let instant = parse_time("20221124023618256").expect("17 digits");
        assert_eq!(instant.timestamp_millis(), 1_669_257_378_256, "read as UTC");
        for bad in [
            "20261301000000",
            "2026-01-01",
            "202601010000000",
            "2026010100000000",
            "20260101235960",
            "2026013100000O",
            "",
            "+2026010100000",
        ] {
            assert!(parse_time(bad).is_none(), "{bad}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any instant written either way reads back as that instant
            /// (to the millisecond with 17 digits, to the second with 14),
            /// and both widths agree on the contract's 14 digits.
            #[test]
            fn both_widths_read_back_as_the_written_instant(ms in 0i64..253_402_300_799_999) {
                let t = DateTime::from_timestamp_millis(ms).expect("in range");
                let long = format!("{}{:03}", t.format("%Y%m%d%H%M%S"), ms.rem_euclid(1000));
                let short = t.format("%Y%m%d%H%M%S").to_string();
                prop_assert_eq!(parse_time(&long), Some(t));
                prop_assert_eq!(parse_time(&short).map(|p| p.timestamp()), Some(ms.div_euclid(1000)));
                prop_assert_eq!(to_contract_time(&long), Some(short.clone()));
                prop_assert_eq!(to_contract_time(&short), Some(short.clone()));
                prop_assert_eq!(to_millis_time(&long), Some(long.clone()));
                prop_assert!(to_millis_time(&short).is_some_and(|m| m.starts_with(&short) && m.ends_with("000")));
            }

            /// Text of any other width, or with a non-digit, is refused.
            #[test]
            fn other_text_is_refused(text in "[0-9]{0,13}|[0-9]{15,16}|[0-9]{18,20}|[0-9]{5}[^0-9][0-9]{8}") {
                prop_assert!(parse_time(&text).is_none());
            }
        }
    }
}
