//! What reconciliation found (see `crate::open_api::reconcile`), newest
//! first: `GET /admin/api/drift` and the drift page. Nothing changes an
//! instance but an operator applying the marketplace's version of one
//! finding (`crate::open_api::apply`): a confirmation page, then a form
//! with the session's CSRF token, or `POST /admin/api/drift/{id}/apply`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::AdminAccess;
use super::auth::Operator;
use super::listing::{self, Direction, Links, Pager, SortKey, Sorting};
use super::render::{render, PageResult};
use super::viewer::Viewer;
use crate::error::Error;
use crate::inbound::{self, Call, Channel};
use crate::marketplace::result::Answer;
use crate::open_api::apply::{self, Applied, Snapshot};
use crate::state::AppState;
use crate::store;
use entity::drift_finding;

/// How many findings the page and the API list.
const LIMIT: u64 = 1000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftView {
    /// What `POST /admin/api/drift/{id}/apply` names.
    pub id: i64,
    pub instance_id: String,
    /// `renewed_there`, `unsubscribed_there`, `sku_differs`,
    /// `quantity_differs` or `unknown_order`.
    pub kind: String,
    /// What koogate has.
    pub here: Value,
    /// What the marketplace says.
    pub there: Value,
    pub found_at: String,
    pub checked_at: String,
}

impl From<drift_finding::Model> for DriftView {
    fn from(f: drift_finding::Model) -> DriftView {
        DriftView {
            id: f.id,
            instance_id: f.instance_id,
            kind: f.kind,
            here: serde_json::from_str(&f.here).unwrap_or(Value::Null),
            there: serde_json::from_str(&f.there).unwrap_or(Value::Null),
            found_at: rfc3339(f.found_at),
            checked_at: rfc3339(f.checked_at),
        }
    }
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

async fn findings(state: &AppState) -> Result<Vec<DriftView>, Error> {
    Ok(store::drift::all(&state.db.conn, LIMIT).await?.into_iter().map(DriftView::from).collect())
}

/// `GET /admin/api/drift`
#[utoipa::path(get, path = "/admin/api/drift", operation_id = "adminDrift", tag = "admin",
    security(("adminToken" = [])),
    responses((status = 200, description = "Reconciliation findings, newest first (at most 1000).", body = Vec<DriftView>), crate::openapi::Refusals))]
pub async fn drift(_: AdminAccess, state: web::Data<AppState>) -> Result<HttpResponse, Error> {
    Ok(HttpResponse::Ok().json(findings(&state).await?))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    page: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DriftPage {
    findings: Vec<DriftView>,
    done: String,
    total: u64,
    pager: Pager,
}

/// Findings per page.
const PAGE_SIZE: u64 = 100;

/// The drift page's sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriftOrder {
    Kind,
    Instance,
    Found,
    Checked,
}

impl SortKey for DriftOrder {
    const ALL: &'static [DriftOrder] =
        &[DriftOrder::Kind, DriftOrder::Instance, DriftOrder::Found, DriftOrder::Checked];
    const DEFAULT: DriftOrder = DriftOrder::Found;

    fn as_str(self) -> &'static str {
        match self {
            DriftOrder::Kind => "kind",
            DriftOrder::Instance => "instance",
            DriftOrder::Found => "found",
            DriftOrder::Checked => "checked",
        }
    }

    fn first_direction(self) -> Direction {
        match self {
            DriftOrder::Kind | DriftOrder::Instance => Direction::Asc,
            DriftOrder::Found | DriftOrder::Checked => Direction::Desc,
        }
    }
}

impl DriftOrder {
    fn column(self) -> drift_finding::Column {
        match self {
            DriftOrder::Kind => drift_finding::Column::Kind,
            DriftOrder::Instance => drift_finding::Column::InstanceId,
            DriftOrder::Found => drift_finding::Column::FoundAt,
            DriftOrder::Checked => drift_finding::Column::CheckedAt,
        }
    }
}

/// `GET /admin/drift`: every finding, each with a button to the
/// confirmation of applying it.
pub async fn page(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<PageQuery>,
) -> PageResult {
    let query = query.into_inner();
    let sorting = Sorting::<DriftOrder>::parse(&query.sort, &query.dir)?;
    let page = listing::page_number(query.page);
    let (rows, total) = store::drift::page(
        &state.db.conn,
        sorting.key.column(),
        sorting.direction.order(),
        listing::offset(page, PAGE_SIZE),
        PAGE_SIZE,
    )
    .await?;
    let links = Links { path: "/admin/drift", filters: vec![], sorting, prefix: "", anchor: "" };
    let view = DriftPage {
        findings: rows.into_iter().map(DriftView::from).collect(),
        done: query.done,
        total,
        pager: links.pager(page, total, PAGE_SIZE, None),
    };
    render(&state, &viewer, "admin/drift.html", &view)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmPage {
    finding: DriftView,
    now: Snapshot,
}

/// `GET /admin/drift/{id}`: the finding, the instance as it is, and the
/// button that applies the marketplace's version.
pub async fn confirm(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<i64>,
) -> PageResult {
    let (finding, now) = apply::preview(&state.db.conn, path.into_inner()).await?;
    let view = ConfirmPage { finding: DriftView::from(finding), now };
    render(&state, &viewer, "admin/drift_apply.html", &view)
}

#[derive(Debug, Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /admin/drift/{id}/apply` (the confirmation's button): 303 back to
/// the drift page, which says so.
pub async fn apply_form(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<i64>,
    form: web::Form<ApplyForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    operator.require(super::roles::Role::Operator)?;
    apply_as(&state, &operator.username, path.into_inner()).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/drift?done=applied"))
        .finish())
}

/// `POST /admin/api/drift/{id}/apply`
#[utoipa::path(post, path = "/admin/api/drift/{id}/apply", operation_id = "adminDriftApply", tag = "admin",
    security(("adminToken" = [])),
    params(("id" = i64, Path, description = "The finding's `id`.")),
    responses((status = 200, description = "The marketplace's version applied to the instance (recorded as an operator's event); the finding is resolved.", body = Applied), crate::openapi::BadRequest, crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn apply_api(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let applied = apply_as(&state, "admin-api", path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(applied))
}

/// Applies a finding as the operator `who`, recorded as their action.
async fn apply_as(state: &AppState, who: &str, id: i64) -> Result<Applied, Error> {
    store::drift::find(&state.db.conn, id).await?.ok_or(Error::NotFound)?;
    let mut call = Call::new(Channel::Operator);
    call.activity = "apply_drift".to_string();
    call.request = json!({"operator": who, "action": "apply_drift", "findingId": id}).to_string();
    match apply::apply(&state.db, &state.outbox, &mut call, id).await {
        Ok(applied) => {
            tracing::info!(username = %who, finding_id = id, instance_id = %applied.instance_id, kind = applied.kind.as_str(), "operator applied the marketplace's version");
            Ok(applied)
        }
        Err(err) => {
            let answer = Answer::with_code(err.result_code(), err.public_message());
            inbound::record_failure(&state.db, &state.refused, &call, &answer).await;
            Err(err)
        }
    }
}
