//! State transition rows.

use chrono::Utc;
use entity::transition::{self, Entity as Transition};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::error::Error;

/// A transition not yet written: it is written with the event that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransition {
    pub instance_id: String,
    pub from_status: String,
    pub to_status: String,
    pub cause: String,
}

pub async fn insert_all(
    conn: &impl ConnectionTrait,
    transitions: Vec<NewTransition>,
    event_id: i64,
) -> Result<(), Error> {
    if transitions.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let rows = transitions.into_iter().map(|t| transition::ActiveModel {
        id: NotSet,
        instance_id: Set(t.instance_id),
        from_status: Set(t.from_status),
        to_status: Set(t.to_status),
        cause: Set(t.cause),
        event_id: Set(Some(event_id)),
        created_at: Set(now),
    });
    Transition::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// An instance's history, oldest first.
pub async fn for_instance(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<Vec<transition::Model>, Error> {
    Ok(Transition::find()
        .filter(transition::Column::InstanceId.eq(instance_id))
        .order_by_asc(transition::Column::Id)
        .all(conn)
        .await?)
}

/// The history of several instances, oldest first.
pub async fn for_instances(
    conn: &impl ConnectionTrait,
    instance_ids: &[String],
) -> Result<Vec<transition::Model>, Error> {
    if instance_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Transition::find()
        .filter(transition::Column::InstanceId.is_in(instance_ids.iter().cloned()))
        .order_by_asc(transition::Column::Id)
        .all(conn)
        .await?)
}
