//! Usage records and their push queue (see `crate::open_api::usage`).
//! Times are epoch milliseconds.

use entity::usage_record::{self, Entity as UsageRecord};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::claims;
use crate::error::Error;

/// Where a record's push stands; stored as its `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = UsageState)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Pushed,
    Refused,
}

impl State {
    pub const ALL: [State; 3] = [State::Pending, State::Pushed, State::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Pushed => "pushed",
            State::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The record stored under this app record id, if any.
pub async fn find(
    conn: &impl ConnectionTrait,
    record_id: &str,
) -> Result<Option<usage_record::Model>, Error> {
    Ok(UsageRecord::find().filter(usage_record::Column::RecordId.eq(record_id)).one(conn).await?)
}

/// Stores a record; `false` when one with its record id is already there
/// (the first stays as it was).
pub async fn insert(
    conn: &impl ConnectionTrait,
    row: usage_record::ActiveModel,
) -> Result<bool, Error> {
    let inserted = UsageRecord::insert(row)
        .on_conflict(OnConflict::column(usage_record::Column::RecordId).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

/// An instance's records, newest first, optionally in one state.
pub async fn of_instance(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    state: Option<State>,
    limit: u64,
) -> Result<Vec<usage_record::Model>, Error> {
    let mut query = UsageRecord::find().filter(usage_record::Column::InstanceId.eq(instance_id));
    if let Some(state) = state {
        query = query.filter(usage_record::Column::State.eq(state.as_str()));
    }
    Ok(query.order_by_desc(usage_record::Column::Id).limit(limit).all(conn).await?)
}

/// How many records are in each state, and how many pending ones began
/// before `old_before` (close to the marketplace's 21-day limit).
pub async fn counts(
    conn: &impl ConnectionTrait,
    old_before: i64,
) -> Result<(Vec<(State, u64)>, u64), Error> {
    let mut out = Vec::new();
    for state in State::ALL {
        let n = UsageRecord::find()
            .filter(usage_record::Column::State.eq(state.as_str()))
            .count(conn)
            .await?;
        out.push((state, n));
    }
    let old = UsageRecord::find()
        .filter(usage_record::Column::State.eq(State::Pending.as_str()))
        .filter(usage_record::Column::BeginAt.lt(old_before))
        .count(conn)
        .await?;
    Ok((out, old))
}

/// Claims due pending records until `lease_until` and counts the attempt
/// (see `store::claims`): one alone when a record must be pushed alone,
/// else up to `limit` of them.
pub async fn claim(
    conn: &impl ConnectionTrait,
    now: i64,
    lease_until: i64,
    token: &str,
    limit: u64,
) -> Result<Vec<usage_record::Model>, Error> {
    let alone = claims::Queue {
        table: "usage_records",
        waiting: "q.state = 'pending' AND q.solo = TRUE",
        order: "q.id",
    };
    let rows = claims::claim::<UsageRecord>(conn, &alone, now, lease_until, token, 1).await?;
    if !rows.is_empty() {
        return Ok(rows);
    }
    let together = claims::Queue {
        table: "usage_records",
        waiting: "q.state = 'pending' AND q.solo = FALSE",
        order: "q.id",
    };
    claims::claim::<UsageRecord>(conn, &together, now, lease_until, token, limit).await
}

/// Records the package instance a claimed record consumes, so every later
/// push of it sends the same body.
pub async fn set_relate_pkg_instance(
    conn: &impl ConnectionTrait,
    id: i64,
    package: &str,
) -> Result<(), Error> {
    UsageRecord::update_many()
        .col_expr(usage_record::Column::RelatePkgInstance, Expr::value(package))
        .filter(usage_record::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

fn claimed(ids: &[i64], token: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(usage_record::Column::Id.is_in(ids.iter().copied()))
        .add(usage_record::Column::ClaimToken.eq(token))
        .add(usage_record::Column::State.eq(State::Pending.as_str()))
}

/// The marketplace took these records.
pub async fn pushed(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    token: &str,
    now: i64,
) -> Result<u64, Error> {
    let result = UsageRecord::update_many()
        .col_expr(usage_record::Column::State, Expr::value(State::Pushed.as_str()))
        .col_expr(usage_record::Column::PushedAt, Expr::value(now))
        .col_expr(usage_record::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(usage_record::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(usage_record::Column::ClaimToken, Expr::value(Option::<String>::None))
        .filter(claimed(ids, token))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// The marketplace refused this record, with its code.
pub async fn refused(
    conn: &impl ConnectionTrait,
    id: i64,
    token: &str,
    code: &str,
    message: &str,
) -> Result<u64, Error> {
    let result = UsageRecord::update_many()
        .col_expr(usage_record::Column::State, Expr::value(State::Refused.as_str()))
        .col_expr(usage_record::Column::RefusalCode, Expr::value(code))
        .col_expr(usage_record::Column::RefusalMessage, Expr::value(message))
        .col_expr(usage_record::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(usage_record::Column::ClaimToken, Expr::value(Option::<String>::None))
        .filter(claimed(&[id], token))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Puts claimed records back for another try at `at`; `solo` makes each
/// go alone from then on.
pub async fn retry_at(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    token: &str,
    error: &str,
    at: i64,
    solo: bool,
) -> Result<u64, Error> {
    let mut update = UsageRecord::update_many()
        .col_expr(usage_record::Column::NextAttemptAt, Expr::value(at))
        .col_expr(usage_record::Column::LastError, Expr::value(error))
        .col_expr(usage_record::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
        .col_expr(usage_record::Column::ClaimToken, Expr::value(Option::<String>::None));
    if solo {
        update = update.col_expr(usage_record::Column::Solo, Expr::value(true));
    }
    Ok(update.filter(claimed(ids, token)).exec(conn).await?.rows_affected)
}

/// The newest records, of one instance or all, optionally in one state.
pub async fn recent(
    conn: &impl ConnectionTrait,
    instance_id: Option<&str>,
    state: Option<State>,
    limit: u64,
) -> Result<Vec<usage_record::Model>, Error> {
    let mut query = UsageRecord::find();
    if let Some(instance_id) = instance_id {
        query = query.filter(usage_record::Column::InstanceId.eq(instance_id));
    }
    if let Some(state) = state {
        query = query.filter(usage_record::Column::State.eq(state.as_str()));
    }
    Ok(query.order_by_desc(usage_record::Column::Id).limit(limit).all(conn).await?)
}

/// Per instance: how many records are in each state, and how many pending
/// ones began before `old_before`; instances in id order, at most `limit`.
pub async fn per_instance(
    conn: &impl ConnectionTrait,
    old_before: i64,
    limit: u64,
) -> Result<Vec<InstanceCounts>, Error> {
    let by_state: Vec<(String, String, i64)> = UsageRecord::find()
        .select_only()
        .column(usage_record::Column::InstanceId)
        .column(usage_record::Column::State)
        .column_as(usage_record::Column::Id.count(), "n")
        .group_by(usage_record::Column::InstanceId)
        .group_by(usage_record::Column::State)
        .order_by_asc(usage_record::Column::InstanceId)
        .into_tuple()
        .all(conn)
        .await?;
    let old: Vec<(String, i64)> = UsageRecord::find()
        .select_only()
        .column(usage_record::Column::InstanceId)
        .column_as(usage_record::Column::Id.count(), "n")
        .filter(usage_record::Column::State.eq(State::Pending.as_str()))
        .filter(usage_record::Column::BeginAt.lt(old_before))
        .group_by(usage_record::Column::InstanceId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: Vec<InstanceCounts> = Vec::new();
    for (instance_id, state, n) in by_state {
        let n = u64::try_from(n).unwrap_or(0);
        if out.last().is_none_or(|c| c.instance_id != instance_id) {
            if out.len() as u64 >= limit {
                break;
            }
            let flagged = old.iter().find(|(id, _)| *id == instance_id).map_or(0, |(_, n)| *n);
            out.push(InstanceCounts {
                instance_id: instance_id.clone(),
                flagged: u64::try_from(flagged).unwrap_or(0),
                ..InstanceCounts::default()
            });
        }
        let Some(counts) = out.last_mut() else { continue };
        match State::parse(&state) {
            Some(State::Pending) => counts.pending = n,
            Some(State::Pushed) => counts.pushed = n,
            Some(State::Refused) => counts.refused = n,
            None => {}
        }
    }
    Ok(out)
}

/// One instance's records by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceCounts {
    pub instance_id: String,
    pub pending: u64,
    pub pushed: u64,
    pub refused: u64,
    /// Pending and close to the marketplace's 21-day limit.
    pub flagged: u64,
}
