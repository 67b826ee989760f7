//! The joint-operation (Kit) syncs: the buyer's enterprise, its app
//! credentials, its users' authorisations and its departments, kept as an
//! exact copy so the vendor's app never speaks the marketplace protocol.

pub mod call;
mod departments;
pub mod handlers;
pub mod request;
pub mod service;
pub mod tenants;
mod users;

pub use service::Ctx;

/// The `flag` of a sync call (spec §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Delete,
    Add,
    Modify,
    /// authSync only: the user's authorisation to the app is withdrawn.
    Cancel,
}

impl Flag {
    pub fn parse(value: &str, allow_cancel: bool) -> Option<Flag> {
        match value {
            "0" => Some(Flag::Delete),
            "1" => Some(Flag::Add),
            "2" => Some(Flag::Modify),
            "3" if allow_cancel => Some(Flag::Cancel),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
