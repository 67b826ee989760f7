//! Order rows: the idempotency records.

use entity::order::{self, Entity as Order};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::Error;

/// The idempotency key of one order (spec §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    pub kind: &'static str,
    pub order_id: String,
    pub order_line_id: String,
    pub product_key: String,
}

pub async fn find(
    conn: &impl ConnectionTrait,
    key: &OrderKey,
) -> Result<Option<order::Model>, Error> {
    Ok(Order::find()
        .filter(order::Column::Kind.eq(key.kind))
        .filter(order::Column::OrderId.eq(key.order_id.as_str()))
        .filter(order::Column::OrderLineId.eq(key.order_line_id.as_str()))
        .filter(order::Column::ProductKey.eq(key.product_key.as_str()))
        .one(conn)
        .await?)
}

/// Inserts the order; `Ok(false)` when the same key is already there. A
/// concurrent delivery of the same order waits for the first to commit and
/// then finds it there (PostgreSQL), or waits for the writer lock (SQLite).
pub async fn insert(conn: &impl ConnectionTrait, row: order::ActiveModel) -> Result<bool, Error> {
    let inserted = Order::insert(row)
        .on_conflict(
            OnConflict::columns([
                order::Column::Kind,
                order::Column::OrderId,
                order::Column::OrderLineId,
                order::Column::ProductKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}
