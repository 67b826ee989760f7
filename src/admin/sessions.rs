//! Open sessions in the admin site: `GET /admin/sessions` with an "end
//! session" button each, and the API twins `GET /admin/api/sessions`,
//! `POST /admin/api/sessions/{sessionId}/end` (ARCHITECTURE §4).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api::AdminAccess;
use super::auth::Operator;
use super::listing::{self, Direction, Links, Pager, SortKey, Sorting};
use super::render::{render, PageResult};
use super::viewer::Viewer;
use super::views::when;
use crate::error::Error;
use crate::sso::open_sessions::{self, SessionView};
use crate::sso::Deps;
use crate::state::AppState;
use crate::store::sessions::SessionFilter;

#[derive(Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SessionQuery {
    tenant_id: Option<String>,
    user_name: Option<String>,
    /// Set by the page after an "end session" (not an API parameter).
    #[serde(default)]
    #[param(ignore)]
    done: Option<String>,
    /// The page's order and page (not API parameters).
    #[serde(default)]
    #[param(ignore)]
    sort: String,
    #[serde(default)]
    #[param(ignore)]
    dir: String,
    #[serde(default)]
    #[param(ignore)]
    page: Option<u64>,
    /// The page's window cursor, newest first: sessions signed in before
    /// `before_at` (ms), or then with a public id before `before` (not
    /// API parameters).
    #[serde(default, rename = "before_at")]
    #[param(ignore)]
    before_at: Option<i64>,
    #[serde(default)]
    #[param(ignore)]
    before: Option<String>,
}

/// Rows per page of the sessions page.
const PAGE_SIZE: u64 = 50;

/// The sessions page's sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionOrder {
    User,
    Created,
    Seen,
}

impl SortKey for SessionOrder {
    const ALL: &'static [SessionOrder] =
        &[SessionOrder::User, SessionOrder::Created, SessionOrder::Seen];
    const DEFAULT: SessionOrder = SessionOrder::Created;

    fn as_str(self) -> &'static str {
        match self {
            SessionOrder::User => "user",
            SessionOrder::Created => "created",
            SessionOrder::Seen => "seen",
        }
    }

    fn first_direction(self) -> Direction {
        match self {
            SessionOrder::User => Direction::Asc,
            SessionOrder::Created | SessionOrder::Seen => Direction::Desc,
        }
    }
}

/// Sorts sessions as asked (the times are RFC 3339 UTC of one format, so
/// their text sorts as the times do); the public id breaks ties.
fn sort_sessions(sessions: &mut [SessionView], sorting: Sorting<SessionOrder>) {
    sessions.sort_by(|a, b| {
        let by = match sorting.key {
            SessionOrder::User => (&a.user_name, &a.tenant_id).cmp(&(&b.user_name, &b.tenant_id)),
            SessionOrder::Created => a.created_at.cmp(&b.created_at),
            SessionOrder::Seen => a.last_seen_at.cmp(&b.last_seen_at),
        }
        .then_with(|| a.session_id.cmp(&b.session_id));
        match sorting.direction {
            Direction::Asc => by,
            Direction::Desc => by.reverse(),
        }
    });
}

impl SessionQuery {
    fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }

    fn user_name(&self) -> Option<&str> {
        self.user_name.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }
}

/// `GET /admin/api/sessions?tenantId&userName`
#[utoipa::path(get, path = "/admin/api/sessions", operation_id = "adminSessions", tag = "admin",
    security(("adminToken" = [])),
    params(SessionQuery),
    responses((status = 200, description = "Open sessions, newest first (at most 500).", body = Vec<SessionView>), crate::openapi::BadRequest, crate::openapi::Refusals))]
pub async fn list(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: web::Query<SessionQuery>,
) -> Result<HttpResponse, Error> {
    let deps = Deps::of(&state);
    let views = open_sessions::list(&deps, query.tenant_id(), query.user_name()).await?;
    Ok(HttpResponse::Ok().json(views))
}

/// `POST /admin/api/sessions/{sessionId}/end`
#[utoipa::path(post, path = "/admin/api/sessions/{sessionId}/end", operation_id = "adminEndSession", tag = "admin",
    security(("adminToken" = [])),
    params(("sessionId" = String, Path, description = "The session's public id, as the session list gives it.")),
    responses((status = 200, description = "The session is ended on every replica within a second; ending it again changes nothing.", body = SessionView), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn end(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let deps = Deps::of(&state);
    let ended = open_sessions::end(&deps, &state.outbox, &path.into_inner(), "api").await?;
    Ok(HttpResponse::Ok().json(ended))
}

/// `GET /admin/sessions`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionsPage {
    filter: SessionQuery,
    sessions: Vec<SessionRow>,
    total: u64,
    pager: Pager,
    /// In an order other than the newest first, more sessions are open
    /// than the page sorts over ([`open_sessions::PAGE_LIMIT`]): newest
    /// first or a filter finds the others.
    capped: Option<u64>,
    /// Past the first window: back to the newest sessions.
    newest: Option<String>,
    /// More sessions are open past this window (`total` counts this one).
    more: bool,
}

/// A session as the page lists it (times as operators read them).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    session_id: String,
    tenant_id: String,
    instance_id: Option<String>,
    user_name: String,
    name: String,
    created_at: String,
    last_seen_at: String,
}

impl From<SessionView> for SessionRow {
    fn from(view: SessionView) -> SessionRow {
        let at = |t: &str| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| when(t.with_timezone(&Utc)))
                .unwrap_or_else(|_| t.to_string())
        };
        SessionRow {
            created_at: at(&view.created_at),
            last_seen_at: at(&view.last_seen_at),
            session_id: view.session_id,
            tenant_id: view.tenant_id,
            instance_id: view.instance_id,
            user_name: view.user_name,
            name: view.name,
        }
    }
}

/// The sessions page's links with the filters, from the window cursor
/// (`before_at`, `before`) when given.
fn links<'a>(
    filters: &[(&'static str, &'a str)],
    cursor: Option<(&'a str, &'a str)>,
    sorting: Sorting<SessionOrder>,
) -> Links<'a, SessionOrder> {
    let mut filters = filters.to_vec();
    if let Some((at, id)) = cursor {
        filters.extend([("before_at", at), ("before", id)]);
    }
    Links { path: "/admin/sessions", filters, sorting, prefix: "", anchor: "" }
}

pub async fn page(
    state: web::Data<AppState>,
    operator: Operator,
    req: HttpRequest,
    query: web::Query<SessionQuery>,
) -> PageResult {
    let query = query.into_inner();
    let sorting = Sorting::<SessionOrder>::parse(&query.sort, &query.dir)?;
    let page = listing::page_number(query.page);
    let deps = Deps::of(&state);
    // A session from before public ids has an empty one, which links
    // leave out: `before_at` alone is such a cursor.
    let before = query.before_at.map(|at| (at, query.before.as_deref().unwrap_or_default()));
    let filter =
        SessionFilter { tenant_id: query.tenant_id(), user_name: query.user_name(), before };
    let window = open_sessions::list_up_to(&deps, filter, open_sessions::PAGE_LIMIT).await?;
    let mut sessions = window.sessions;
    sort_sessions(&mut sessions, sorting);
    let total = sessions.len() as u64;
    let skip = usize::try_from(listing::offset(page, PAGE_SIZE)).unwrap_or(usize::MAX);
    let rows: Vec<SessionRow> =
        sessions.into_iter().skip(skip).take(PAGE_SIZE as usize).map(SessionRow::from).collect();
    let tenant = query.tenant_id.clone().unwrap_or_default();
    let user = query.user_name.clone().unwrap_or_default();
    let filters = [("tenantId", tenant.as_str()), ("userName", user.as_str())];
    // Headers sort from the newest window; the pages of a later window
    // keep its cursor.
    let newest_window = links(&filters, None, sorting);
    let mut pager = newest_window.pager(page, total, PAGE_SIZE, None);
    if let Some((at, id)) = before {
        let at = at.to_string();
        let paged = links(&filters, Some((&at, id)), sorting).pager(page, total, PAGE_SIZE, None);
        pager.prev = paged.prev;
        pager.next = paged.next;
    }
    // Newest first, the last page of a window leads on to the next.
    let onward = window.next.as_ref().filter(|_| sorting.is_default() && page >= pager.pages);
    if let Some((at, id)) = onward {
        let at = at.to_string();
        pager.next = Some(links(&filters, Some((&at, id)), sorting).first_page());
    }
    let view = SessionsPage {
        sessions: rows,
        total,
        pager,
        capped: (window.next.is_some() && !sorting.is_default())
            .then_some(open_sessions::PAGE_LIMIT),
        newest: before.map(|_| newest_window.first_page()),
        more: window.next.is_some(),
        filter: query,
    };
    render(&state, &Viewer::Operator(operator, req), "admin/sessions.html", &view)
}

#[derive(Debug, Deserialize)]
pub struct EndForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /admin/sessions/{sessionId}/end` (the page's button): 303 back to
/// the sessions page, which says so.
pub async fn end_form(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    form: web::Form<EndForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    operator.require(super::roles::Role::Operator)?;
    let deps = Deps::of(&state);
    let ended =
        open_sessions::end(&deps, &state.outbox, &path.into_inner(), &operator.username).await?;
    let tenant: String = form_urlencoded::byte_serialize(ended.tenant_id.as_bytes()).collect();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/admin/sessions?tenantId={tenant}&done=ended")))
        .finish())
}
