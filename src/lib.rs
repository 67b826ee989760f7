#![forbid(unsafe_code)]

pub mod access;
pub mod admin;
pub mod app_api;
pub mod bearer;
pub mod body_deadline;
pub mod cli;
pub mod department_tree;
pub mod error;
pub mod front;
pub mod gate;
pub mod health;
pub mod inbound;
pub mod kv;
pub mod lifecycle;
pub mod marketplace;
pub mod open_api;
pub mod openapi;
pub mod outbound;
pub mod outbox;
pub mod own_paths;
pub mod prometheus;
pub mod routes;
pub mod security_headers;
pub mod settings;
pub mod sim;
pub mod sso;
pub mod startup;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod ui;
pub mod unread_body;
pub mod vault;
pub mod write_cap;
