//! The inbound event log.

use entity::event::{self, Entity as Event};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect};

use crate::error::Error;

/// Writes one event and returns its id.
pub async fn insert(conn: &impl ConnectionTrait, row: event::Model) -> Result<i64, Error> {
    let mut active = event::ActiveModel::from(row);
    active.id = NotSet;
    // Returns only the new id, not the whole row.
    Ok(Event::insert(active).exec(conn).await?.last_insert_id)
}

/// Newest first.
pub async fn latest(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<event::Model>, Error> {
    Ok(Event::find().order_by_desc(event::Column::Id).limit(limit).all(conn).await?)
}
