//! SeaORM entities: the tables koogate keeps. Only `store` builds queries.

pub mod admin_credential;
pub mod admin_session;
pub mod department;
pub mod drift_finding;
pub mod event;
pub mod grant;
pub mod instance;
pub mod job_lease;
pub mod login_attempt;
pub mod login_state;
pub mod nonce;
pub mod order;
pub mod order_fetch;
pub mod order_line;
pub mod outbox;
pub mod revocation;
pub mod session;
pub mod sign_in;
pub mod signing_key;
pub mod tenant;
pub mod tenant_app;
pub mod tenant_instance;
pub mod transition;
pub mod usage_record;
pub mod user;
pub mod v1_stamp;
