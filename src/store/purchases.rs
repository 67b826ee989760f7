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

//! # Why it is written by hand
//! The statement's text is put together here from each entity's columns,
//! not by sea-query's builder: building this CTE with it (identifiers
//! quoted through `fmt`, every value cloned twice) cost about 400,000
//! instructions per purchase, half of koogate's whole share of a call
//! (`bench/lifecycle_callgrind.sh`). The columns still come from the
//! entities, so a column added there is written here too.

use std::fmt::Write as _;

use chrono::Utc;
use entity::{event, instance, nonce, order, order_fetch, outbox, transition};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, DbBackend, EntityName, EntityTrait, IdenStatic,
    Iterable, Statement, Value,
};

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

/// The statement's text and its values, `$1`… in the order pushed.
#[derive(Default)]
struct Cte {
    sql: String,
    values: Vec<Value>,
}

impl Cte {
    /// `$n` for one more value.
    fn bind(&mut self, value: Value) {
        self.values.push(value);
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "${}", self.values.len());
    }

    /// Starts the next member of the WITH list: `name AS (`.
    fn open(&mut self, name: &str) {
        self.sql.push_str(if self.sql.is_empty() { "WITH " } else { ", " });
        let _ = write!(self.sql, "\"{name}\" AS (");
    }

    /// `name AS (INSERT INTO table (columns) VALUES (…), … tail)`: the
    /// columns the first row sets (every row must set the same ones).
    fn insert<A: ActiveModelTrait>(
        &mut self,
        name: &str,
        rows: &[A],
        tail: &str,
    ) -> Result<(), Error> {
        let Some(first) = rows.first() else { return Ok(()) };
        let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
            .filter(|c| first.get(*c).into_value().is_some())
            .collect();
        self.open(name);
        let table = A::Entity::default().table_name().to_string();
        let _ = write!(self.sql, "INSERT INTO \"{table}\" (");
        for (i, column) in columns.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(self.sql, "{sep}\"{}\"", column.as_str());
        }
        self.sql.push_str(") VALUES ");
        for (r, row) in rows.iter().enumerate() {
            self.sql.push_str(if r == 0 { "(" } else { ", (" });
            for (i, column) in columns.iter().enumerate() {
                let value = row.get(*column).into_value().ok_or_else(|| {
                    Error::Internal(format!("a purchase's {table} rows set different columns"))
                })?;
                if i > 0 {
                    self.sql.push_str(", ");
                }
                self.bind(value);
            }
            self.sql.push(')');
        }
        self.sql.push_str(tail);
        self.sql.push(')');
        Ok(())
    }

    /// A transition row whose event id is read from the event's CTE.
    fn transition(&mut self, name: &str, change: NewTransition, now: chrono::DateTime<Utc>) {
        use transition::Column as C;
        self.open(name);
        let _ = write!(
            self.sql,
            "INSERT INTO \"{}\" (\"{}\", \"{}\", \"{}\", \"{}\", \"{}\", \"{}\") SELECT ",
            transition::Entity.table_name(),
            C::InstanceId.as_str(),
            C::FromStatus.as_str(),
            C::ToStatus.as_str(),
            C::Cause.as_str(),
            C::EventId.as_str(),
            C::CreatedAt.as_str(),
        );
        for value in [change.instance_id, change.from_status, change.to_status, change.cause] {
            self.bind(value.into());
            self.sql.push_str(", ");
        }
        let _ = write!(self.sql, "\"{EVENT}\".\"{}\", ", event::Column::Id.as_str());
        self.bind(now.into());
        let _ = write!(self.sql, " FROM \"{EVENT}\")");
    }
}

fn statement(rows: PurchaseRows) -> Result<Statement, Error> {
    let mut cte = Cte::default();
    if let Some(claim) = rows.nonce {
        cte.insert("call_nonce", &[nonce::ActiveModel::from(claim)], "")?;
    }
    cte.insert("call_order", &[rows.order], "")?;
    cte.insert("call_instance", &[instance::ActiveModel::from(rows.instance)], "")?;
    let mut event = event::ActiveModel::from(rows.event);
    event.id = NotSet;
    let returning = format!(" RETURNING \"{}\"", event::Column::Id.as_str());
    cte.insert(EVENT, &[event], &returning)?;
    let now = Utc::now();
    for (n, change) in rows.transitions.into_iter().enumerate() {
        cte.transition(&format!("call_transition_{n}"), change, now);
    }
    cte.insert("call_outbox", &rows.outbox, "")?;
    if let Some(fetch) = rows.fetch {
        // As `order_details::queue`: an order already queued stays queued.
        let tail = format!(
            " ON CONFLICT (\"{}\", \"{}\") DO NOTHING",
            order_fetch::Column::OrderId.as_str(),
            order_fetch::Column::OrderLineId.as_str()
        );
        cte.insert("call_fetch", &[fetch], &tail)?;
    }
    let _ = write!(cte.sql, " SELECT \"{}\" FROM \"{EVENT}\"", event::Column::Id.as_str());
    Ok(Statement::from_sql_and_values(DbBackend::Postgres, cte.sql, cte.values))
}
