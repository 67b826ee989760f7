//! Who may sign in: the one place sign-in asks the access rule. A tenant
//! must be known, open (not frozen or released) and have app credentials;
//! a user must be granted and enabled; a local account's subscription must
//! be active. Everything else in sign-in calls these functions.

use sea_orm::ConnectionTrait;

use super::refusal::{Holder, Refusal};
use crate::lifecycle::Status;
use crate::store::{self, tenants::Access};
use entity::{instance, tenant, tenant_app, user};

/// The tenant and its app, if its users may sign in now; the active
/// instance that opens the tenant comes with them (for the session).
pub async fn usable_tenant(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<(tenant::Model, tenant_app::Model, Option<String>), Refusal> {
    let tenant = store::tenants::find(conn, tenant_id)
        .await?
        .filter(|t| !t.deleted)
        .ok_or(Refusal::UnknownOrganisation)?;
    let instance_id = tenant_open(conn, &tenant).await?;
    let app = store::apps::for_tenant(conn, tenant_id)
        .await?
        .into_iter()
        .find(|a| a.client_secret_sealed.is_some())
        .ok_or_else(|| {
            tracing::warn!(tenant_id, "sign-in refused: the tenant has no app credentials yet");
            Refusal::NotReady
        })?;
    Ok((tenant, app, instance_id))
}

/// Whether the tenant's users may use the app now (the access rule),
/// and the active instance that opens it.
pub async fn tenant_open(
    conn: &impl ConnectionTrait,
    tenant: &tenant::Model,
) -> Result<Option<String>, Refusal> {
    match store::tenants::access(conn, tenant).await? {
        (Access::Open, instance_id) => Ok(instance_id),
        (Access::Frozen, _) => Err(Refusal::Suspended(Holder::Organisation)),
        (Access::Released, _) => Err(Refusal::Ended(Holder::Organisation)),
    }
}

/// The user, if the syncs granted them this app and they are enabled.
pub async fn granted_user(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    app_id: &str,
    user_name: &str,
) -> Result<user::Model, Refusal> {
    store::users::signable(conn, tenant_id, app_id, user_name).await?.ok_or_else(|| {
        tracing::info!(tenant_id, user_name, "sign-in refused: not granted or disabled");
        Refusal::NotGranted
    })
}

/// Whether a subscription's local account may sign in: only while the
/// subscription is active.
pub fn local_account_open(instance: &instance::Model) -> Result<(), Refusal> {
    match Status::parse(&instance.status) {
        Some(Status::Active) => Ok(()),
        Some(Status::Frozen) => Err(Refusal::Suspended(Holder::Subscription)),
        _ => Err(Refusal::Ended(Holder::Subscription)),
    }
}
