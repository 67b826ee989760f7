//! The instance lifecycle: what the marketplace's purchase, renewal,
//! expiry, freeze, upgrade and release calls do to an instance.

pub mod call;
mod changes;
pub mod handlers;
mod purchase;
pub mod request;
pub mod service;

pub use service::Ctx;

/// An instance's state (ARCHITECTURE §5). `released` is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Frozen,
    Released,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Frozen => "frozen",
            Status::Released => "released",
        }
    }

    pub fn parse(value: &str) -> Option<Status> {
        match value {
            "active" => Some(Status::Active),
            "frozen" => Some(Status::Frozen),
            "released" => Some(Status::Released),
            _ => None,
        }
    }
}

/// Why an instance is frozen. V1 distinguishes expiry from arrears because
/// a V1 renewal lifts only the former (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeReason {
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

impl FreezeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FreezeReason::Expiry => "expiry",
            FreezeReason::Arrears => "arrears",
            FreezeReason::Marketplace => "marketplace",
            FreezeReason::Operator => "operator",
        }
    }
}

#[cfg(test)]
mod tests;
