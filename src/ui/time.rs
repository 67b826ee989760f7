//! Times as an operator reads them: in `ui.time_zone`, with the offset
//! shown, so nobody has to know where the server runs. The page views keep
//! UTC (`2026-11-26 10:00:00 UTC`, as `admin::views::when` writes it, or
//! RFC 3339 where a page shows an API's view) and the `local_time` filter
//! converts at render time; the APIs stay UTC.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How `admin::views::when` writes a time.
const UTC_FORMAT: &str = "%Y-%m-%d %H:%M:%S UTC";

/// The zone named by `ui.time_zone` (an IANA name), if it is one.
pub fn zone(name: &str) -> Option<Tz> {
    name.trim().parse().ok()
}

/// `2026-11-26 10:00:00 UTC` (or, as the API views write it, RFC 3339:
/// `2026-11-26T10:00:00Z`) shown in `zone`: `2026-11-26 18:00:00 +08:00`.
/// Anything else (an empty field, a time in another shape) is shown as it is.
pub fn local_time(value: &str, zone: Tz) -> String {
    let at = NaiveDateTime::parse_from_str(value, UTC_FORMAT)
        .map(|naive| Utc.from_utc_datetime(&naive))
        .or_else(|_| DateTime::parse_from_rfc3339(value).map(|at| at.with_timezone(&Utc)));
    match at {
        Ok(at) => at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        Err(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_utc_time_is_shown_in_the_zone_with_its_offset() {
        let shanghai = zone("Asia/Shanghai").expect("a zone");
        assert_eq!(local_time("2026-11-26 10:00:00 UTC", shanghai), "2026-11-26 18:00:00 +08:00");
        assert_eq!(local_time("2026-12-31 20:30:00 UTC", shanghai), "2027-01-01 04:30:00 +08:00");
        let utc = zone("UTC").expect("a zone");
        assert_eq!(local_time("2026-11-26 10:00:00 UTC", utc), "2026-11-26 10:00:00 +00:00");
        // As the API views write it (usage, drift).
        assert_eq!(local_time("2026-11-26T10:00:00Z", shanghai), "2026-11-26 18:00:00 +08:00");
        assert_eq!(local_time("2026-11-26T10:00:00.250Z", shanghai), "2026-11-26 18:00:00 +08:00");
    }

    #[test]
    fn what_is_not_a_time_is_shown_as_it_is() {
        let shanghai = zone("Asia/Shanghai").expect("a zone");
        assert_eq!(local_time("", shanghai), "");
        assert_eq!(local_time("20261126100000", shanghai), "20261126100000");
    }

    #[test]
    fn only_iana_names_are_zones() {
        assert!(zone("Europe/Berlin").is_some());
        assert!(zone("Mars/Olympus").is_none());
        assert!(zone("").is_none());
    }
}
