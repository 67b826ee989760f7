//! Black-box tests: the real app on port 0, a fresh SQLite file or a fresh
//! PostgreSQL database per test, real migrations, real HTTP.

mod admin_api;
mod admin_browser;
mod admin_scale;
mod admin_site;
mod app_api;
mod auth_centre;
mod cli;
mod error_answers;
mod faults;
mod gate;
mod hardening_web;
mod helpers;
mod lifecycle_v1;
mod lifecycle_v2;
mod metrics;
mod outbox;
mod protocol_shapes;
mod redis_down;
mod refusals;
mod replicas;
mod secrets;
mod sim;
mod sso;
mod sso_local;
mod sso_oidc;
mod sso_revocation;
mod storage_faults;
mod sync_apps;
mod sync_departments;
mod sync_faults;
mod sync_refusals;
mod sync_tenants;
mod sync_users;
mod sync_v1;
mod telemetry;
