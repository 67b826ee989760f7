//! Ending sessions when access ends. Sessions live in the database every
//! replica shares and are marked ended (with the reason, so the next
//! request can say why) in the same transaction as the change that ends
//! them, so they end at once, everywhere.

use sea_orm::ConnectionTrait;

use crate::error::Error;
use crate::store::{self, tenants::Access};

/// After an instance was frozen or released: the sessions of every tenant
/// it bound that is no longer open (another active instance keeps a tenant
/// open).
pub async fn after_instance_change(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<(), Error> {
    // It is no longer active (frozen or released): its local account's
    // sessions end with it.
    if let Some(instance) = store::instances::find(conn, instance_id).await? {
        let reason = if instance.status == "frozen" { "frozen" } else { "released" };
        store::sessions::end_for_instance(conn, instance_id, reason).await?;
    }
    for tenant_id in store::tenants::bound_by(conn, instance_id).await? {
        let Some(tenant) = store::tenants::find(conn, &tenant_id).await? else { continue };
        let (access, _) = store::tenants::access(conn, &tenant).await?;
        let reason = match access {
            Access::Open => continue,
            Access::Frozen => "frozen",
            Access::Released => "released",
        };
        store::sessions::end_for_tenant(conn, &tenant_id, reason).await?;
    }
    Ok(())
}
