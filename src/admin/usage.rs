//! `GET /admin/usage` (and `/admin/api/usage`): where the usage the
//! vendor's app reported stands (see `crate::open_api::usage`): per
//! instance, how many records wait, were pushed or were refused, and the
//! records with the marketplace's refusal code; pending records close to
//! the marketplace's 21-day limit are flagged. Both lists are paged and
//! sorted (see `listing`); each list's links keep the other's place.

use actix_web::web;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::listing::{self, Direction, Links, Pager, SortKey, Sorting};
use super::render::{render, PageResult};
use super::viewer::Viewer;
use crate::error::Error;
use crate::open_api::usage::{self, UsageRecordView};
use crate::state::AppState;
use crate::store;
use crate::store::usage::{CountOrder, InstanceCounts, RecordFilter, RecordOrder, State};

/// Records a page lists.
const RECORDS_PAGE: u64 = 100;

/// Instances a page lists.
const INSTANCES_PAGE: u64 = 100;

#[derive(Debug, Deserialize)]
pub struct UsageQuery {
    #[serde(default)]
    instance: String,
    #[serde(default)]
    state: String,
    /// The records' order and page.
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    page: Option<u64>,
    /// The per-instance table's order and page.
    #[serde(default)]
    instances_sort: String,
    #[serde(default)]
    instances_dir: String,
    instances_page: Option<u64>,
}

impl SortKey for RecordOrder {
    const ALL: &'static [RecordOrder] =
        &[RecordOrder::Instance, RecordOrder::Period, RecordOrder::State, RecordOrder::Received];
    const DEFAULT: RecordOrder = RecordOrder::Received;

    fn as_str(self) -> &'static str {
        match self {
            RecordOrder::Received => "received",
            RecordOrder::Instance => "instance",
            RecordOrder::Period => "period",
            RecordOrder::State => "state",
        }
    }

    fn first_direction(self) -> Direction {
        match self {
            RecordOrder::Received | RecordOrder::Period => Direction::Desc,
            RecordOrder::Instance | RecordOrder::State => Direction::Asc,
        }
    }
}

impl SortKey for CountOrder {
    const ALL: &'static [CountOrder] = &[
        CountOrder::Instance,
        CountOrder::Pending,
        CountOrder::Pushed,
        CountOrder::Refused,
        CountOrder::Flagged,
    ];
    const DEFAULT: CountOrder = CountOrder::Instance;

    fn as_str(self) -> &'static str {
        match self {
            CountOrder::Instance => "instance",
            CountOrder::Pending => "pending",
            CountOrder::Pushed => "pushed",
            CountOrder::Refused => "refused",
            CountOrder::Flagged => "flagged",
        }
    }

    /// An instance id reads A to Z; a count most first.
    fn first_direction(self) -> Direction {
        match self {
            CountOrder::Instance => Direction::Asc,
            _ => Direction::Desc,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsagePage {
    pub pending: u64,
    pub pushed: u64,
    pub refused: u64,
    /// Pending records close to the marketplace's 21-day limit.
    pub flagged: u64,
    /// One page of instances with records, in the order asked for.
    pub instances: Vec<InstanceCounts>,
    /// How many instances have records.
    pub instances_total: u64,
    /// The per-instance table's pages and header links
    /// (`instances_page`, `instances_sort`, `instances_dir`).
    pub instances_pager: Pager,
    /// One page of records (of `instance`, in `state`, when given),
    /// newest first unless asked otherwise.
    pub records: Vec<UsageRecordView>,
    /// How many records match.
    pub records_total: u64,
    /// The records' pages and header links (`page`, `sort`, `dir`).
    pub records_pager: Pager,
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
    let record_sorting = Sorting::<RecordOrder>::parse(&query.sort, &query.dir)?;
    let count_sorting = Sorting::<CountOrder>::parse(&query.instances_sort, &query.instances_dir)?;
    let record_page = listing::page_number(query.page);
    let count_page = listing::page_number(query.instances_page);
    let conn = &state.db.conn;
    let now = Utc::now().timestamp_millis();
    let old_before = usage::flag_before(now);
    let (counts, flagged) = store::usage::counts(conn, old_before).await?;
    let count = |wanted: State| counts.iter().find(|(s, _)| *s == wanted).map_or(0, |(_, n)| *n);
    let filter = RecordFilter {
        instance_id: Some(query.instance.trim()).filter(|i| !i.is_empty()),
        state: wanted,
    };
    let (rows, records_total) = store::usage::records(
        conn,
        filter,
        (record_sorting.key, record_sorting.direction.order()),
        listing::offset(record_page, RECORDS_PAGE),
        RECORDS_PAGE,
    )
    .await?;
    let (instances, instances_total) = store::usage::per_instance(
        conn,
        old_before,
        (count_sorting.key, count_sorting.direction.order()),
        listing::offset(count_page, INSTANCES_PAGE),
        INSTANCES_PAGE,
    )
    .await?;
    // Each list's links keep the records' filters and the other list's
    // place (as typed: both were checked above).
    let record_page_text = query.page.map(|p| p.to_string()).unwrap_or_default();
    let count_page_text = query.instances_page.map(|p| p.to_string()).unwrap_or_default();
    let records_links = Links {
        path: "/admin/usage",
        filters: vec![
            ("instance", &query.instance),
            ("state", &query.state),
            ("instances_sort", &query.instances_sort),
            ("instances_dir", &query.instances_dir),
            ("instances_page", &count_page_text),
        ],
        sorting: record_sorting,
        prefix: "",
        anchor: "#usage-records",
    };
    let instances_links = Links {
        path: "/admin/usage",
        filters: vec![
            ("instance", &query.instance),
            ("state", &query.state),
            ("sort", &query.sort),
            ("dir", &query.dir),
            ("page", &record_page_text),
        ],
        sorting: count_sorting,
        prefix: "instances_",
        anchor: "#usage-instances",
    };
    let view = UsagePage {
        pending: count(State::Pending),
        pushed: count(State::Pushed),
        refused: count(State::Refused),
        flagged,
        instances,
        instances_total,
        instances_pager: instances_links.pager(count_page, instances_total, INSTANCES_PAGE, None),
        records: rows.into_iter().map(|row| usage::view(row, now)).collect(),
        records_total,
        records_pager: records_links.pager(record_page, records_total, RECORDS_PAGE, None),
        instance: query.instance,
        state: query.state,
    };
    render(&state, &viewer, "admin/usage.html", &view)
}
