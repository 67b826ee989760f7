//! SeaORM entities: the tables koogate keeps. Only `store` builds queries.

pub mod event;
pub mod instance;
pub mod nonce;
pub mod order;
pub mod transition;
