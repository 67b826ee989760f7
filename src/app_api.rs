//! `/app-api/v1/*`: what the vendor's own app may read about its tenants
//! (org pickers, user lists) without speaking the marketplace protocol.
//! Authenticated by `upstream.api_token`; answers only for live tenants
//! (bound to an active or frozen instance, not deleted): a released or
//! deleted tenant is gone for the app, as it is for its users.
//!
//! Personal fields (email, phone) are not served: the app receives the
//! signed-in user's own at sign-in (`/sso/me`).

use std::collections::HashMap;
use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::error::Error;
use crate::state::AppState;
use crate::store::{self, tenants::Access};
use entity::{department, tenant};

/// Nesting deeper than this is listed flat at this depth: a synced chain
/// of thousands of departments must not exhaust a worker's stack.
const MAX_DEPTH: usize = 64;

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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantView {
    tenant_id: String,
    tenant_code: String,
    name: String,
    /// `active` or `frozen`.
    status: &'static str,
    /// The active instance that opens the tenant, if any.
    instance_id: Option<String>,
    test_flag: bool,
    /// One per live (not released) bound instance.
    entitlements: Vec<InstanceEntitlement>,
}

/// An instance's entitlement, named by its instance.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceEntitlement {
    instance_id: String,
    #[serde(flatten)]
    entitlement: crate::open_api::entitlement::Entitlement,
}

/// The tenant if it is live, with its status; 404 otherwise.
async fn live_tenant(
    state: &AppState,
    tenant_id: &str,
) -> Result<(tenant::Model, &'static str, Option<String>), Error> {
    let conn = &state.db.conn;
    let row = store::tenants::find(conn, tenant_id)
        .await?
        .filter(|t| !t.deleted)
        .ok_or(Error::NotFound)?;
    match store::tenants::access(conn, &row).await? {
        (Access::Open, instance_id) => Ok((row, "active", instance_id)),
        (Access::Frozen, _) => Ok((row, "frozen", None)),
        (Access::Released, _) => Err(Error::NotFound),
    }
}

/// `GET /app-api/v1/tenants/{tenantId}`
pub async fn tenant(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let (row, status, instance_id) = live_tenant(&state, &path.into_inner()).await?;
    let entitlements = entitlements_of(&state.db.conn, &row.tenant_id).await?;
    Ok(HttpResponse::Ok().json(TenantView {
        tenant_id: row.tenant_id,
        tenant_code: row.tenant_code,
        name: row.name,
        status,
        instance_id,
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
        if instance.status == crate::lifecycle::Status::Released.as_str() {
            continue;
        }
        let entitlement = crate::open_api::entitlement::of_instance(conn, &instance).await?;
        out.push(InstanceEntitlement { instance_id: instance.instance_id, entitlement });
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceView {
    instance_id: String,
    tenant_ids: Vec<String>,
    /// `active` or `frozen`.
    status: String,
    entitlement: crate::open_api::entitlement::Entitlement,
}

/// `GET /app-api/v1/instances/{instanceId}`: a live instance, its tenants
/// and what it is entitled to; 404 for an unknown or released one.
pub async fn instance(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let conn = &state.db.conn;
    let row = store::instances::find(conn, &path.into_inner())
        .await?
        .filter(|i| i.status != crate::lifecycle::Status::Released.as_str())
        .ok_or(Error::NotFound)?;
    let entitlement = crate::open_api::entitlement::of_instance(conn, &row).await?;
    let tenant_ids = store::tenants::bound_by(conn, &row.instance_id).await?;
    Ok(HttpResponse::Ok().json(InstanceView {
        instance_id: row.instance_id,
        tenant_ids,
        status: row.status,
        entitlement,
    }))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DepartmentNode {
    org_code: String,
    org_name: String,
    parent_code: Option<String>,
    children: Vec<DepartmentNode>,
}

/// `GET /app-api/v1/tenants/{tenantId}/departments`: the live departments
/// as a tree, children sorted by code. A department whose parent has not
/// arrived yet is listed at the top.
pub async fn departments(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let (row, _, _) = live_tenant(&state, &path.into_inner()).await?;
    let rows = store::departments::live(&state.db.conn, &row.tenant_id).await?;
    Ok(HttpResponse::Ok().json(tree(rows)))
}

/// Builds the forest without recursion: nodes are attached bottom-up, in
/// reverse breadth-first order, so each node's children are complete
/// before it is moved into its parent.
fn tree(rows: Vec<department::Model>) -> Vec<DepartmentNode> {
    let known: std::collections::HashSet<String> =
        rows.iter().map(|d| d.org_code.clone()).collect();
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    let mut roots = Vec::new();
    let mut nodes: HashMap<String, DepartmentNode> = HashMap::new();
    for d in rows {
        match d.parent_code.as_deref().filter(|p| !p.is_empty() && known.contains(*p)) {
            Some(parent) => {
                children.entry(parent.to_string()).or_default().push(d.org_code.clone())
            }
            None => roots.push(d.org_code.clone()),
        }
        nodes.insert(
            d.org_code.clone(),
            DepartmentNode {
                org_code: d.org_code,
                org_name: d.org_name,
                parent_code: d.parent_code.filter(|p| !p.is_empty()),
                children: Vec::new(),
            },
        );
    }
    // Breadth-first from the roots: each code with the node it goes under.
    let mut order: Vec<(String, Option<String>)> = Vec::new();
    let mut level: Vec<(String, Option<String>)> =
        roots.iter().map(|r| (r.clone(), None)).collect();
    let mut depth = 0;
    while !level.is_empty() {
        let mut next = Vec::new();
        for (code, attach_to) in level {
            // Past MAX_DEPTH, children go beside their parent instead.
            let children_under =
                if depth + 1 < MAX_DEPTH { Some(code.clone()) } else { attach_to.clone() };
            for child in children.get(&code).into_iter().flatten() {
                next.push((child.clone(), children_under.clone()));
            }
            order.push((code, attach_to));
        }
        level = next;
        depth += 1;
    }
    for (code, attach_to) in order.iter().rev() {
        let Some(attach_to) = attach_to else { continue };
        if let Some(node) = nodes.remove(code) {
            if let Some(parent) = nodes.get_mut(attach_to) {
                parent.children.push(node);
            }
        }
    }
    let mut forest: Vec<DepartmentNode> =
        roots.iter().filter_map(|code| nodes.remove(code)).collect();
    sort(&mut forest);
    forest
}

/// Sorts every level by code, without recursion.
fn sort(forest: &mut Vec<DepartmentNode>) {
    let mut pending: Vec<&mut Vec<DepartmentNode>> = vec![forest];
    while let Some(list) = pending.pop() {
        list.sort_by(|a, b| a.org_code.cmp(&b.org_code));
        for node in list.iter_mut() {
            pending.push(&mut node.children);
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserView {
    user_name: String,
    name: String,
    org_code: Option<String>,
    role: String,
    enabled: bool,
}

/// `GET /app-api/v1/tenants/{tenantId}/users`: the users granted the app.
pub async fn users(
    _: AppAccess,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let (row, _, _) = live_tenant(&state, &path.into_inner()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn department(code: &str, parent: &str) -> department::Model {
        department::Model {
            tenant_id: "t".into(),
            org_code: code.into(),
            org_name: format!("name {code}"),
            parent_code: Some(parent.into()),
            retired: false,
            sync_mark: String::new(),
            updated_at: chrono::Utc::now(),
        }
    }

    /// A chain of 10,000 departments is served whole, nested no deeper
    /// than MAX_DEPTH, without recursion anywhere.
    #[test]
    fn a_very_deep_chain_is_kept_whole_and_bounded_in_depth() {
        let mut rows = vec![department("0", "")];
        rows.extend((1..10_000).map(|i| department(&i.to_string(), &(i - 1).to_string())));
        let forest = tree(rows);
        let (mut count, mut deepest) = (0, 0);
        let mut pending: Vec<(&DepartmentNode, usize)> = forest.iter().map(|n| (n, 1)).collect();
        while let Some((node, depth)) = pending.pop() {
            count += 1;
            deepest = deepest.max(depth);
            pending.extend(node.children.iter().map(|c| (c, depth + 1)));
        }
        assert_eq!(count, 10_000);
        assert_eq!(deepest, MAX_DEPTH);
    }
}
