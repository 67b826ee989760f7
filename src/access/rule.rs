//! The access rule (ARCHITECTURE §5), as one pure function of the facts:
//! no database, no clock, so every branch is a unit test.
//!
//! A tenant may use the app when it is not deleted and at least one bound
//! instance is active. A test tenant (its latest tenantSync carried
//! `testFlag` = 1) that no instance binds may use it too: the seller
//! console's debugger syncs such tenants without a purchase. Once an
//! instance binds a test tenant, that instance's state decides, exactly as
//! for a production tenant. A user may sign in when the tenant may use the
//! app and the user is granted and enabled.

use super::status::{InstanceStatus, TenantStatus};

/// What the rule needs to know about a tenant besides its instances.
#[derive(Debug, Clone, Copy)]
pub struct TenantFacts {
    pub deleted: bool,
    pub test: bool,
}

/// The verdict for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantAccess {
    /// Its users may use the app; `instance_id` is the active instance
    /// that opens it (none for a test tenant without an instance).
    Open {
        instance_id: Option<String>,
    },
    /// Bound instances exist and are frozen (none active).
    Frozen,
    /// Every bound instance is released, or none binds a production tenant.
    Released,
    Deleted,
}

impl TenantAccess {
    pub fn may_use(&self) -> bool {
        matches!(self, TenantAccess::Open { .. })
    }

    /// The active instance that opens the tenant, if any.
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            TenantAccess::Open { instance_id } => instance_id.as_deref(),
            _ => None,
        }
    }

    /// The standing operators see.
    pub fn status(&self) -> TenantStatus {
        match self {
            TenantAccess::Open { .. } => TenantStatus::Active,
            TenantAccess::Frozen => TenantStatus::Frozen,
            TenantAccess::Released => TenantStatus::Released,
            TenantAccess::Deleted => TenantStatus::Deleted,
        }
    }
}

/// Decides a tenant's access from its flags and its bound instances, in
/// binding order (the first active one is named as the opener).
pub fn tenant_access<'a>(
    tenant: TenantFacts,
    bound: impl IntoIterator<Item = (&'a str, InstanceStatus)>,
) -> TenantAccess {
    if tenant.deleted {
        return TenantAccess::Deleted;
    }
    let mut any_bound = false;
    let mut any_frozen = false;
    for (instance_id, status) in bound {
        any_bound = true;
        match status {
            InstanceStatus::Active => {
                return TenantAccess::Open { instance_id: Some(instance_id.to_string()) }
            }
            InstanceStatus::Frozen => any_frozen = true,
            InstanceStatus::Released => {}
        }
    }
    if any_frozen {
        TenantAccess::Frozen
    } else if tenant.test && !any_bound {
        TenantAccess::Open { instance_id: None }
    } else {
        TenantAccess::Released
    }
}

/// What the syncs said about one user of a tenant (none: never synced or
/// deleted).
#[derive(Debug, Clone, Copy)]
pub struct UserFacts {
    /// authSync granted the app (add/modify, not cancelled or deleted).
    pub granted: bool,
    pub enabled: bool,
}

/// The verdict for a user signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Allowed,
    /// The tenant may not use the app: its standing says why.
    TenantClosed(TenantStatus),
    /// Unknown to the syncs, or not granted the app.
    NotGranted,
    Disabled,
}

/// Decides whether a user may sign in: the tenant first (its users are
/// told why it is closed), then the user.
pub fn user_may_sign_in(tenant: &TenantAccess, user: Option<UserFacts>) -> SignIn {
    if !tenant.may_use() {
        return SignIn::TenantClosed(tenant.status());
    }
    match user {
        Some(UserFacts { granted: true, enabled: true }) => SignIn::Allowed,
        Some(UserFacts { granted: true, enabled: false }) => SignIn::Disabled,
        _ => SignIn::NotGranted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstanceStatus::{Active, Frozen, Released};

    const PRODUCTION: TenantFacts = TenantFacts { deleted: false, test: false };
    const TEST: TenantFacts = TenantFacts { deleted: false, test: true };

    fn open(id: &str) -> TenantAccess {
        TenantAccess::Open { instance_id: Some(id.to_string()) }
    }

    #[test]
    fn a_deleted_tenant_is_closed_whatever_its_instances() {
        let deleted = TenantFacts { deleted: true, test: false };
        assert_eq!(tenant_access(deleted, [("i1", Active)]), TenantAccess::Deleted);
        let deleted_test = TenantFacts { deleted: true, test: true };
        assert_eq!(tenant_access(deleted_test, []), TenantAccess::Deleted);
    }

    #[test]
    fn one_active_instance_opens_the_tenant_and_is_named() {
        assert_eq!(tenant_access(PRODUCTION, [("i1", Active)]), open("i1"));
        assert_eq!(
            tenant_access(PRODUCTION, [("r", Released), ("f", Frozen), ("a", Active)]),
            open("a")
        );
        assert_eq!(tenant_access(PRODUCTION, [("a1", Active), ("a2", Active)]), open("a1"));
    }

    #[test]
    fn frozen_and_no_active_instance_freezes_the_tenant() {
        assert_eq!(tenant_access(PRODUCTION, [("f", Frozen)]), TenantAccess::Frozen);
        assert_eq!(
            tenant_access(PRODUCTION, [("r", Released), ("f", Frozen)]),
            TenantAccess::Frozen
        );
    }

    #[test]
    fn only_released_instances_or_none_release_a_production_tenant() {
        assert_eq!(tenant_access(PRODUCTION, [("r", Released)]), TenantAccess::Released);
        assert_eq!(tenant_access(PRODUCTION, []), TenantAccess::Released);
    }

    #[test]
    fn a_test_tenant_without_an_instance_is_open_with_one_its_instances_decide() {
        assert_eq!(tenant_access(TEST, []), TenantAccess::Open { instance_id: None });
        assert_eq!(tenant_access(TEST, [("a", Active)]), open("a"));
        assert_eq!(tenant_access(TEST, [("f", Frozen)]), TenantAccess::Frozen);
        assert_eq!(tenant_access(TEST, [("r", Released)]), TenantAccess::Released);
    }

    #[test]
    fn the_tenant_standing_follows_the_verdict() {
        assert_eq!(open("a").status(), TenantStatus::Active);
        assert_eq!(TenantAccess::Open { instance_id: None }.status(), TenantStatus::Active);
        assert_eq!(TenantAccess::Frozen.status(), TenantStatus::Frozen);
        assert_eq!(TenantAccess::Released.status(), TenantStatus::Released);
        assert_eq!(TenantAccess::Deleted.status(), TenantStatus::Deleted);
        assert!(open("a").may_use() && !TenantAccess::Frozen.may_use());
        assert_eq!(open("a").instance_id(), Some("a"));
        assert_eq!(TenantAccess::Frozen.instance_id(), None);
    }

    #[test]
    fn a_user_signs_in_only_granted_enabled_and_in_an_open_tenant() {
        let ok = Some(UserFacts { granted: true, enabled: true });
        assert_eq!(user_may_sign_in(&open("a"), ok), SignIn::Allowed);
        assert_eq!(
            user_may_sign_in(&TenantAccess::Open { instance_id: None }, ok),
            SignIn::Allowed
        );
        for closed in [TenantAccess::Frozen, TenantAccess::Released, TenantAccess::Deleted] {
            assert_eq!(user_may_sign_in(&closed, ok), SignIn::TenantClosed(closed.status()));
        }
        let disabled = Some(UserFacts { granted: true, enabled: false });
        assert_eq!(user_may_sign_in(&open("a"), disabled), SignIn::Disabled);
        let not_granted = Some(UserFacts { granted: false, enabled: true });
        assert_eq!(user_may_sign_in(&open("a"), not_granted), SignIn::NotGranted);
        assert_eq!(user_may_sign_in(&open("a"), None), SignIn::NotGranted);
        // A closed tenant is what the user is told, even when they are
        // not granted either.
        assert_eq!(
            user_may_sign_in(&TenantAccess::Frozen, None),
            SignIn::TenantClosed(TenantStatus::Frozen)
        );
    }
}
