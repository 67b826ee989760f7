//! A purchase's rows in one statement (PostgreSQL): the call's nonce, the
//! order, the instance, the call's event, its transitions, its outbox
//! events and its order-detail fetch, as one data-modifying CTE run on its
//! own (autocommit). PostgreSQL's cost per statement, not the commit, is
//! where a purchase's time went; this is one round trip instead of seven.
//!
//! # Why the answers stay the same
//! Every insert here is plain (no `ON CONFLICT DO NOTHING` except the
//! fetch queue's, as in `order_details::queue`), so a nonce already used,
//! an order already there or a `businessId` already taken is a unique
//! violation that aborts the whole statement: nothing is written, and the
//! caller runs the call again the way of several statements, which tells
//! those cases apart and answers them as it always did.

use chrono::Utc;
use entity::{event, instance, nonce, order, order_fetch, outbox, transition};
use sea_orm::sea_query::{Alias, CommonTableExpression, Expr, OnConflict, Query, WithClause};
use sea_orm::{ActiveValue::NotSet, DbBackend, EntityTrait, QueryTrait, Statement};

use super::transitions::NewTransition;
use super::{Db, Written};
use crate::error::Error;

/// Everything one purchase writes.
pub struct PurchaseRows {
    /// The call's nonce claim (V2); `None` for V1, which has none.
    pub nonce: Option<nonce::Model>,
    pub order: order::ActiveModel,
    pub instance: instance::Model,
    pub event: event::Model,
    pub transitions: Vec<NewTransition>,
    pub outbox: Vec<outbox::ActiveModel>,
    pub fetch: Option<order_fetch::ActiveModel>,
}

/// Writes the purchase in one statement. `Ok(false)`: a unique key was
/// already taken and nothing was written (see the module comment).
pub async fn write_at_once(db: &Db, rows: PurchaseRows) -> Result<bool, Error> {
    match db.write_statement(statement(rows)?).await? {
        Written::Done => Ok(true),
        Written::KeyTaken => Ok(false),
    }
}

/// The event's id names the CTE its transitions read it from.
const EVENT: &str = "call_event";

fn statement(rows: PurchaseRows) -> Result<Statement, Error> {
    let mut with = WithClause::new();
    let mut cte = |name: String, query: sea_orm::sea_query::InsertStatement| {
        with.cte(CommonTableExpression::new().query(query).table_name(Alias::new(name)).to_owned());
    };
    if let Some(claim) = rows.nonce {
        cte(
            "call_nonce".into(),
            nonce::Entity::insert(nonce::ActiveModel::from(claim)).into_query(),
        );
    }
    cte("call_order".into(), order::Entity::insert(rows.order).into_query());
    cte(
        "call_instance".into(),
        instance::Entity::insert(instance::ActiveModel::from(rows.instance)).into_query(),
    );
    let mut event = event::ActiveModel::from(rows.event);
    event.id = NotSet;
    let mut event = event::Entity::insert(event).into_query();
    event.returning_col(event::Column::Id);
    cte(EVENT.into(), event);
    let now = Utc::now();
    for (n, change) in rows.transitions.into_iter().enumerate() {
        let values = Query::select()
            .expr(Expr::val(change.instance_id))
            .expr(Expr::val(change.from_status))
            .expr(Expr::val(change.to_status))
            .expr(Expr::val(change.cause))
            .column((Alias::new(EVENT), event::Column::Id))
            .expr(Expr::val(now))
            .from(Alias::new(EVENT))
            .to_owned();
        let mut insert = Query::insert();
        insert
            .into_table(transition::Entity)
            .columns([
                transition::Column::InstanceId,
                transition::Column::FromStatus,
                transition::Column::ToStatus,
                transition::Column::Cause,
                transition::Column::EventId,
                transition::Column::CreatedAt,
            ])
            .select_from(values)
            .map_err(|e| Error::Internal(format!("cannot build a purchase's transition: {e}")))?;
        cte(format!("call_transition_{n}"), insert);
    }
    if !rows.outbox.is_empty() {
        cte("call_outbox".into(), outbox::Entity::insert_many(rows.outbox).into_query());
    }
    if let Some(fetch) = rows.fetch {
        let mut insert = order_fetch::Entity::insert(fetch).into_query();
        insert.on_conflict(
            OnConflict::columns([order_fetch::Column::OrderId, order_fetch::Column::OrderLineId])
                .do_nothing()
                .to_owned(),
        );
        cte("call_fetch".into(), insert);
    }
    let answer = Query::select().column(event::Column::Id).from(Alias::new(EVENT)).to_owned();
    let (sql, values) = with.query(answer).build(sea_orm::sea_query::PostgresQueryBuilder);
    Ok(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
}
