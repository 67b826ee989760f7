//! Usage records and their push queue (see `crate::open_api::usage`).
//! Times are epoch milliseconds.

use entity::usage_record::{self, Entity as UsageRecord};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
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

/// The columns the admin site sorts usage records by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordOrder {
    /// When koogate received it (the row's id follows that order).
    Received,
    Instance,
    /// When the usage began.
    Period,
    State,
}

impl RecordOrder {
    fn column(self) -> usage_record::Column {
        match self {
            RecordOrder::Received => usage_record::Column::Id,
            RecordOrder::Instance => usage_record::Column::InstanceId,
            RecordOrder::Period => usage_record::Column::BeginAt,
            RecordOrder::State => usage_record::Column::State,
        }
    }
}

/// Which records the admin site lists: of one instance or all,
/// optionally in one state.
#[derive(Debug, Clone, Copy)]
pub struct RecordFilter<'a> {
    pub instance_id: Option<&'a str>,
    pub state: Option<State>,
}

impl RecordFilter<'_> {
    fn select(&self) -> sea_orm::Select<UsageRecord> {
        let mut query = UsageRecord::find();
        if let Some(instance_id) = self.instance_id {
            query = query.filter(usage_record::Column::InstanceId.eq(instance_id));
        }
        if let Some(state) = self.state {
            query = query.filter(usage_record::Column::State.eq(state.as_str()));
        }
        query
    }
}

/// One page of records (`limit` from `offset`) in the order asked for
/// (the row id breaks ties, in the same direction), and how many match.
pub async fn records(
    conn: &impl ConnectionTrait,
    filter: RecordFilter<'_>,
    sort: (RecordOrder, Order),
    offset: u64,
    limit: u64,
) -> Result<(Vec<usage_record::Model>, u64), Error> {
    let total = filter.select().count(conn).await?;
    let (key, order) = sort;
    let mut query = filter.select().order_by(key.column(), order.clone());
    if key != RecordOrder::Received {
        query = query.order_by(usage_record::Column::Id, order);
    }
    Ok((query.offset(offset).limit(limit).all(conn).await?, total))
}

/// The columns the admin site sorts the per-instance counts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountOrder {
    Instance,
    Pending,
    Pushed,
    Refused,
    Flagged,
}

impl CountOrder {
    /// The output column of [`per_instance`]'s query.
    fn alias(self) -> &'static str {
        match self {
            CountOrder::Instance => "instance_id",
            CountOrder::Pending => "pending",
            CountOrder::Pushed => "pushed",
            CountOrder::Refused => "refused",
            CountOrder::Flagged => "flagged",
        }
    }
}

/// Per instance: how many records are in each state, and how many pending
/// ones began before `old_before`; one page (`limit` from `offset`) in the
/// order asked for (the instance id breaks ties), and how many instances
/// have records. One grouped query: each count a sum over the instance's
/// rows, so sorting by a count is the database's work, not a read of
/// every instance.
pub async fn per_instance(
    conn: &impl ConnectionTrait,
    old_before: i64,
    sort: (CountOrder, Order),
    offset: u64,
    limit: u64,
) -> Result<(Vec<InstanceCounts>, u64), Error> {
    use sea_orm::sea_query::{Func, SimpleExpr};
    let total: Option<i64> = UsageRecord::find()
        .select_only()
        .column_as(Expr::col(usage_record::Column::InstanceId).count_distinct(), "n")
        .into_tuple()
        .one(conn)
        .await?;
    let in_state = |state: State| usage_record::Column::State.eq(state.as_str());
    let count_where = |condition: SimpleExpr| -> SimpleExpr {
        Func::sum(Expr::case(condition, 1).finally(0)).into()
    };
    let old = in_state(State::Pending).and(usage_record::Column::BeginAt.lt(old_before));
    let (key, order) = sort;
    let mut query = UsageRecord::find()
        .select_only()
        .column(usage_record::Column::InstanceId)
        .column_as(count_where(in_state(State::Pending)), "pending")
        .column_as(count_where(in_state(State::Pushed)), "pushed")
        .column_as(count_where(in_state(State::Refused)), "refused")
        .column_as(count_where(old), "flagged")
        .group_by(usage_record::Column::InstanceId)
        .order_by(Expr::cust(key.alias()), order.clone());
    if key != CountOrder::Instance {
        query = query.order_by(usage_record::Column::InstanceId, Order::Asc);
    }
    let rows: Vec<(String, i64, i64, i64, i64)> =
        query.offset(offset).limit(limit).into_tuple().all(conn).await?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let counts = rows
        .into_iter()
        .map(|(instance_id, pending, pushed, refused, flagged)| InstanceCounts {
            instance_id,
            pending: n(pending),
            pushed: n(pushed),
            refused: n(refused),
            flagged: n(flagged),
        })
        .collect();
    Ok((counts, n(total.unwrap_or(0))))
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
