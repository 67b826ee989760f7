//! The admin site's event log pages: the filtered list and one event with
//! its redacted request and the answer sent.

use actix_web::web;
use serde::Deserialize;

use super::listing::KeysetLinks;
use super::lists;
use super::render::{render, PageResult};
use super::viewer::Viewer;
use super::views::{EventDetail, EventFilter, EventList, EventPage, EventRow};
use crate::error::Error;
use crate::inbound::Channel;
use crate::state::AppState;
use crate::store;

/// Rows per page of the event list.
const PAGE_SIZE: u64 = 50;

/// The event list's page.
const PATH: &str = "/admin/events";

/// `GET /admin/events?channel&activity&result&tenant&instance&since&until&dir&before&after`
pub async fn events(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<lists::EventsQuery>,
) -> PageResult {
    let query = query.into_inner();
    let direction = query.direction()?;
    let filter = query.filter(PAGE_SIZE + 1)?;
    let mut rows = store::events::page(&state.db.conn, &filter).await?;
    let more = rows.len() as u64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let next = rows.last().filter(|_| more).map(|last| query.link(PATH, direction, Some(last.id)));
    let paged = query.before.is_some() || query.after.is_some();
    let links = KeysetLinks::new(direction, next.clone(), paged, |d| query.link(PATH, d, None));
    let view = EventList {
        events: rows.iter().map(EventRow::from).collect(),
        older: next,
        first: query.link(PATH, direction, None),
        csv: query.link("/admin/events.csv", direction, None),
        newest: paged,
        links,
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
