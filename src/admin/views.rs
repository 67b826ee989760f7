//! What the admin pages show, one `Serialize` type per answer: the same
//! value fills a page's template and, under `/admin/api/`, is the JSON
//! answer (keys in camelCase for both).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::listing::{KeysetLinks, Pager};
use crate::access::{FreezeCause, InstanceStatus, TenantStatus};
use crate::department_tree::DepartmentNode;
use crate::inbound::Channel;
use entity::{event, instance, transition};

/// Times as operators read them: UTC, to the second.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Whether a stored result code is the marketplace's success.
fn succeeded(result_code: &str) -> bool {
    result_code == "000000"
}

/// `GET /admin` (`/admin/api/dashboard`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub by_status: Vec<StatusCount>,
    pub tenants: u64,
    pub test_tenants: u64,
    pub users_granted: i64,
    pub calls: Vec<ResultCount>,
    pub failures: Vec<EventRow>,
    /// Marketplace calls per hour over seven days, by success.
    pub chart: super::chart::CallChart,
    /// Active instances that expire within 30 days, soonest first.
    pub expiring: Vec<InstanceRow>,
    pub outbox: OutboxState,
    /// Reconciliation findings waiting for an operator.
    pub drift_findings: u64,
    /// Usage records waiting to be pushed, refused by the marketplace, and
    /// waiting close to its 21-day limit.
    pub usage_pending: u64,
    pub usage_refused: u64,
    pub usage_flagged: u64,
}

/// The webhook outbox at a glance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxState {
    pub pending: u64,
    pub dead: u64,
    pub oldest_pending_age_seconds: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub status: InstanceStatus,
    pub production: i64,
    pub test: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultCount {
    pub code: String,
    pub count: i64,
    pub ok: bool,
}

impl ResultCount {
    pub fn new(code: String, count: i64) -> ResultCount {
        ResultCount { ok: succeeded(&code), code, count }
    }
}

/// `GET /admin/tenants` (`/admin/api/tenants`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantList {
    pub tenants: Vec<TenantRow>,
    pub total: u64,
    pub pager: Pager,
    pub q: String,
    pub status: String,
    pub test: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantRow {
    pub tenant_id: String,
    pub tenant_code: String,
    pub name: String,
    pub test: bool,
    pub status: TenantStatus,
    pub instances: usize,
    pub updated_at: String,
}

/// `GET /admin/tenants/{tenantId}` (`/admin/api/tenants/{tenantId}/overview`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantOverview {
    pub tenant: TenantFacts,
    #[schema(value_type = Option<String>)]
    pub done: Option<&'static str>,
    pub instances: Vec<InstanceRow>,
    pub apps: Vec<AppRow>,
    pub sign_in: super::sign_in::SignInView,
    /// The dialects an operator may choose, for the form.
    pub dialects: Vec<crate::sso::dialects::SignInDialect>,
    pub tree: Vec<DepartmentNode>,
    pub department_count: usize,
    pub users: Vec<UserRow>,
    pub user_count: u64,
    pub users_pager: Pager,
    pub calls: Vec<EventRow>,
    pub events_link: String,
    pub back: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantFacts {
    pub tenant_id: String,
    pub tenant_code: String,
    pub name: String,
    pub domain_name: String,
    pub test: bool,
    pub deleted: bool,
    pub status: TenantStatus,
    pub created_at: String,
    pub updated_at: String,
}

/// An app of a tenant: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRow {
    pub app_id: String,
    pub client_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub user_name: String,
    pub name: String,
    pub org_code: Option<String>,
    /// The department's name; none when it was deleted or never synced
    /// (the page shows the code).
    pub org_name: Option<String>,
    pub role: String,
    pub enabled: bool,
    pub granted: bool,
    pub apps: Vec<String>,
}

/// An instance as the lists show it (with its history on a tenant's page).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRow {
    pub instance_id: String,
    pub status: InstanceStatus,
    pub trial: bool,
    pub frozen_reason: Option<FreezeCause>,
    pub expire_time: Option<String>,
    pub order_id: String,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub tenant_id: Option<String>,
    pub test: bool,
    pub created_at: String,
    pub can_freeze: bool,
    pub can_unfreeze: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryRow>>,
}

impl InstanceRow {
    /// The row, its status parsed at the store boundary.
    pub fn new(i: &instance::Model, status: InstanceStatus) -> InstanceRow {
        InstanceRow {
            instance_id: i.instance_id.clone(),
            status,
            trial: i.trial,
            frozen_reason: crate::store::instances::freeze_cause(i),
            expire_time: i.expire_time.clone(),
            order_id: i.order_id.clone(),
            product_id: i.product_id.clone(),
            sku_code: i.sku_code.clone(),
            tenant_id: i.tenant_id.clone(),
            test: i.test_flag,
            created_at: when(i.created_at),
            can_freeze: status == InstanceStatus::Active,
            can_unfreeze: status == InstanceStatus::Frozen,
            history: None,
        }
    }
}

/// One state change of an instance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    pub from: String,
    pub to: String,
    pub cause: String,
    pub when: String,
    pub event_id: Option<i64>,
}

impl From<&transition::Model> for HistoryRow {
    fn from(t: &transition::Model) -> HistoryRow {
        HistoryRow {
            from: t.from_status.clone(),
            to: t.to_status.clone(),
            cause: t.cause.clone(),
            when: when(t.created_at),
            event_id: t.event_id,
        }
    }
}

/// `GET /admin/instances` (no API twin: `/admin/api/instances` is the
/// contract's list).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceList {
    pub instances: Vec<InstanceRow>,
    pub total: u64,
    pub pager: Pager,
    pub status: String,
    pub tenant: String,
    pub order: String,
}

/// An event as the lists show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    pub id: i64,
    pub received_at: String,
    pub channel: String,
    pub activity: String,
    pub result_code: String,
    pub result_msg: String,
    pub ok: bool,
    pub instance_id: Option<String>,
    pub tenant_id: Option<String>,
    pub test: bool,
    pub duration_ms: i64,
    pub replay_of: Option<i64>,
}

impl From<&event::Model> for EventRow {
    fn from(e: &event::Model) -> EventRow {
        EventRow {
            id: e.id,
            received_at: when(e.received_at),
            channel: e.channel.clone(),
            activity: e.activity.clone(),
            result_code: e.result_code.clone(),
            result_msg: e.result_msg.clone(),
            ok: succeeded(&e.result_code),
            instance_id: e.instance_id.clone(),
            tenant_id: e.tenant_id.clone(),
            test: e.test_flag,
            duration_ms: e.duration_ms,
            replay_of: e.replay_of,
        }
    }
}

/// `GET /admin/events` (`/admin/api/events/filtered`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    pub events: Vec<EventRow>,
    /// The next page in the order shown (older events newest first, newer
    /// ones oldest first); the same as `links.next`.
    pub older: Option<String>,
    /// Whether this page came from a cursor (is not the first).
    pub newest: bool,
    /// The first page with the same filters and order.
    pub first: String,
    /// The same filters and order as CSV.
    pub csv: String,
    /// The order shown, either order's first page, and the next page.
    pub links: KeysetLinks,
    #[schema(value_type = Vec<String>)]
    pub channels: [&'static str; 5],
    pub filter: EventFilter,
}

/// The filter as the operator typed it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventFilter {
    pub channel: String,
    pub activity: String,
    pub result: String,
    pub tenant: String,
    pub instance: String,
    pub since: String,
    pub until: String,
}

/// `GET /admin/events/{id}` (`/admin/api/events/{id}`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub event: EventDetail,
    pub latest_replay: Option<EventRow>,
    pub replayed: bool,
}

/// An event with its redacted request and the answer sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    #[serde(flatten)]
    pub row: EventRow,
    pub request: String,
    pub response: String,
    pub detail: Option<String>,
    pub order_id: Option<String>,
    pub replayable: bool,
}

impl From<&event::Model> for EventDetail {
    fn from(e: &event::Model) -> EventDetail {
        EventDetail {
            row: EventRow::from(e),
            request: pretty(&e.request),
            response: pretty(&e.response),
            detail: e.detail.as_deref().map(pretty),
            order_id: e.order_id.clone(),
            replayable: e.replay_sealed.is_some()
                && Channel::parse(&e.channel) != Some(Channel::Operator),
        }
    }
}

/// JSON laid out for reading; anything else as it is.
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}
