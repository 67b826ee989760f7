//! The dashboard's "calls per hour" chart: seven days of marketplace calls,
//! one bar per hour, the failures stacked on the successes. Drawn as SVG on
//! the server (no JavaScript), so the coordinates are worked out here.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;

use super::views::when;

/// Hours shown: seven days.
pub const HOURS: i64 = 7 * 24;
/// Pixels per hour, and the bar's width within them.
const STEP: u32 = 4;
const BAR: u32 = 3;
/// Height of the tallest bar.
const HEIGHT: u32 = 100;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallChart {
    pub width: u32,
    pub height: u32,
    pub bar_width: u32,
    /// The most calls in one hour (the top of the scale).
    pub max: i64,
    pub total_ok: i64,
    pub total_failed: i64,
    pub hours: Vec<HourBar>,
    /// Where each day starts (UTC midnight), for the axis.
    pub days: Vec<DayTick>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HourBar {
    /// The hour's start, as the pages write times (UTC).
    pub at: String,
    pub ok: i64,
    pub failed: i64,
    pub x: u32,
    pub ok_y: u32,
    pub ok_height: u32,
    pub failed_y: u32,
    pub failed_height: u32,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayTick {
    pub x: u32,
    pub at: String,
}

/// The chart of the `HOURS` hours up to and including `now`'s, from
/// `(hour "YYYY-MM-DD HH" in UTC, succeeded, count)` rows.
pub fn calls_per_hour(rows: &[(String, bool, i64)], now: DateTime<Utc>) -> CallChart {
    let this_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let first = this_hour - Duration::hours(HOURS - 1);
    let counts: Vec<(DateTime<Utc>, i64, i64)> = (0..HOURS)
        .map(|i| {
            let start = first + Duration::hours(i);
            let key = start.format("%Y-%m-%d %H").to_string();
            let count = |ok: bool| {
                rows.iter().filter(|(h, o, _)| *h == key && *o == ok).map(|(_, _, n)| *n).sum()
            };
            (start, count(true), count(false))
        })
        .collect();
    let max = counts.iter().map(|(_, ok, failed)| ok + failed).max().unwrap_or(0);
    let scale = |n: i64| -> u32 {
        if max == 0 || n <= 0 {
            return 0;
        }
        // At least one pixel for any call, so a lone failure is seen.
        (((n as f64) * f64::from(HEIGHT) / max as f64).round() as u32).clamp(1, HEIGHT)
    };
    let hours: Vec<HourBar> = counts
        .iter()
        .enumerate()
        .map(|(i, (start, ok, failed))| {
            let ok_height = scale(*ok);
            let failed_height = scale(*failed).min(HEIGHT - ok_height);
            HourBar {
                at: when(*start),
                ok: *ok,
                failed: *failed,
                x: i as u32 * STEP,
                ok_y: HEIGHT - ok_height,
                ok_height,
                failed_y: HEIGHT - ok_height - failed_height,
                failed_height,
            }
        })
        .collect();
    let days = hours
        .iter()
        .zip(&counts)
        .filter(|(_, (start, _, _))| start.format("%H").to_string() == "00")
        .map(|(bar, _)| DayTick { x: bar.x, at: bar.at.clone() })
        .collect();
    CallChart {
        width: HOURS as u32 * STEP,
        height: HEIGHT,
        bar_width: BAR,
        max,
        total_ok: counts.iter().map(|(_, ok, _)| ok).sum(),
        total_failed: counts.iter().map(|(_, _, failed)| failed).sum(),
        hours,
        days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 42, 7).single().expect("a time")
    }

    #[test]
    fn seven_days_of_hours_end_with_the_current_one() {
        let chart = calls_per_hour(&[], now());
        assert_eq!(chart.hours.len(), 168);
        assert_eq!(chart.hours[167].at, "2026-11-26 10:00:00 UTC");
        assert_eq!(chart.hours[0].at, "2026-11-19 11:00:00 UTC");
        assert_eq!(chart.max, 0);
        assert!(chart.hours.iter().all(|h| h.ok_height == 0 && h.failed_height == 0));
        assert_eq!(chart.days.len(), 7, "a tick at each UTC midnight");
        assert_eq!(chart.days[0].at, "2026-11-20 00:00:00 UTC");
    }

    #[test]
    fn the_busiest_hour_fills_the_height_and_failures_sit_on_top() {
        let rows = vec![
            ("2026-11-26 10".to_string(), true, 30),
            ("2026-11-26 10".to_string(), false, 10),
            ("2026-11-25 09".to_string(), true, 20),
            ("2026-11-25 09".to_string(), false, 1),
            ("2026-11-01 00".to_string(), true, 999),
        ];
        let chart = calls_per_hour(&rows, now());
        assert_eq!(chart.max, 40, "the hour outside the seven days is left out");
        assert_eq!((chart.total_ok, chart.total_failed), (50, 11));
        let busiest = &chart.hours[167];
        assert_eq!((busiest.ok, busiest.failed), (30, 10));
        assert_eq!((busiest.ok_height, busiest.failed_height), (75, 25));
        assert_eq!((busiest.ok_y, busiest.failed_y), (25, 0));
        let day_before =
            chart.hours.iter().find(|h| h.at == "2026-11-25 09:00:00 UTC").expect("hour");
        assert_eq!((day_before.ok_height, day_before.failed_height), (50, 3));
        assert_eq!(day_before.failed_y + day_before.failed_height, day_before.ok_y);
    }
}
