//! `/admin/api/outbox…`: the backlog, the dead letters, and redelivery,
//! for operators and for the admin pages.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::AdminAccess;
use super::listing::{Direction, KeysetLinks};
use super::render::{render, PageResult};
use super::viewer::Viewer;
use super::views::when;
use crate::error::Error;
use crate::state::AppState;
use crate::store;
use entity::outbox;

/// One event and where its delivery stands. Never a secret: the payload
/// was written without any.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEventView {
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub tenant_id: Option<String>,
    pub instance_id: Option<String>,
    pub created_at: String,
    pub attempts: i32,
    /// For a pending event: when it is next tried.
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub dead_at: Option<String>,
    pub data: Value,
}

impl From<outbox::Model> for OutboxEventView {
    fn from(row: outbox::Model) -> Self {
        let pending = row.status == store::outbox::PENDING;
        OutboxEventView {
            webhook_id: row.webhook_id,
            event_type: row.event_type,
            tenant_id: row.tenant_id,
            instance_id: row.instance_id,
            created_at: rfc3339(row.created_at),
            attempts: row.attempts,
            next_attempt_at: pending.then(|| rfc3339(row.next_attempt_at)),
            last_error: row.last_error,
            delivered_at: row.delivered_at.map(rfc3339),
            dead_at: row.dead_at.map(rfc3339),
            data: serde_json::from_str(&row.payload).unwrap_or(Value::Null),
            status: row.status,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxSummary {
    /// Whether `upstream.webhook_url` is set (without it nothing is written).
    pub webhook_configured: bool,
    pub pending: u64,
    pub dead: u64,
    /// Age of the oldest pending event, whole seconds; null when none.
    pub oldest_pending_age_secs: Option<i64>,
}

fn rfc3339(at_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<u64>,
}

/// `GET /admin/api/outbox`
pub async fn outbox_summary(
    _: AdminAccess,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Error> {
    let stats = store::outbox::stats(&state.db.conn).await?;
    let now = Utc::now().timestamp_millis();
    Ok(HttpResponse::Ok().json(OutboxSummary {
        webhook_configured: state.outbox.enabled(),
        pending: stats.pending,
        dead: stats.dead,
        oldest_pending_age_secs: stats.oldest_pending_at.map(|at| (now - at).max(0) / 1000),
    }))
}

/// `GET /admin/api/outbox/backlog?limit=N`: pending events, oldest first.
pub async fn outbox_backlog(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows = store::outbox::backlog(&state.db.conn, limit).await?;
    let views: Vec<OutboxEventView> = rows.into_iter().map(OutboxEventView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// `GET /admin/api/outbox/dead?limit=N`: dead letters, newest first.
pub async fn outbox_dead(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Error> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows = store::outbox::dead(&state.db.conn, limit).await?;
    let views: Vec<OutboxEventView> = rows.into_iter().map(OutboxEventView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// `POST /admin/api/outbox/{webhookId}/redeliver`: a dead letter goes back
/// in line (same `webhook-id`, a fresh retry period); 404 for an unknown
/// id, 400 for an event that is not dead.
pub async fn outbox_redeliver(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let webhook_id = path.into_inner();
    let tx = state.db.begin_write().await?;
    let now = Utc::now().timestamp_millis();
    let redelivered = store::outbox::redeliver(&tx.txn, &webhook_id, now).await?;
    let row = store::outbox::find(&tx.txn, &webhook_id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    if !redelivered {
        return Err(Error::invalid("only a dead letter can be redelivered"));
    }
    state.outbox.committed();
    tracing::info!(webhook_id = %row.webhook_id, "an operator redelivers a dead letter");
    Ok(HttpResponse::Ok().json(OutboxEventView::from(row)))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    done: String,
    /// The backlog's order: `asc` (oldest first, the default) or `desc`.
    #[serde(default)]
    backlog_dir: String,
    /// The backlog from after this event id (the last of the page before).
    backlog_after: Option<i64>,
    /// The dead letters' order: `desc` (newest first, the default) or `asc`.
    #[serde(default)]
    dead_dir: String,
    dead_after: Option<i64>,
}

/// Rows per page of each list.
const LIST_PAGE: u64 = 100;

/// One of the page's two lists (`backlog`, `dead`), in `direction` from
/// after `after`: its rows and links.
struct OutboxList {
    name: &'static str,
    default: Direction,
    direction: Direction,
    after: Option<i64>,
}

impl OutboxList {
    fn href(&self, direction: Direction, after: Option<i64>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if direction != self.default {
            s.append_pair(&format!("{}_dir", self.name), direction.as_str());
        }
        if let Some(id) = after {
            s.append_pair(&format!("{}_after", self.name), &id.to_string());
        }
        let query = s.finish();
        let sep = if query.is_empty() { "" } else { "?" };
        format!("/admin/outbox{sep}{query}#{}", self.name)
    }

    async fn rows(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        status: &str,
    ) -> Result<(Vec<outbox::Model>, KeysetLinks), Error> {
        let newest_first = self.direction == Direction::Desc;
        let mut rows =
            store::outbox::page(conn, status, newest_first, self.after, LIST_PAGE + 1).await?;
        let more = rows.len() as u64 > LIST_PAGE;
        rows.truncate(LIST_PAGE as usize);
        let next =
            rows.last().filter(|_| more).map(|last| self.href(self.direction, Some(last.id)));
        let links = KeysetLinks::new(self.direction, next, self.after.is_some(), |direction| {
            self.href(direction, None)
        });
        Ok((rows, links))
    }
}

/// `GET /admin/outbox`: the page of the same data: the backlog (oldest
/// hundred), the dead letters (newest hundred), a redeliver button each.
pub async fn page(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<PageQuery>,
) -> PageResult {
    let query = query.into_inner();
    let backlog_list = OutboxList {
        name: "backlog",
        default: Direction::Asc,
        direction: Direction::from_query(&query.backlog_dir, Direction::Asc)?,
        after: query.backlog_after,
    };
    let dead_list = OutboxList {
        name: "dead",
        default: Direction::Desc,
        direction: Direction::from_query(&query.dead_dir, Direction::Desc)?,
        after: query.dead_after,
    };
    let conn = &state.db.conn;
    let stats = store::outbox::stats(conn).await?;
    let now = Utc::now().timestamp_millis();
    let (rows, backlog_links) = backlog_list.rows(conn, store::outbox::PENDING).await?;
    let (dead_rows, dead_links) = dead_list.rows(conn, store::outbox::DEAD).await?;
    let mut backlog = Vec::new();
    for row in rows {
        // A failing event holds up its tenant's and instance's later ones.
        let behind = match row.last_error {
            Some(_) => Some(store::outbox::waiting_behind(conn, &row).await?),
            None => None,
        };
        backlog.push(OutboxRow { waiting_behind: behind, ..OutboxRow::from(row) });
    }
    let dead_letters = dead_rows.into_iter().map(OutboxRow::from).collect();
    let oldest = stats.oldest_pending_at.map(|at| {
        let secs = (now - at).max(0) / 1000;
        format!("{} min {} s", secs / 60, secs % 60)
    });
    let view = OutboxPage {
        configured: state.outbox.enabled(),
        pending: stats.pending,
        dead: stats.dead,
        oldest,
        backlog,
        backlog_links,
        dead_letters,
        dead_links,
        done: query.done,
    };
    render(&state, &viewer, "admin/outbox.html", &view)
}

/// `GET /admin/outbox` (`/admin/api/outbox/overview`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxPage {
    configured: bool,
    pending: u64,
    dead: u64,
    oldest: Option<String>,
    backlog: Vec<OutboxRow>,
    backlog_links: KeysetLinks,
    dead_letters: Vec<OutboxRow>,
    dead_links: KeysetLinks,
    done: String,
}

/// An outbox event as the page lists it (times as operators read them).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRow {
    webhook_id: String,
    #[serde(rename = "type")]
    event_type: String,
    tenant_id: Option<String>,
    instance_id: Option<String>,
    created_at: String,
    attempts: i32,
    next_attempt_at: Option<String>,
    dead_at: Option<String>,
    last_error: Option<String>,
    /// For a failing pending event: how many wait for it to be delivered.
    waiting_behind: Option<u64>,
}

impl From<outbox::Model> for OutboxRow {
    fn from(row: outbox::Model) -> OutboxRow {
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(when).unwrap_or_default();
        let pending = row.status == store::outbox::PENDING;
        OutboxRow {
            webhook_id: row.webhook_id,
            event_type: row.event_type,
            tenant_id: row.tenant_id,
            instance_id: row.instance_id,
            created_at: at(row.created_at),
            attempts: row.attempts,
            next_attempt_at: pending.then(|| at(row.next_attempt_at)),
            dead_at: row.dead_at.map(at),
            last_error: row.last_error,
            waiting_behind: None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RedeliverForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /admin/outbox/{webhookId}/redeliver` (the page's button): 303
/// back to the page, which says so.
pub async fn redeliver_form(
    state: web::Data<AppState>,
    operator: super::auth::Operator,
    path: web::Path<String>,
    form: web::Form<RedeliverForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    operator.require(super::roles::Role::Operator)?;
    let webhook_id = path.into_inner();
    let tx = state.db.begin_write().await?;
    let now = Utc::now().timestamp_millis();
    let redelivered = store::outbox::redeliver(&tx.txn, &webhook_id, now).await?;
    tx.commit().await?;
    if !redelivered {
        return Err(Error::invalid("this event is not a dead letter (or no longer exists)").into());
    }
    state.outbox.committed();
    tracing::info!(username = %operator.username, webhook_id = %webhook_id, "operator redelivered an outbox event");
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, "/admin/outbox?done=redelivered"))
        .finish())
}
