//! The instance lifecycle: what the marketplace's purchase, renewal,
//! expiry, freeze, upgrade and release calls do to an instance.

pub mod handlers;
pub mod request;
pub mod service;

// The statuses and freeze causes live with the access rule.
pub use crate::access::{FreezeCause as FreezeReason, InstanceStatus as Status};
