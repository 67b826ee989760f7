//! `GET /admin/usage` (and `/admin/api/usage`): where the usage the
//! vendor's app reported stands (see `crate::open_api::usage`): per
//! instance, how many records wait, were pushed or were refused, and the
//! newest records with the marketplace's refusal code; pending records
//! close to the marketplace's 21-day limit are flagged.

use actix_web::web;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::render::{render, PageResult};
use super::viewer::Viewer;
use crate::error::Error;
use crate::open_api::usage::{self, UsageRecordView};
use crate::state::AppState;
use crate::store;
use crate::store::usage::{InstanceCounts, State};

/// Instances and records the page lists.
const LIMIT: u64 = 200;

#[derive(Debug, Deserialize)]
pub struct UsageQuery {
    #[serde(default)]
    instance: String,
    #[serde(default)]
    state: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsagePage {
    pub pending: u64,
    pub pushed: u64,
    pub refused: u64,
    /// Pending records close to the marketplace's 21-day limit.
    pub flagged: u64,
    pub instances: Vec<InstanceCounts>,
    /// The newest records (of `instance`, in `state`, when given).
    pub records: Vec<UsageRecordView>,
    pub instance: String,
    pub state: String,
}

pub async fn page(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<UsageQuery>,
) -> PageResult {
    let query = query.into_inner();
    let wanted = match query.state.as_str() {
        "" => None,
        text => Some(
            State::parse(text)
                .ok_or_else(|| Error::invalid("state must be pending, pushed or refused"))?,
        ),
    };
    let conn = &state.db.conn;
    let now = Utc::now().timestamp_millis();
    let old_before = usage::flag_before(now);
    let (counts, flagged) = store::usage::counts(conn, old_before).await?;
    let count = |wanted: State| counts.iter().find(|(s, _)| *s == wanted).map_or(0, |(_, n)| *n);
    let instance = Some(query.instance.as_str()).filter(|i| !i.is_empty());
    let records = store::usage::recent(conn, instance, wanted, LIMIT)
        .await?
        .into_iter()
        .map(|row| usage::view(row, now))
        .collect();
    let view = UsagePage {
        pending: count(State::Pending),
        pushed: count(State::Pushed),
        refused: count(State::Refused),
        flagged,
        instances: store::usage::per_instance(conn, old_before, LIMIT).await?,
        records,
        instance: query.instance,
        state: query.state,
    };
    render(&state, &viewer, "admin/usage.html", &view)
}
