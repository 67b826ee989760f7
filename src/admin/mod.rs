//! The operators' side: the JSON API, and the admin site (sign-in, pages,
//! actions). Pages and their `/admin/api/` twins share one view type per
//! answer (`views`), rendered by `render`.

pub mod actions;
pub mod api;
pub mod auth;
pub mod chart;
pub mod drift;
pub mod events;
pub mod export;
pub mod instances;
pub mod listing;
pub mod lists;
pub mod login;
pub mod operators;
pub mod outbox;
pub mod pages;
pub mod render;
pub mod roles;
pub mod sessions;
pub mod sign_in;
pub mod sign_ins;
pub mod usage;
pub mod viewer;
pub mod views;
