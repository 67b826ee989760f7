//! Everything story files share, one module per concept; story files
//! import from here only (`use crate::helpers::*;`) and export nothing.

mod admin_api;
mod admin_site;
mod app;
mod auth_centre;
mod backends;
mod browser;
mod chromium;
mod databases;
mod enterprise;
mod faults;
mod gate;
mod hostile;
mod lists;
mod marketplace;
mod npm_setup;
mod open_api;
mod process;
mod sign_in;
mod skip_log;
mod webhook_receiver;

pub use admin_api::*;
pub use admin_site::*;
pub use app::*;
pub use auth_centre::*;
pub use browser::*;
pub use chromium::*;
pub use databases::*;
pub use enterprise::*;
pub use faults::*;
pub use gate::*;
pub use hostile::*;
pub use lists::*;
pub use marketplace::*;
pub use npm_setup::*;
pub use open_api::*;
pub use process::*;
pub use sign_in::*;
pub use webhook_receiver::*;

pub use crate::{
    kit_on_both_backends, kit_on_every_session_store, on_both_backends, on_every_session_store,
    outbox_on_both_backends,
};
