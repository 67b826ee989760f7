//! `/app-api/v1/*`: what the vendor's own app may read about its tenants
//! (org pickers, user lists) without speaking the marketplace protocol.
//! Authenticated by `upstream.api_token`; answers only for tenants the
//! access rule calls open or frozen: a released or deleted tenant is gone
//! for the app, as it is for its users.
//!
//! Personal fields (email, phone) are not served: the app receives the
//! signed-in user's own at sign-in (`/sso/me`).

pub mod usage;

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::access::{self, InstanceStatus, TenantAccess, TenantStatus};
use crate::error::Error;
use crate::state::AppState;
use crate::store;
use entity::tenant;

/// Proof that the request carried `Authorization: Bearer {upstream.api_token}`.
pub struct AppAccess;

impl FromRequest for AppAccess {
    type Error = Error;
    type Future = Ready<Result<AppAccess, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let allowed = req.app_data::<web::Data<AppState>>().is_some_and(|state| {
            crate::bearer::presented(req, state.settings.upstream.api_token.expose_secret())
        });
        ready(if allowed {
            Ok(AppAccess)
        } else {
            Err(Error::Unauthenticated("a valid app bearer token is required"))
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AppTenant)]
#[serde(rename_all = "camelCase")]
struct TenantView {
    tenant_id: String,
    tenant_code: String,
    name: String,
    /// `active` or `frozen`.
    status: TenantStatus,
    /// The active instance that opens the tenant, if any.
    instance_id: Option<String>,
    test_flag: bool,
    /// One per live (not released) bound instance.
    entitlements: Vec<InstanceEntitlement>,
}

/// An instance's entitlement, named by its instance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct InstanceEntitlement {
    instance_id: String,
    #[serde(flatten)]
    entitlement: crate::open_api::entitlement::Entitlement,
}

/// The tenant if it is live (open or frozen) with its access; 404
/// otherwise.
async fn live_tenant(
    state: &AppState,
    tenant_id: &str,
) -> Result<(tenant::Model, TenantAccess), Error> {
    let conn = &state.db.conn;
    let row = store::tenants::find(conn, tenant_id).await?.ok_or(Error::NotFound)?;
    match access::of_tenant(conn, &row).await? {
        TenantAccess::Released | TenantAccess::Deleted => Err(Error::NotFound),
        live => Ok((row, live)),
    }
}

/// `GET /app-api/v1/tenants/{tenantId}`
#[utoipa::path(get, path = "/app-api/v1/tenants/{tenantId}", operation_id = "appTenant", tag = "app",
    security(("appToken" = [])),
    params(("tenantId" = String, Path, description = "The marketplace's tenant id.")),
    responses((status = 200, description = "A live (open or frozen) tenant.", body = TenantView), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn tenant(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let (row, access) = live_tenant(&state, &path.into_inner()).await?;
    let entitlements = entitlements_of(&state.db.conn, &row.tenant_id).await?;
    Ok(HttpResponse::Ok().json(TenantView {
        status: access.status(),
        instance_id: access.instance_id().map(str::to_string),
        tenant_id: row.tenant_id,
        tenant_code: row.tenant_code,
        name: row.name,
        test_flag: row.test_flag,
        entitlements,
    }))
}

async fn entitlements_of(
    conn: &impl sea_orm::ConnectionTrait,
    tenant_id: &str,
) -> Result<Vec<InstanceEntitlement>, Error> {
    let mut out = Vec::new();
    for (_, instance) in store::tenants::instances_of(conn, &[tenant_id.to_string()]).await? {
        if store::instances::status(&instance)? == InstanceStatus::Released {
            continue;
        }
        let entitlement = crate::open_api::entitlement::of_instance(conn, &instance).await?;
        out.push(InstanceEntitlement { instance_id: instance.instance_id, entitlement });
    }
    Ok(out)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AppInstance)]
#[serde(rename_all = "camelCase")]
struct InstanceView {
    instance_id: String,
    tenant_ids: Vec<String>,
    /// `active` or `frozen`.
    status: InstanceStatus,
    entitlement: crate::open_api::entitlement::Entitlement,
}

/// `GET /app-api/v1/instances/{instanceId}`: a live instance, its tenants
/// and what it is entitled to; 404 for an unknown or released one.
#[utoipa::path(get, path = "/app-api/v1/instances/{instanceId}", operation_id = "appInstance", tag = "app",
    security(("appToken" = [])),
    params(("instanceId" = String, Path, description = "The marketplace's instance id.")),
    responses((status = 200, description = "A live (active or frozen) instance.", body = InstanceView), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn instance(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let conn = &state.db.conn;
    let row = store::instances::find(conn, &path.into_inner()).await?.ok_or(Error::NotFound)?;
    let status = store::instances::status(&row)?;
    if status == InstanceStatus::Released {
        return Err(Error::NotFound);
    }
    let entitlement = crate::open_api::entitlement::of_instance(conn, &row).await?;
    let tenant_ids = store::tenants::bound_by(conn, &row.instance_id).await?;
    Ok(HttpResponse::Ok().json(InstanceView {
        instance_id: row.instance_id,
        tenant_ids,
        status,
        entitlement,
    }))
}

/// `GET /app-api/v1/tenants/{tenantId}/departments`: the live departments
/// as a tree, children sorted by code. A department whose parent has not
/// arrived yet is listed at the top.
#[utoipa::path(get, path = "/app-api/v1/tenants/{tenantId}/departments", operation_id = "appDepartments", tag = "app",
    security(("appToken" = [])),
    params(("tenantId" = String, Path, description = "The marketplace's tenant id.")),
    responses((status = 200, description = "The live departments as a forest.", body = Vec<crate::department_tree::DepartmentNode>), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn departments(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let (row, _) = live_tenant(&state, &path.into_inner()).await?;
    let rows = store::departments::live(&state.db.conn, &row.tenant_id).await?;
    Ok(HttpResponse::Ok().json(crate::department_tree::forest(rows)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AppUser)]
#[serde(rename_all = "camelCase")]
struct UserView {
    user_name: String,
    name: String,
    org_code: Option<String>,
    role: String,
    enabled: bool,
}

/// `GET /app-api/v1/tenants/{tenantId}/users`: the users granted the app.
#[utoipa::path(get, path = "/app-api/v1/tenants/{tenantId}/users", operation_id = "appUsers", tag = "app",
    security(("appToken" = [])),
    params(("tenantId" = String, Path, description = "The marketplace's tenant id.")),
    responses((status = 200, description = "The users granted the app.", body = Vec<UserView>), crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn users(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let (row, _) = live_tenant(&state, &path.into_inner()).await?;
    let views: Vec<UserView> = store::users::list(&state.db.conn, &row.tenant_id)
        .await?
        .into_iter()
        .filter(|(_, granted)| *granted)
        .map(|(u, _)| UserView {
            user_name: u.user_name,
            name: u.name,
            org_code: u.org_code,
            role: u.role,
            enabled: u.enabled,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
