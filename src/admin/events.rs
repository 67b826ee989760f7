//! The admin site's event log pages: the filtered list and one event with
//! its redacted request and the answer sent.

use actix_web::web;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

use super::render::{render, PageResult};
use super::viewer::Viewer;
use super::views::{EventDetail, EventFilter, EventList, EventPage, EventRow};
use crate::error::Error;
use crate::inbound::Channel;
use crate::state::AppState;
use crate::store;

/// Rows per page of the event list.
const PAGE_SIZE: u64 = 50;

#[derive(Debug, Deserialize, Default)]
pub struct EventsQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    activity: String,
    /// A result code, or `failures` for every code but success.
    #[serde(default)]
    result: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    instance: String,
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, UTC.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    before: Option<i64>,
}

/// `GET /admin/events?channel&activity&result&tenant&instance&since&until&before`
pub async fn events(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<EventsQuery>,
) -> PageResult {
    let query = query.into_inner();
    let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    if !query.channel.is_empty() && Channel::parse(&query.channel).is_none() {
        return Err(Error::invalid("unknown channel").into());
    }
    let filter = store::events::PageFilter {
        channel: some(&query.channel),
        activity: some(&query.activity),
        result_code: some(&query.result).filter(|r| r != "failures"),
        failures_only: query.result == "failures",
        marketplace_only: false,
        tenant_id: some(&query.tenant),
        instance_id: some(&query.instance),
        since: parse_time(&query.since)?,
        until: parse_time(&query.until)?,
        before_id: query.before,
        limit: PAGE_SIZE,
    };
    let rows = store::events::page(&state.db.conn, &filter).await?;
    let older = (rows.len() as u64 == PAGE_SIZE).then(|| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("channel", &query.channel),
            ("activity", &query.activity),
            ("result", &query.result),
            ("tenant", &query.tenant),
            ("instance", &query.instance),
            ("since", &query.since),
            ("until", &query.until),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if let Some(last) = rows.last() {
            s.append_pair("before", &last.id.to_string());
        }
        format!("/admin/events?{}", s.finish())
    });
    let view = EventList {
        events: rows.iter().map(EventRow::from).collect(),
        older,
        newest: query.before.is_some(),
        channels: [
            Channel::LifecycleV2,
            Channel::LifecycleV1,
            Channel::KitV2,
            Channel::KitV1,
            Channel::Operator,
        ]
        .map(Channel::as_str),
        filter: EventFilter {
            channel: query.channel,
            activity: query.activity,
            result: query.result,
            tenant: query.tenant,
            instance: query.instance,
            since: query.since,
            until: query.until,
        },
    };
    render(&state, &viewer, "admin/events.html", &view)
}

/// A filter time: a date (midnight UTC) or a date and a time (UTC).
fn parse_time(text: &str) -> Result<Option<DateTime<Utc>>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        return Ok(Some(at.and_utc()));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|at| at.and_utc()));
    }
    Err(Error::invalid("times are YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"))
}

#[derive(Debug, Deserialize)]
pub struct EventQuery {
    replayed: Option<String>,
}

/// `GET /admin/events/{id}`: the redacted request and the answer sent.
pub async fn event(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<i64>,
    query: web::Query<EventQuery>,
) -> PageResult {
    let conn = &state.db.conn;
    let id = path.into_inner();
    let row = store::events::find(conn, id).await?.ok_or(Error::NotFound)?;
    let replay = store::events::latest_replay_of(conn, id).await?;
    let view = EventPage {
        event: EventDetail::from(&row),
        latest_replay: replay.as_ref().map(EventRow::from),
        replayed: query.replayed.is_some(),
    };
    render(&state, &viewer, "admin/event.html", &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_times_are_dates_or_minutes_in_utc() {
        assert!(parse_time("").expect("empty").is_none());
        assert_eq!(
            parse_time("2026-11-23").expect("date").map(|t| t.to_rfc3339()),
            Some("2026-11-23T00:00:00+00:00".to_string())
        );
        assert!(parse_time("2026-11-23T10:30").expect("minute").is_some());
        assert!(parse_time("yesterday").is_err());
    }
}
