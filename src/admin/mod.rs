//! The operators' side: the JSON API, and the admin site (sign-in, pages,
//! actions).

pub mod actions;
pub mod api;
pub mod auth;
pub mod outbox;
pub mod pages;
