//! OpenID Connect sign-in for tenants whose `domainName` serves discovery:
//! which dialect a tenant speaks ([`discovery`]) and the code flow with its
//! provider ([`code_flow`]).

pub mod code_flow;
pub mod discovery;

pub use code_flow::{Authorization, Identity, OidcClient};
pub use discovery::{Dialect, Discoveries, Provider};

#[cfg(test)]
mod tests;
