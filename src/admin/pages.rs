//! The admin site's pages: server-rendered from `templates/admin/` with
//! auto-escaping, one stylesheet, no script. Every handler takes an
//! [`Operator`], so none is reachable without a live session.

use std::collections::{HashMap, HashSet};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse, ResponseError};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use minijinja::Environment;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Operator;
use crate::error::Error;
use crate::inbound::Channel;
use crate::lifecycle::Status;
use crate::state::AppState;
use crate::store;
use entity::{department, event, instance};

/// Rows per page of the tenant and event lists.
const PAGE_SIZE: u64 = 50;
/// Users per page on a tenant's page.
const USERS_PAGE_SIZE: u64 = 100;
/// Deeper departments are shown flat under their ancestor at this depth:
/// the template engine's recursion stays bounded whatever the marketplace
/// sent.
const MAX_TREE_DEPTH: usize = 32;

/// Adds the admin templates to the page environment.
pub fn register(env: &mut Environment<'static>) {
    let templates = [
        ("admin/base.html", include_str!("../../templates/admin/base.html")),
        ("admin/login.html", include_str!("../../templates/admin/login.html")),
        ("admin/dashboard.html", include_str!("../../templates/admin/dashboard.html")),
        ("admin/tenants.html", include_str!("../../templates/admin/tenants.html")),
        ("admin/tenant.html", include_str!("../../templates/admin/tenant.html")),
        ("admin/instances.html", include_str!("../../templates/admin/instances.html")),
        ("admin/events.html", include_str!("../../templates/admin/events.html")),
        ("admin/event.html", include_str!("../../templates/admin/event.html")),
        ("admin/outbox.html", include_str!("../../templates/admin/outbox.html")),
        ("admin/_events_table.html", include_str!("../../templates/admin/_events_table.html")),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "an admin template does not parse");
        }
    }
}

/// An error shown as a plain HTML page (the cause goes to the log only).
#[derive(Debug)]
pub struct HtmlError(pub Error);

impl From<Error> for HtmlError {
    fn from(err: Error) -> Self {
        HtmlError(err)
    }
}

impl std::fmt::Display for HtmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for HtmlError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self.0, "admin page failed");
        }
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Refused",
            StatusCode::BAD_REQUEST => "Not possible",
            _ => "Please try again",
        };
        let message = escape(&self.0.public_message());
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><link rel=\"stylesheet\" href=\"/static/koogate.css\"></head>\
             <body><main class=\"notice\"><h1>{title}</h1><p class=\"error\" role=\"alert\">{message}</p>\
             <p><a href=\"/admin\">Back to the dashboard</a></p></main></body></html>"
        );
        HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

pub type PageResult = Result<HttpResponse, HtmlError>;

/// Who is looking: an operator in a browser (a page), or a program with
/// the admin API token under `/admin/api/` (the same data as JSON, keys
/// in camelCase). The pages' handlers serve both, so the API shows exactly
/// what the pages show.
pub enum Viewer {
    Operator(Operator),
    Api,
}

impl actix_web::FromRequest for Viewer {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Viewer, Self::Error>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        if req.path().starts_with("/admin/api/") {
            let allowed = req.app_data::<web::Data<AppState>>().is_some_and(|state| {
                crate::bearer::presented(
                    req,
                    secrecy::ExposeSecret::expose_secret(&state.settings.admin.api_token),
                )
            });
            return Box::pin(std::future::ready(if allowed {
                Ok(Viewer::Api)
            } else {
                Err(Error::Unauthenticated("a valid admin bearer token is required").into())
            }));
        }
        let operator = Operator::from_request(req, payload);
        Box::pin(async move { Ok(Viewer::Operator(operator.await?)) })
    }
}

/// `snake_case` keys, at every depth, as `camelCase`.
fn camel_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, v)| {
                    let mut camel = String::with_capacity(key.len());
                    let mut upper = false;
                    for c in key.chars() {
                        if c == '_' {
                            upper = true;
                        } else if upper {
                            camel.extend(c.to_uppercase());
                            upper = false;
                        } else {
                            camel.push(c);
                        }
                    }
                    (camel, camel_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

/// Renders a page of the admin layout (or, for the API, its data).
pub fn render(state: &AppState, viewer: &Viewer, name: &str, mut data: Value) -> PageResult {
    let operator = match viewer {
        Viewer::Operator(operator) => operator,
        Viewer::Api => return Ok(HttpResponse::Ok().json(camel_keys(data))),
    };
    data["operator"] = json!({"username": operator.username, "csrf_token": operator.csrf_token});
    let body = state
        .pages
        .get_template(name)
        .and_then(|t| t.render(&data))
        .map_err(|e| Error::Internal(format!("template {name}: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// Times as operators read them: UTC, to the second.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `GET /admin`: the dashboard.
pub async fn dashboard(state: web::Data<AppState>, operator: Viewer) -> PageResult {
    let conn = &state.db.conn;
    let mut by_status: Vec<Value> = Vec::new();
    let counts = store::instances::count_by_status(conn).await?;
    for status in [Status::Active, Status::Frozen, Status::Released] {
        let count = |test: bool| {
            counts
                .iter()
                .filter(|(s, t, _)| s == status.as_str() && *t == test)
                .map(|(_, _, n)| *n)
                .sum::<i64>()
        };
        by_status.push(json!({
            "status": status.as_str(),
            "production": count(false),
            "test": count(true),
        }));
    }
    let (tenants, test_tenants) = store::tenants::count_listed(conn).await?;
    let users_granted = store::users::count_granted(conn).await?;
    let since = Utc::now() - Duration::hours(24);
    let calls: Vec<Value> = store::events::count_by_result_since(conn, since)
        .await?
        .into_iter()
        .map(|(code, n)| json!({"code": code, "count": n, "ok": code == "000000"}))
        .collect();
    let failures = store::events::page(
        conn,
        &store::events::PageFilter {
            failures_only: true,
            marketplace_only: true,
            limit: 10,
            ..Default::default()
        },
    )
    .await?;
    render(
        &state,
        &operator,
        "admin/dashboard.html",
        json!({
            "by_status": by_status,
            "tenants": tenants,
            "test_tenants": test_tenants,
            "users_granted": users_granted,
            "calls": calls,
            "failures": failures.iter().map(event_row).collect::<Vec<_>>(),
        }),
    )
}

#[derive(Debug, Deserialize, Serialize, Default)]
pub struct TenantsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    test: String,
    page: Option<u64>,
}

/// `GET /admin/tenants?q&status&test&page`
pub async fn tenants(
    state: web::Data<AppState>,
    operator: Viewer,
    query: web::Query<TenantsQuery>,
) -> PageResult {
    let conn = &state.db.conn;
    let query = query.into_inner();
    let status = match query.status.as_str() {
        "" => None,
        s @ ("active" | "frozen" | "released" | "deleted") => Some(s.to_string()),
        _ => {
            return Err(Error::invalid("status must be active, frozen, released or deleted").into())
        }
    };
    let page = query.page.unwrap_or(1).max(1);
    let filter = store::tenants::PageFilter {
        q: Some(query.q.clone()).filter(|q| !q.trim().is_empty()),
        status,
        include_test: query.test == "1",
        offset: (page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
    };
    let (rows, total) = store::tenants::page(conn, &filter).await?;
    let ids: Vec<String> = rows.iter().map(|t| t.tenant_id.clone()).collect();
    let bound = store::tenants::instances_of(conn, &ids).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|t| {
            let instances: Vec<&instance::Model> =
                bound.iter().filter(|(id, _)| id == &t.tenant_id).map(|(_, i)| i).collect();
            json!({
                "tenant_id": t.tenant_id,
                "tenant_code": t.tenant_code,
                "name": t.name,
                "test": t.test_flag,
                "status": tenant_status(t.deleted, &instances),
                "instances": instances.len(),
                "updated_at": when(t.updated_at),
            })
        })
        .collect();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let link = |p: u64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("q", &query.q), ("status", &query.status), ("test", &query.test)] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &p.to_string());
        format!("/admin/tenants?{}", s.finish())
    };
    render(
        &state,
        &operator,
        "admin/tenants.html",
        json!({
            "tenants": list,
            "total": total,
            "page": page,
            "pages": pages,
            "prev": (page > 1).then(|| link(page - 1)),
            "next": (page < pages).then(|| link(page + 1)),
            "q": query.q,
            "status": query.status,
            "test": query.test == "1",
        }),
    )
}

/// A tenant's state as the list shows it (ARCHITECTURE §5).
fn tenant_status(deleted: bool, instances: &[&instance::Model]) -> &'static str {
    if deleted {
        "deleted"
    } else if instances.iter().any(|i| i.status == "active") {
        "active"
    } else if instances.iter().any(|i| i.status == "frozen") {
        "frozen"
    } else {
        "released"
    }
}

#[derive(Debug, Deserialize)]
pub struct TenantQuery {
    users_page: Option<u64>,
    done: Option<String>,
}

/// `GET /admin/tenants/{tenantId}`
pub async fn tenant(
    state: web::Data<AppState>,
    operator: Viewer,
    path: web::Path<String>,
    query: web::Query<TenantQuery>,
) -> PageResult {
    let conn = &state.db.conn;
    let tenant_id = path.into_inner();
    let row = store::tenants::find(conn, &tenant_id).await?.ok_or(Error::NotFound)?;
    let bound: Vec<instance::Model> =
        store::tenants::instances_of(conn, std::slice::from_ref(&tenant_id))
            .await?
            .into_iter()
            .map(|(_, i)| i)
            .collect();
    let instance_ids: Vec<String> = bound.iter().map(|i| i.instance_id.clone()).collect();
    let history = store::transitions::for_instances(conn, &instance_ids).await?;
    let instances: Vec<Value> = bound
        .iter()
        .map(|i| {
            let mut view = instance_row(i);
            view["history"] = history
                .iter()
                .filter(|t| t.instance_id == i.instance_id)
                .map(|t| {
                    json!({
                        "from": t.from_status,
                        "to": t.to_status,
                        "cause": t.cause,
                        "when": when(t.created_at),
                        "event_id": t.event_id,
                    })
                })
                .collect();
            view
        })
        .collect();
    let apps: Vec<Value> = store::apps::for_tenant(conn, &tenant_id)
        .await?
        .into_iter()
        .map(|a| json!({"app_id": a.app_id, "client_id": a.client_id}))
        .collect();
    let departments = store::departments::live(conn, &tenant_id).await?;
    let department_count = departments.len();
    let tree = department_tree(departments);
    let user_count = store::users::count(conn, &tenant_id).await?;
    let users_page = query.users_page.unwrap_or(1).max(1);
    let users_pages = user_count.div_ceil(USERS_PAGE_SIZE).max(1);
    let users: Vec<Value> = store::users::page(
        conn,
        &tenant_id,
        (users_page - 1).saturating_mul(USERS_PAGE_SIZE),
        USERS_PAGE_SIZE,
    )
    .await?
    .into_iter()
    .map(|(u, apps)| {
        json!({
            "user_name": u.user_name,
            "name": u.name,
            "org_code": u.org_code,
            "role": u.role,
            "enabled": u.enabled,
            "granted": !apps.is_empty(),
            "apps": apps,
        })
    })
    .collect();
    let calls = store::events::for_tenant(conn, &tenant_id, &instance_ids, 20).await?;
    let base = format!("/admin/tenants/{}", urlencode(&tenant_id));
    let refs: Vec<&instance::Model> = bound.iter().collect();
    render(
        &state,
        &operator,
        "admin/tenant.html",
        json!({
            "tenant": {
                "tenant_id": row.tenant_id,
                "tenant_code": row.tenant_code,
                "name": row.name,
                "domain_name": row.domain_name,
                "test": row.test_flag,
                "deleted": row.deleted,
                "status": tenant_status(row.deleted, &refs),
                "created_at": when(row.created_at),
                "updated_at": when(row.updated_at),
            },
            "done": query.done.as_deref().and_then(done_message),
            "instances": instances,
            "apps": apps,
            "tree": tree,
            "department_count": department_count,
            "users": users,
            "user_count": user_count,
            "users_page": users_page,
            "users_pages": users_pages,
            "users_prev": (users_page > 1).then(|| format!("{base}?users_page={}#users", users_page - 1)),
            "users_next": (users_page < users_pages).then(|| format!("{base}?users_page={}#users", users_page + 1)),
            "calls": calls.iter().map(event_row).collect::<Vec<_>>(),
            "events_link": format!("/admin/events?tenant={}", urlencode(&tenant_id)),
            "back": base,
        }),
    )
}

/// What an action's redirect tells the operator it did.
fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "frozen" => Some("The instance is frozen; its users' sessions have ended."),
        "unfrozen" => Some("The instance is active again."),
        "unchanged" => Some("Nothing changed: the instance was already in that state."),
        _ => None,
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn instance_row(i: &instance::Model) -> Value {
    json!({
        "instance_id": i.instance_id,
        "status": i.status,
        "trial": i.trial,
        "frozen_reason": i.frozen_reason,
        "expire_time": i.expire_time,
        "order_id": i.order_id,
        "product_id": i.product_id,
        "sku_code": i.sku_code,
        "tenant_id": i.tenant_id,
        "test": i.test_flag,
        "created_at": when(i.created_at),
        "can_freeze": i.status == "active",
        "can_unfreeze": i.status == "frozen",
    })
}

/// One department of the tree, with its children.
#[derive(Debug, Serialize)]
struct Node {
    code: String,
    name: String,
    children: Vec<Node>,
}

/// The live departments as a forest: roots are those without a live
/// parent; departments caught in a parent cycle become roots too, so every
/// department shows exactly once.
fn department_tree(departments: Vec<department::Model>) -> Vec<Node> {
    let codes: HashSet<&str> = departments.iter().map(|d| d.org_code.as_str()).collect();
    let mut children: HashMap<&str, Vec<&department::Model>> = HashMap::new();
    let mut roots: Vec<&department::Model> = Vec::new();
    for d in &departments {
        match d.parent_code.as_deref().filter(|p| !p.is_empty() && codes.contains(p)) {
            Some(parent) if parent != d.org_code => children.entry(parent).or_default().push(d),
            _ => roots.push(d),
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut forest = Vec::new();
    for root in roots {
        forest.push(build_node(root, &children, &mut seen, 0));
    }
    for d in &departments {
        if !seen.contains(&d.org_code) {
            forest.push(build_node(d, &children, &mut seen, 0));
        }
    }
    forest
}

fn build_node(
    d: &department::Model,
    children: &HashMap<&str, Vec<&department::Model>>,
    seen: &mut HashSet<String>,
    depth: usize,
) -> Node {
    seen.insert(d.org_code.clone());
    let mut node =
        Node { code: d.org_code.clone(), name: d.org_name.clone(), children: Vec::new() };
    let mut pending: Vec<&department::Model> =
        children.get(d.org_code.as_str()).cloned().unwrap_or_default();
    if depth + 1 >= MAX_TREE_DEPTH {
        // Too deep to nest further: every descendant, flat.
        while let Some(child) = pending.pop() {
            if seen.insert(child.org_code.clone()) {
                node.children.push(Node {
                    code: child.org_code.clone(),
                    name: child.org_name.clone(),
                    children: Vec::new(),
                });
                pending.extend(children.get(child.org_code.as_str()).into_iter().flatten());
            }
        }
        return node;
    }
    for child in pending {
        if !seen.contains(&child.org_code) {
            node.children.push(build_node(child, children, seen, depth + 1));
        }
    }
    node
}

/// An event as the lists show it.
fn event_row(e: &event::Model) -> Value {
    json!({
        "id": e.id,
        "received_at": when(e.received_at),
        "channel": e.channel,
        "activity": e.activity,
        "result_code": e.result_code,
        "result_msg": e.result_msg,
        "ok": e.result_code == "000000",
        "instance_id": e.instance_id,
        "tenant_id": e.tenant_id,
        "test": e.test_flag,
        "duration_ms": e.duration_ms,
        "replay_of": e.replay_of,
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct InstancesQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    order: String,
}

/// `GET /admin/instances?status&tenant&order`: the newest hundred.
pub async fn instances(
    state: web::Data<AppState>,
    operator: Viewer,
    query: web::Query<InstancesQuery>,
) -> PageResult {
    let query = query.into_inner();
    if !query.status.is_empty() && Status::parse(&query.status).is_none() {
        return Err(Error::invalid("status must be active, frozen or released").into());
    }
    let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let filter = store::instances::ListFilter {
        order_id: some(&query.order),
        tenant_id: some(&query.tenant),
        status: some(&query.status),
        limit: 100,
    };
    let rows = store::instances::list(&state.db.conn, &filter).await?;
    render(
        &state,
        &operator,
        "admin/instances.html",
        json!({
            "instances": rows.iter().map(instance_row).collect::<Vec<_>>(),
            "status": query.status,
            "tenant": query.tenant,
            "order": query.order,
        }),
    )
}

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
    operator: Viewer,
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
    render(
        &state,
        &operator,
        "admin/events.html",
        json!({
            "events": rows.iter().map(event_row).collect::<Vec<_>>(),
            "older": older,
            "newest": query.before.is_some(),
            "channels": ["lifecycle_v2", "lifecycle_v1", "kit_v2", "kit_v1", "operator"],
            "filter": {
                "channel": query.channel,
                "activity": query.activity,
                "result": query.result,
                "tenant": query.tenant,
                "instance": query.instance,
                "since": query.since,
                "until": query.until,
            },
        }),
    )
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
    operator: Viewer,
    path: web::Path<i64>,
    query: web::Query<EventQuery>,
) -> PageResult {
    let conn = &state.db.conn;
    let id = path.into_inner();
    let row = store::events::find(conn, id).await?.ok_or(Error::NotFound)?;
    let replay = store::events::latest_replay_of(conn, id).await?;
    let mut view = event_row(&row);
    view["request"] = json!(pretty(&row.request));
    view["response"] = json!(pretty(&row.response));
    view["detail"] = json!(row.detail.as_deref().map(pretty));
    view["order_id"] = json!(row.order_id);
    view["replayable"] = json!(row.replay_sealed.is_some() && row.channel != "operator");
    render(
        &state,
        &operator,
        "admin/event.html",
        json!({
            "event": view,
            "latest_replay": replay.as_ref().map(event_row),
            "replayed": query.replayed.is_some(),
        }),
    )
}

/// JSON laid out for reading; anything else as it is.
fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(code: &str, parent: Option<&str>) -> department::Model {
        department::Model {
            tenant_id: "t".into(),
            org_code: code.into(),
            org_name: format!("name {code}"),
            parent_code: parent.map(str::to_string),
            retired: false,
            sync_mark: String::new(),
            updated_at: Utc::now(),
        }
    }

    fn count(nodes: &[Node]) -> usize {
        nodes.iter().map(|n| 1 + count(&n.children)).sum()
    }

    #[test]
    fn the_tree_nests_children_and_keeps_orphans_and_cycles_as_roots() {
        let tree = department_tree(vec![
            dept("a", None),
            dept("b", Some("a")),
            dept("c", Some("b")),
            dept("orphan", Some("gone")),
            dept("x", Some("y")),
            dept("y", Some("x")),
        ]);
        assert_eq!(count(&tree), 6, "every department once");
        let a = tree.iter().find(|n| n.code == "a").expect("a is a root");
        assert_eq!(a.children[0].code, "b");
        assert_eq!(a.children[0].children[0].code, "c");
        assert!(tree.iter().any(|n| n.code == "orphan"));
    }

    #[test]
    fn a_very_deep_chain_is_shown_flat_below_the_depth_limit() {
        let mut chain = vec![dept("d0", None)];
        for i in 1..200 {
            chain.push(dept(&format!("d{i}"), Some(&format!("d{}", i - 1))));
        }
        let tree = department_tree(chain);
        assert_eq!(count(&tree), 200);
        fn depth(n: &Node) -> usize {
            1 + n.children.iter().map(depth).max().unwrap_or(0)
        }
        assert!(depth(&tree[0]) <= MAX_TREE_DEPTH + 1);
    }

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
