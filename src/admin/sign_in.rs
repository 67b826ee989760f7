//! How a tenant's users sign in, as an operator sets it: `PUT
//! /admin/api/tenants/{tenantId}/sign-in` and the form on the tenant's
//! page. A refused choice (unknown dialect, bad URL) changes nothing.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::api::AdminAccess;
use super::auth::Operator;
use super::render::PageResult;
use crate::error::Error;
use crate::sso::dialects::{self, SignInDialect};
use crate::state::AppState;
use crate::store;

/// A tenant's sign-in: the dialect in force (its own or the site's),
/// its base URL when one is set, and what auto-detection last found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInView {
    pub dialect: SignInDialect,
    pub base_url: Option<String>,
    /// `koogallery` or `oidc` as discovery last found the tenant's domain
    /// (in this process); null before its first sign-in here.
    pub detected: Option<SignInDialect>,
}

impl SignInView {
    pub async fn of(state: &AppState, tenant_id: &str) -> Result<SignInView, Error> {
        let choice = dialects::choice_of(&state.db.conn, &state.settings.sso, tenant_id).await?;
        let detected = state.oidc.seen(tenant_id).map(|oidc| {
            if oidc {
                SignInDialect::Oidc
            } else {
                SignInDialect::KooGallery
            }
        });
        Ok(SignInView { dialect: choice.dialect, base_url: choice.base_url, detected })
    }
}

/// The body of `PUT /admin/api/tenants/{tenantId}/sign-in`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInChange {
    /// `auto`, `koogallery`, `oidc`, `orgid` or `cas`.
    pub dialect: String,
    /// The auth centre's base URL when it is not the tenant's
    /// `domainName` (for `orgid`: not `sso.orgid_url`); absent or empty
    /// clears it.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// `PUT /admin/api/tenants/{tenantId}/sign-in`
#[utoipa::path(put, path = "/admin/api/tenants/{tenantId}/sign-in", operation_id = "adminSetTenantSignIn", tag = "admin",
    security(("adminToken" = [])),
    params(("tenantId" = String, Path, description = "The marketplace's tenant id.")),
    request_body = SignInChange,
    responses((status = 200, description = "The tenant's sign-in as now set.", body = SignInView), crate::openapi::BadRequest, crate::openapi::NotFound, crate::openapi::Refusals))]
pub async fn put(
    _: AdminAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let tenant_id = path.into_inner();
    let change: SignInChange = serde_json::from_slice(&body).map_err(|_| {
        Error::invalid("the body must be JSON: {\"dialect\": \"…\", \"baseUrl\": \"…\"}")
    })?;
    set(&state, &tenant_id, &change).await?;
    tracing::info!(tenant_id, dialect = %change.dialect, "the tenant's sign-in was set through the admin API");
    Ok(HttpResponse::Ok().json(SignInView::of(&state, &tenant_id).await?))
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf_token: String,
    dialect: String,
    #[serde(default)]
    base_url: String,
}

/// `POST /admin/tenants/{tenantId}/sign-in`: the tenant page's form.
pub async fn form(
    state: web::Data<AppState>,
    operator: Operator,
    path: web::Path<String>,
    form: web::Form<SignInForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    // How a tenant signs in is configuration: an admin's to change.
    operator.require(super::roles::Role::Admin)?;
    let tenant_id = path.into_inner();
    let change =
        SignInChange { dialect: form.dialect.clone(), base_url: Some(form.base_url.clone()) };
    set(&state, &tenant_id, &change).await?;
    tracing::info!(username = %operator.username, tenant_id, dialect = %change.dialect, "operator set a tenant's sign-in");
    let back = format!(
        "/admin/tenants/{}?done=sign_in",
        form_urlencoded::byte_serialize(tenant_id.as_bytes()).collect::<String>()
    );
    Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, back)).finish())
}

/// The choice checked, then stored for a tenant koogate knows.
async fn set(state: &AppState, tenant_id: &str, change: &SignInChange) -> Result<(), Error> {
    store::tenants::find(&state.db.conn, tenant_id).await?.ok_or(Error::NotFound)?;
    let choice = dialects::parse_choice(&change.dialect, change.base_url.as_deref())?;
    let tx = state.db.begin_write().await?;
    dialects::set_choice(&tx.txn, tenant_id, &choice).await?;
    tx.commit().await?;
    Ok(())
}
