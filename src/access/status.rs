//! The closed sets of words the access rule speaks: an instance's status,
//! why it is frozen, why a session was ended, a tenant's standing. Stored
//! and shown as lower-case words; parsed once where a row is read.

use serde::Serialize;

/// An instance's state (ARCHITECTURE §5). `released` is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    Active,
    Frozen,
    Released,
}

impl InstanceStatus {
    pub const ALL: [InstanceStatus; 3] =
        [InstanceStatus::Active, InstanceStatus::Frozen, InstanceStatus::Released];

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Active => "active",
            InstanceStatus::Frozen => "frozen",
            InstanceStatus::Released => "released",
        }
    }

    pub fn parse(value: &str) -> Option<InstanceStatus> {
        InstanceStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Why an instance is frozen. V1 distinguishes expiry from arrears because
/// a V1 renewal lifts only the former (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FreezeCause {
    /// V1 `expireInstance`.
    Expiry,
    /// V1 `instanceStatus=FREEZE` (pay-per-use arrears or violation).
    Arrears,
    /// V2 `updateInstanceStatus=FREEZE`: expiry, arrears or violation, the
    /// call does not say which.
    Marketplace,
    /// An operator froze it from the admin site.
    Operator,
}

impl FreezeCause {
    const ALL: [FreezeCause; 4] = [
        FreezeCause::Expiry,
        FreezeCause::Arrears,
        FreezeCause::Marketplace,
        FreezeCause::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FreezeCause::Expiry => "expiry",
            FreezeCause::Arrears => "arrears",
            FreezeCause::Marketplace => "marketplace",
            FreezeCause::Operator => "operator",
        }
    }

    pub fn parse(value: &str) -> Option<FreezeCause> {
        FreezeCause::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// Why sessions were ended. Ordered by gravity: when several revocations
/// end one session, the gravest is the one the user is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RevocationReason {
    /// The user's grant, role or department changed, or they were disabled.
    Revoked,
    Frozen,
    Released,
}

impl RevocationReason {
    const ALL: [RevocationReason; 3] =
        [RevocationReason::Revoked, RevocationReason::Frozen, RevocationReason::Released];

    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Revoked => "revoked",
            RevocationReason::Frozen => "frozen",
            RevocationReason::Released => "released",
        }
    }

    /// An unknown stored word counts as the mildest reason: the session
    /// still ends.
    pub fn parse_lenient(value: &str) -> RevocationReason {
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.as_str() == value)
            .unwrap_or(RevocationReason::Revoked)
    }
}

/// A tenant's standing as operators see and filter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    /// Its users may use the app.
    Active,
    /// Bound instances exist and are frozen (none active).
    Frozen,
    /// Nothing live binds it any more.
    Released,
    /// Deleted by tenantSync.
    Deleted,
}

impl TenantStatus {
    const ALL: [TenantStatus; 4] =
        [TenantStatus::Active, TenantStatus::Frozen, TenantStatus::Released, TenantStatus::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Frozen => "frozen",
            TenantStatus::Released => "released",
            TenantStatus::Deleted => "deleted",
        }
    }

    pub fn parse(value: &str) -> Option<TenantStatus> {
        TenantStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself_and_nothing_else_parses() {
        for s in InstanceStatus::ALL {
            assert_eq!(InstanceStatus::parse(s.as_str()), Some(s));
        }
        for c in FreezeCause::ALL {
            assert_eq!(FreezeCause::parse(c.as_str()), Some(c));
        }
        for s in TenantStatus::ALL {
            assert_eq!(TenantStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(InstanceStatus::parse("Active"), None);
        assert_eq!(TenantStatus::parse("sleeping"), None);
        assert_eq!(RevocationReason::parse_lenient("frozen"), RevocationReason::Frozen);
        assert_eq!(RevocationReason::parse_lenient("??"), RevocationReason::Revoked);
    }

    #[test]
    fn released_is_graver_than_frozen_is_graver_than_revoked() {
        assert!(RevocationReason::Released > RevocationReason::Frozen);
        assert!(RevocationReason::Frozen > RevocationReason::Revoked);
    }
}
