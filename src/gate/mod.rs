//! The gate: every path koogate does not answer itself is forwarded to the
//! vendor's app for signed-in users, with their identity attached.

pub mod cache;
pub mod caller;
pub mod forwarded;
pub mod identity;
pub mod outgoing;
pub mod pool;
pub mod proxy;
pub mod start;
pub mod told;
pub mod upstream;
