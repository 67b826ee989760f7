//! The operators' side: the JSON API (and, later, the pages).

pub mod api;
pub mod outbox;
