//! The admin site's pages about tenants and instances: the dashboard, the
//! tenant list, a tenant's page. Every handler takes a
//! [`Viewer`], so none is reachable without a live session or the API
//! token; each fills one view of [`super::views`].

use chrono::{Duration, Utc};
use serde::Deserialize;

use actix_web::web;

use super::chart;
use super::listing::{self, Links, Sorting};
use super::lists;
use super::render::{render, PageResult};
use super::viewer::Viewer;
use super::views::{
    when, AppRow, Dashboard, EventRow, HistoryRow, InstanceRow, OutboxState, ResultCount,
    StatusCount, TenantFacts, TenantList, TenantOverview, UserRow,
};
use crate::access::InstanceStatus;
use crate::error::Error;
use crate::state::AppState;
use crate::store;
use crate::store::users::UserOrder;
use entity::instance;

/// Rows per page of the tenant list.
const PAGE_SIZE: u64 = 50;
/// Expiring instances listed on the dashboard (the rest are a click away).
const EXPIRING_SHOWN: u64 = 20;
/// Users per page on a tenant's page.
const USERS_PAGE_SIZE: u64 = 100;

/// `GET /admin`: the dashboard.
pub async fn dashboard(state: web::Data<AppState>, viewer: Viewer) -> PageResult {
    let conn = &state.db.conn;
    let counts = store::instances::count_by_status(conn).await?;
    let by_status = InstanceStatus::ALL
        .into_iter()
        .map(|status| {
            let count = |test: bool| {
                counts
                    .iter()
                    .filter(|(s, t, _)| *s == status && *t == test)
                    .map(|(_, _, n)| *n)
                    .sum::<i64>()
            };
            StatusCount { status, production: count(false), test: count(true) }
        })
        .collect();
    let (tenants, test_tenants) = store::tenants::count_listed(conn).await?;
    let since = Utc::now() - Duration::hours(24);
    let calls = store::events::count_by_result_since(conn, since)
        .await?
        .into_iter()
        .map(|(code, n)| ResultCount::new(code, n))
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
    let now = Utc::now();
    let hourly =
        store::events::count_by_hour_since(conn, now - Duration::hours(chart::HOURS)).await?;
    let contract_time = |t: chrono::DateTime<Utc>| t.format("%Y%m%d%H%M%S").to_string();
    let expiring = store::instances::expiring_between(
        conn,
        &contract_time(now),
        &contract_time(now + Duration::days(30)),
        EXPIRING_SHOWN,
    )
    .await?
    .iter()
    .map(|i| InstanceRow::new(i, InstanceStatus::Active))
    .collect();
    let outbox = store::outbox::stats(conn).await?;
    let drift_findings = store::drift::counts(conn).await?.iter().map(|(_, n)| n).sum();
    let now_ms = now.timestamp_millis();
    let (usage, usage_flagged) =
        store::usage::counts(conn, crate::open_api::usage::flag_before(now_ms)).await?;
    let usage_in =
        |state: store::usage::State| usage.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
    let view = Dashboard {
        drift_findings,
        usage_pending: usage_in(store::usage::State::Pending),
        usage_refused: usage_in(store::usage::State::Refused),
        usage_flagged,
        by_status,
        tenants,
        test_tenants,
        users_granted: store::users::count_granted(conn).await?,
        calls,
        failures: failures.iter().map(EventRow::from).collect(),
        chart: chart::calls_per_hour(&hourly, now),
        expiring,
        outbox: OutboxState {
            pending: outbox.pending,
            dead: outbox.dead,
            oldest_pending_age_seconds: outbox
                .oldest_pending_at
                .map_or(0, |at| (now.timestamp_millis() - at).max(0) / 1000),
        },
    };
    render(&state, &viewer, "admin/dashboard.html", &view)
}

/// `GET /admin/tenants?q&status&test&sort&dir&page`
pub async fn tenants(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<lists::TenantsQuery>,
) -> PageResult {
    let conn = &state.db.conn;
    let query = query.into_inner();
    let page = listing::page_number(query.page);
    let (filter, sorting) = query.filter(listing::offset(page, PAGE_SIZE), PAGE_SIZE)?;
    let (rows, total) = store::tenants::page(conn, &filter).await?;
    let list = lists::tenant_rows(conn, rows).await?;
    let links = Links {
        path: "/admin/tenants",
        filters: vec![("q", &query.q), ("status", &query.status), ("test", &query.test)],
        sorting,
        prefix: "",
        anchor: "",
    };
    let view = TenantList {
        tenants: list,
        total,
        pager: links.pager(page, total, PAGE_SIZE, Some("/admin/tenants.csv")),
        test: query.test == "1",
        q: query.q,
        status: query.status,
    };
    render(&state, &viewer, "admin/tenants.html", &view)
}

#[derive(Debug, Deserialize)]
pub struct TenantQuery {
    users_page: Option<u64>,
    #[serde(default)]
    users_sort: String,
    #[serde(default)]
    users_dir: String,
    done: Option<String>,
}

/// `GET /admin/tenants/{tenantId}`
pub async fn tenant(
    state: web::Data<AppState>,
    viewer: Viewer,
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
    let mut instances = Vec::with_capacity(bound.len());
    for i in &bound {
        let mut view = InstanceRow::new(i, store::instances::status(i)?);
        view.history = Some(
            history
                .iter()
                .filter(|t| t.instance_id == i.instance_id)
                .map(HistoryRow::from)
                .collect(),
        );
        instances.push(view);
    }
    let apps = store::apps::for_tenant(conn, &tenant_id)
        .await?
        .into_iter()
        .map(|a| AppRow { app_id: a.app_id, client_id: a.client_id })
        .collect();
    let departments = store::departments::live(conn, &tenant_id).await?;
    let department_count = departments.len();
    let department_names = crate::department_tree::names(&departments);
    let user_count = store::users::count(conn, &tenant_id).await?;
    let users_page = listing::page_number(query.users_page);
    let users_sorting = Sorting::<UserOrder>::parse(&query.users_sort, &query.users_dir)?;
    let offset = listing::offset(users_page, USERS_PAGE_SIZE);
    let users = store::users::page(
        conn,
        &tenant_id,
        (users_sorting.key, users_sorting.direction.order()),
        offset,
        USERS_PAGE_SIZE,
    )
    .await?
    .into_iter()
    .map(|(u, apps)| UserRow {
        org_name: u.org_code.as_ref().and_then(|c| department_names.get(c)).cloned(),
        user_name: u.user_name,
        name: u.name,
        org_code: u.org_code,
        role: u.role,
        enabled: u.enabled,
        granted: !apps.is_empty(),
        apps,
    })
    .collect();
    let calls = store::events::for_tenant(conn, &tenant_id, &instance_ids, 20).await?;
    let base = format!("/admin/tenants/{}", urlencode(&tenant_id));
    let refs: Vec<&instance::Model> = bound.iter().collect();
    let view = TenantOverview {
        tenant: TenantFacts {
            status: lists::standing(&row, &refs)?,
            created_at: when(row.created_at),
            updated_at: when(row.updated_at),
            tenant_id: row.tenant_id,
            tenant_code: row.tenant_code,
            name: row.name,
            domain_name: row.domain_name,
            test: row.test_flag,
            deleted: row.deleted,
        },
        done: query.done.as_deref().and_then(done_message),
        instances,
        apps,
        sign_in: super::sign_in::SignInView::of(&state, &tenant_id).await?,
        dialects: crate::sso::dialects::SignInDialect::ALL.to_vec(),
        tree: crate::department_tree::forest(departments),
        department_count,
        users,
        user_count,
        users_pager: Links {
            path: &base,
            filters: vec![],
            sorting: users_sorting,
            prefix: "users_",
            anchor: "#users",
        }
        .pager(users_page, user_count, USERS_PAGE_SIZE, Some(&format!("{base}/users.csv"))),
        calls: calls.iter().map(EventRow::from).collect(),
        events_link: format!("/admin/events?tenant={}", urlencode(&tenant_id)),
        back: base,
    };
    render(&state, &viewer, "admin/tenant.html", &view)
}

/// What an action's redirect (`?done=`, see `actions`) tells the operator
/// it did: a catalogue key.
fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "frozen" => Some("admin.tenant.done_frozen"),
        "unfrozen" => Some("admin.tenant.done_unfrozen"),
        "unchanged" => Some("admin.tenant.done_unchanged"),
        "sign_in" => Some("admin.tenant.done_sign_in"),
        _ => None,
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
