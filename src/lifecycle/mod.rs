//! The instance lifecycle: what the marketplace's purchase, renewal,
//! expiry, freeze, upgrade and release calls do to an instance.

pub mod call;
pub(crate) mod changes;
pub mod handlers;
mod purchase;
pub mod request;
pub mod service;

pub use service::Ctx;

// The statuses and freeze causes live with the access rule.
pub use crate::access::{FreezeCause as FreezeReason, InstanceStatus as Status};

#[cfg(test)]
mod tests;
