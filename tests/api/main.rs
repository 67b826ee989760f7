//! Black-box tests: the real app on port 0, a fresh SQLite file or a fresh
//! PostgreSQL database per test, real migrations, real HTTP.

mod admin_api;
mod auth_centre;
mod cli;
mod faults;
mod gate;
mod helpers;
mod lifecycle_v1;
mod lifecycle_v2;
mod outbox;
mod refusals;
mod secrets;
mod sso;
mod sso_local;
mod sso_revocation;
mod sync_apps;
mod sync_departments;
mod sync_faults;
mod sync_refusals;
mod sync_tenants;
mod sync_users;
mod sync_v1;
