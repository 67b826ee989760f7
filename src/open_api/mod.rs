//! The marketplace's seller Open API (protocol §9): koogate speaking back
//! to KooGallery. The APIG request signer, the client with its retries and
//! rate limit, order details and the entitlement they give each instance.

pub mod apply;
pub mod client;
pub mod entitlement;
pub mod fetch;
pub mod order;
pub mod reconcile;
pub mod signer;
pub mod usage;
