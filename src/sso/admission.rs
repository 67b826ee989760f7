//! Who may sign in: the one place sign-in asks the access rule. A tenant
//! must be known, open (not frozen or released) and have app credentials;
//! a user must be granted and enabled; a local account's subscription must
//! be active. Everything else in sign-in calls these functions.

use sea_orm::ConnectionTrait;

use super::refusal::{Holder, Refusal};
use crate::access::{self, InstanceStatus, SignIn, TenantAccess};
use crate::store;
use entity::{instance, tenant, tenant_app, user};

/// The tenant and its app, if its users may sign in now; the tenant's
/// access (which names the active instance that opens it) comes with them.
pub async fn usable_tenant(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<(tenant::Model, tenant_app::Model, TenantAccess), Refusal> {
    let tenant = store::tenants::find(conn, tenant_id)
        .await?
        .filter(|t| !t.deleted)
        .ok_or(Refusal::UnknownOrganisation)?;
    let access = tenant_open(conn, &tenant).await?;
    let app = store::apps::for_tenant(conn, tenant_id)
        .await?
        .into_iter()
        .find(|a| a.client_secret_sealed.is_some())
        .ok_or_else(|| {
            tracing::warn!(tenant_id, "sign-in refused: the tenant has no app credentials yet");
            Refusal::NotReady
        })?;
    Ok((tenant, app, access))
}

/// Whether the tenant's users may use the app now (the one access rule).
pub async fn tenant_open(
    conn: &impl ConnectionTrait,
    tenant: &tenant::Model,
) -> Result<TenantAccess, Refusal> {
    match access::of_tenant(conn, tenant).await? {
        open @ TenantAccess::Open { .. } => Ok(open),
        TenantAccess::Frozen => Err(Refusal::Suspended(Holder::Organisation)),
        TenantAccess::Released | TenantAccess::Deleted => Err(Refusal::Ended(Holder::Organisation)),
    }
}

/// The user, if the syncs granted them this app, they are enabled and the
/// tenant is open (the one access rule).
pub async fn granted_user(
    conn: &impl ConnectionTrait,
    tenant_access: &TenantAccess,
    tenant_id: &str,
    app_id: &str,
    user_name: &str,
) -> Result<user::Model, Refusal> {
    let (user, facts) = store::users::sign_in_facts(conn, tenant_id, app_id, user_name).await?;
    match (access::user_may_sign_in(tenant_access, facts), user) {
        (SignIn::Allowed, Some(user)) => Ok(user),
        (SignIn::TenantClosed(_), _) => Err(Refusal::Suspended(Holder::Organisation)),
        _ => {
            tracing::info!(tenant_id, user_name, "sign-in refused: not granted or disabled");
            Err(Refusal::NotGranted)
        }
    }
}

/// Whether a subscription's local account may sign in: only while the
/// subscription is active.
pub fn local_account_open(instance: &instance::Model) -> Result<(), Refusal> {
    match InstanceStatus::parse(&instance.status) {
        Some(InstanceStatus::Active) => Ok(()),
        Some(InstanceStatus::Frozen) => Err(Refusal::Suspended(Holder::Subscription)),
        _ => Err(Refusal::Ended(Holder::Subscription)),
    }
}
