//! Reconciliation findings, the instances it walks, and job leases (see
//! `crate::open_api::reconcile`). Times are epoch milliseconds.

use entity::drift_finding::{self, Entity as DriftFinding};
use entity::instance::{self, Entity as Instance};
use entity::job_lease::{self, Entity as JobLease};
use entity::{order_fetch, order_line};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::access::InstanceStatus;
use crate::error::Error;

/// Instances not released, after `after` in id order: one page of the walk.
pub async fn live_instances_after(
    conn: &impl ConnectionTrait,
    after: &str,
    limit: u64,
) -> Result<Vec<instance::Model>, Error> {
    Ok(Instance::find()
        .filter(instance::Column::Status.ne(InstanceStatus::Released.as_str()))
        .filter(instance::Column::InstanceId.gt(after))
        .order_by_asc(instance::Column::InstanceId)
        .limit(limit)
        .all(conn)
        .await?)
}

pub async fn count_live_instances(conn: &impl ConnectionTrait) -> Result<u64, Error> {
    Ok(Instance::find()
        .filter(instance::Column::Status.ne(InstanceStatus::Released.as_str()))
        .count(conn)
        .await?)
}

/// Every order id koogate has seen for an instance, oldest first.
pub async fn order_ids_of(
    conn: &impl ConnectionTrait,
    row: &instance::Model,
) -> Result<Vec<String>, Error> {
    let fetched: Vec<String> = order_fetch::Entity::find()
        .filter(order_fetch::Column::InstanceId.eq(&row.instance_id))
        .order_by_asc(order_fetch::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.order_id)
        .collect();
    let mut ids = vec![row.order_id.clone()];
    for id in fetched {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.retain(|id| !id.is_empty());
    Ok(ids)
}

/// The (order, line) pairs koogate knows for an instance.
pub async fn known_lines(
    conn: &impl ConnectionTrait,
    row: &instance::Model,
) -> Result<Vec<(String, String)>, Error> {
    let mut known: Vec<(String, String)> = order_line::Entity::find()
        .filter(order_line::Column::InstanceId.eq(&row.instance_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| (l.order_id, l.order_line_id))
        .collect();
    for fetch in order_fetch::Entity::find()
        .filter(order_fetch::Column::InstanceId.eq(&row.instance_id))
        .all(conn)
        .await?
    {
        known.push((fetch.order_id, fetch.order_line_id));
    }
    if let Some(line) = &row.order_line_id {
        known.push((row.order_id.clone(), line.clone()));
    }
    Ok(known)
}

/// One finding to keep: `(kind, here, there)`.
pub struct Found {
    pub kind: &'static str,
    pub here: String,
    pub there: String,
}

/// Replaces an instance's findings with `found`; returns the kinds that
/// are new (not found by the previous run).
pub async fn replace(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    found: &[Found],
    now: i64,
) -> Result<Vec<&'static str>, Error> {
    let before: Vec<String> = DriftFinding::find()
        .filter(drift_finding::Column::InstanceId.eq(instance_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.kind)
        .collect();
    let kinds: Vec<&str> = found.iter().map(|f| f.kind).collect();
    DriftFinding::delete_many()
        .filter(drift_finding::Column::InstanceId.eq(instance_id))
        .filter(drift_finding::Column::Kind.is_not_in(kinds))
        .exec(conn)
        .await?;
    let mut new = Vec::new();
    for f in found {
        if !before.iter().any(|k| k == f.kind) {
            new.push(f.kind);
        }
        DriftFinding::insert(drift_finding::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            instance_id: Set(instance_id.to_string()),
            kind: Set(f.kind.to_string()),
            here: Set(f.here.clone()),
            there: Set(f.there.clone()),
            found_at: Set(now),
            checked_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([drift_finding::Column::InstanceId, drift_finding::Column::Kind])
                .update_columns([
                    drift_finding::Column::Here,
                    drift_finding::Column::There,
                    drift_finding::Column::CheckedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(new)
}

/// Every finding, newest first.
pub async fn all(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<drift_finding::Model>, Error> {
    Ok(DriftFinding::find()
        .order_by_desc(drift_finding::Column::FoundAt)
        .order_by_asc(drift_finding::Column::InstanceId)
        .limit(limit)
        .all(conn)
        .await?)
}

/// One page of findings: `limit` from `offset`, by `column` in `order`
/// (the id breaks ties); and how many there are.
pub async fn page(
    conn: &impl ConnectionTrait,
    column: drift_finding::Column,
    order: sea_orm::Order,
    offset: u64,
    limit: u64,
) -> Result<(Vec<drift_finding::Model>, u64), Error> {
    let total = DriftFinding::find().count(conn).await?;
    let rows = DriftFinding::find()
        .order_by(column, order.clone())
        .order_by(drift_finding::Column::Id, order)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// Findings per kind.
pub async fn counts(conn: &impl ConnectionTrait) -> Result<Vec<(String, u64)>, Error> {
    let rows: Vec<(String, i64)> = DriftFinding::find()
        .select_only()
        .column(drift_finding::Column::Kind)
        .column_as(drift_finding::Column::Id.count(), "n")
        .group_by(drift_finding::Column::Kind)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(k, n)| (k, u64::try_from(n).unwrap_or(0))).collect())
}

/// Takes the job's lease until `until` when it is free (or already ours)
/// and the last run ended at least `every_ms` ago; `true` when taken. The
/// first replica ever to ask starts the schedule: the first run is one
/// interval later, not at the first start.
pub async fn take_lease(
    conn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
    every_ms: i64,
) -> Result<bool, Error> {
    JobLease::insert(job_lease::ActiveModel {
        name: Set(name.to_string()),
        holder: Set(String::new()),
        until: Set(0),
        last_run_at: Set(Some(now)),
    })
    .on_conflict(OnConflict::column(job_lease::Column::Name).do_nothing().to_owned())
    .exec_without_returning(conn)
    .await?;
    let due = Condition::any()
        .add(job_lease::Column::LastRunAt.is_null())
        .add(job_lease::Column::LastRunAt.lte(now - every_ms));
    let free = Condition::any()
        .add(job_lease::Column::Until.lte(now))
        .add(job_lease::Column::Holder.eq(holder));
    let result = JobLease::update_many()
        .col_expr(job_lease::Column::Holder, Expr::value(holder))
        .col_expr(job_lease::Column::Until, Expr::value(until))
        .filter(job_lease::Column::Name.eq(name))
        .filter(due)
        .filter(free)
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends the lease after a run.
pub async fn finish_lease(
    conn: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: i64,
) -> Result<(), Error> {
    JobLease::update_many()
        .col_expr(job_lease::Column::Until, Expr::value(0i64))
        .col_expr(job_lease::Column::LastRunAt, Expr::value(now))
        .filter(job_lease::Column::Name.eq(name))
        .filter(job_lease::Column::Holder.eq(holder))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn find(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<drift_finding::Model>, Error> {
    Ok(DriftFinding::find_by_id(id).one(conn).await?)
}

/// Forgets a finding once an operator has applied it; `false` when it was
/// gone already.
pub async fn resolve(conn: &impl ConnectionTrait, id: i64) -> Result<bool, Error> {
    Ok(DriftFinding::delete_by_id(id).exec(conn).await?.rows_affected == 1)
}
