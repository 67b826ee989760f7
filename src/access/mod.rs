//! Who may use the app: the one access rule ([`rule`]), the statuses and
//! reasons it speaks as enums ([`status`]), and the revocations that end
//! sessions when access ends ([`revoke`]). The admin site, the app API,
//! sign-in and the gate all ask [`of_tenant`] (or the rule directly), so
//! they cannot disagree.

pub mod revoke;
pub mod rule;
pub mod status;

pub use rule::{tenant_access, user_may_sign_in, SignIn, TenantAccess, TenantFacts, UserFacts};
pub use status::{FreezeCause, InstanceStatus, RevocationReason, TenantStatus};

use sea_orm::ConnectionTrait;

use crate::error::Error;
use crate::store;
use entity::tenant;

/// The rule's facts about a tenant row.
pub fn facts(row: &tenant::Model) -> TenantFacts {
    TenantFacts { deleted: row.deleted, test: row.test_flag }
}

/// The tenant's access now, from its bound instances.
pub async fn of_tenant(
    conn: &impl ConnectionTrait,
    row: &tenant::Model,
) -> Result<TenantAccess, Error> {
    let bound = store::tenants::bound_statuses(conn, &row.tenant_id).await?;
    Ok(tenant_access(facts(row), bound.iter().map(|(id, status)| (id.as_str(), *status))))
}
