//! `/admin/api/*` (ARCHITECTURE §4): field names and types are a contract.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::access::{FreezeCause, InstanceStatus};
use crate::error::Error;
use crate::state::AppState;
use crate::store;
use entity::{event, instance};

/// Proof that the request carried `Authorization: Bearer {admin.api_token}`.
/// Admin handlers take it as an argument, so none can forget the check.
///
/// # Security
/// Compared in constant time; an empty configured token disables the API
/// (every request is refused).
pub struct AdminAccess;

impl FromRequest for AdminAccess {
    type Error = Error;
    type Future = Ready<Result<AdminAccess, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check_bearer(req))
    }
}

fn check_bearer(req: &HttpRequest) -> Result<AdminAccess, Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| Error::Internal("no state".to_string()))?;
    if !crate::bearer::presented(req, state.settings.admin.api_token.expose_secret()) {
        return Err(Error::Unauthenticated("a valid admin bearer token is required"));
    }
    Ok(AdminAccess)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    pub instance_id: String,
    pub status: InstanceStatus,
    pub trial: bool,
    pub frozen_reason: Option<FreezeCause>,
    pub expire_time: Option<String>,
    pub order_id: String,
    pub order_line_id: Option<String>,
    pub product_id: Option<String>,
    pub sku_code: Option<String>,
    pub customer_id: Option<String>,
    pub tenant_id: Option<String>,
    pub test_flag: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl InstanceView {
    /// The row, its status parsed at the store boundary.
    fn new(row: instance::Model) -> Result<InstanceView, Error> {
        Ok(InstanceView {
            status: store::instances::status(&row)?,
            frozen_reason: store::instances::freeze_cause(&row),
            instance_id: row.instance_id,
            trial: row.trial,
            expire_time: row.expire_time,
            order_id: row.order_id,
            order_line_id: row.order_line_id,
            product_id: row.product_id,
            sku_code: row.sku_code,
            customer_id: row.customer_id,
            tenant_id: row.tenant_id,
            test_flag: row.test_flag,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: i64,
    pub received_at: String,
    pub channel: String,
    pub activity: String,
    pub result_code: String,
    pub instance_id: Option<String>,
    pub tenant_id: Option<String>,
}

impl From<event::Model> for EventView {
    fn from(row: event::Model) -> Self {
        EventView {
            id: row.id,
            received_at: rfc3339(row.received_at),
            channel: row.channel,
            activity: row.activity,
            result_code: row.result_code,
            instance_id: row.instance_id,
            tenant_id: row.tenant_id,
        }
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `GET /admin/api/instances/{instanceId}`
#[utoipa::path(get, path = "/admin/api/instances/{instanceId}", operation_id = "adminInstance", tag = "admin",
    security(("adminToken" = [])),
    params(("instanceId" = String, Path, description = "The marketplace's instance id.")),
    responses((status = 200, description = "The instance, released ones too, with its entitlement.", body = InstanceDetail), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn instance(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let conn = &state.db.conn;
    let row = store::instances::find(conn, &path.into_inner()).await?.ok_or(Error::NotFound)?;
    let entitlement = crate::open_api::entitlement::of_instance(conn, &row).await?;
    Ok(HttpResponse::Ok().json(InstanceDetail { view: InstanceView::new(row)?, entitlement }))
}

/// One instance, with what it is entitled to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct InstanceDetail {
    #[serde(flatten)]
    view: InstanceView,
    entitlement: crate::open_api::entitlement::Entitlement,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct InstanceQuery {
    order_id: Option<String>,
    tenant_id: Option<String>,
    #[param(value_type = Option<InstanceStatus>)]
    status: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<u64>,
}

/// `GET /admin/api/instances?orderId&tenantId&status&limit`
#[utoipa::path(get, path = "/admin/api/instances", operation_id = "adminInstances", tag = "admin",
    security(("adminToken" = [])),
    params(InstanceQuery),
    responses((status = 200, description = "The matching instances.", body = Vec<InstanceView>), crate::openapi::BadRequest, crate::openapi::Refusals))]
pub async fn list_instances(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: web::Query<InstanceQuery>,
) -> Result<HttpResponse, Error> {
    let query = query.into_inner();
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(
            InstanceStatus::parse(s)
                .ok_or_else(|| Error::invalid("status must be active, frozen or released"))?,
        ),
    };
    let filter = store::instances::ListFilter {
        order_id: query.order_id,
        tenant_id: query.tenant_id,
        status,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
        ..Default::default()
    };
    let rows = store::instances::list(&state.db.conn, &filter).await?;
    let views = rows.into_iter().map(InstanceView::new).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// At most this many (1 to 1000, default 100).
    limit: Option<u64>,
}

/// `GET /admin/api/events?limit=N`, newest first.
#[utoipa::path(get, path = "/admin/api/events", operation_id = "adminEvents", tag = "admin",
    security(("adminToken" = [])),
    params(EventQuery),
    responses((status = 200, description = "The latest marketplace and operator calls, newest first.", body = Vec<EventView>), crate::openapi::BadRequest, crate::openapi::Refusals))]
pub async fn events(
    _: AdminAccess,
    state: web::Data<AppState>,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, Error> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows = store::events::latest(&state.db.conn, limit).await?;
    let views: Vec<EventView> = rows.into_iter().map(EventView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    pub tenant_id: String,
    pub tenant_code: String,
    pub name: String,
    pub domain_name: String,
    pub test_flag: bool,
    pub deleted: bool,
    pub instance_ids: Vec<String>,
    pub apps: Vec<AppView>,
    pub department_count: u64,
    pub user_count: u64,
    pub sign_in: super::sign_in::SignInView,
}

/// An app of a tenant: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub app_id: String,
    pub client_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentView {
    pub org_code: String,
    pub org_name: String,
    pub parent_code: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub user_name: String,
    pub name: String,
    pub org_code: Option<String>,
    pub role: String,
    pub enabled: bool,
    pub granted: bool,
}

/// `GET /admin/api/tenants/{tenantId}`
#[utoipa::path(get, path = "/admin/api/tenants/{tenantId}", operation_id = "adminTenant", tag = "admin",
    security(("adminToken" = [])),
    params(("tenantId" = String, Path, description = "The marketplace's tenant id.")),
    responses((status = 200, description = "The tenant, deleted ones too.", body = TenantView), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn tenant(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let conn = &state.db.conn;
    let tenant_id = path.into_inner();
    let row = store::tenants::find(conn, &tenant_id).await?.ok_or(Error::NotFound)?;
    let apps = store::apps::for_tenant(conn, &tenant_id)
        .await?
        .into_iter()
        .map(|a| AppView { app_id: a.app_id, client_id: a.client_id })
        .collect();
    Ok(HttpResponse::Ok().json(TenantView {
        instance_ids: store::tenants::instance_ids(conn, &tenant_id).await?,
        department_count: store::departments::count_live(conn, &tenant_id).await?,
        user_count: store::users::count(conn, &tenant_id).await?,
        sign_in: super::sign_in::SignInView::of(&state, &tenant_id).await?,
        apps,
        tenant_id: row.tenant_id,
        tenant_code: row.tenant_code,
        name: row.name,
        domain_name: row.domain_name,
        test_flag: row.test_flag,
        deleted: row.deleted,
    }))
}

/// `GET /admin/api/tenants/{tenantId}/departments`: the live ones.
#[utoipa::path(get, path = "/admin/api/tenants/{tenantId}/departments", operation_id = "adminDepartments", tag = "admin",
    security(("adminToken" = [])),
    params(("tenantId" = String, Path, description = "The marketplace's tenant id.")),
    responses((status = 200, description = "The live departments.", body = Vec<DepartmentView>), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn departments(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let tenant_id = path.into_inner();
    store::tenants::find(&state.db.conn, &tenant_id).await?.ok_or(Error::NotFound)?;
    let views: Vec<DepartmentView> = store::departments::live(&state.db.conn, &tenant_id)
        .await?
        .into_iter()
        .map(|d| DepartmentView {
            org_code: d.org_code,
            org_name: d.org_name,
            parent_code: d.parent_code,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// `GET /admin/api/tenants/{tenantId}/users`
#[utoipa::path(get, path = "/admin/api/tenants/{tenantId}/users", operation_id = "adminUsers", tag = "admin",
    security(("adminToken" = [])),
    params(("tenantId" = String, Path, description = "The marketplace's tenant id.")),
    responses((status = 200, description = "Every user of the tenant, granted or not.", body = Vec<UserView>), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn users(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let tenant_id = path.into_inner();
    store::tenants::find(&state.db.conn, &tenant_id).await?.ok_or(Error::NotFound)?;
    let views: Vec<UserView> = store::users::list(&state.db.conn, &tenant_id)
        .await?
        .into_iter()
        .map(|(u, granted)| UserView {
            user_name: u.user_name,
            name: u.name,
            org_code: u.org_code,
            role: u.role,
            enabled: u.enabled,
            granted,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
