//! The sign-in record (see `sso::sign_ins`).

use entity::sign_in::{self, Entity as SignIn};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::error::Error;

pub async fn insert(conn: &impl ConnectionTrait, mut row: sign_in::Model) -> Result<(), Error> {
    row.id = 0;
    let mut active = sign_in::ActiveModel::from(row);
    active.id = ActiveValue::NotSet;
    SignIn::insert(active).exec_without_returning(conn).await?;
    Ok(())
}

/// What an operator narrows the record to; `None` matches everything.
#[derive(Debug, Default)]
pub struct Filter {
    pub tenant_id: Option<String>,
    pub user_name: Option<String>,
    /// An outcome's stored word (`sso::sign_ins::Outcome::as_str`).
    pub outcome: Option<&'static str>,
    pub reference: Option<String>,
    /// Only attempts older than this one (its time in ms and id): the
    /// cursor of the next page newest first, an index walk at any depth.
    pub before: Option<(i64, i64)>,
    /// Only attempts newer than this one: the cursor oldest first.
    pub after: Option<(i64, i64)>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    pub limit: u64,
}

/// Newest first (or oldest first), by time then id.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &Filter,
) -> Result<Vec<sign_in::Model>, Error> {
    let mut query = SignIn::find();
    if let Some(tenant_id) = &filter.tenant_id {
        query = query.filter(sign_in::Column::TenantId.eq(tenant_id.as_str()));
    }
    if let Some(user_name) = &filter.user_name {
        query = query.filter(sign_in::Column::UserName.eq(user_name.as_str()));
    }
    if let Some(outcome) = filter.outcome {
        query = query.filter(sign_in::Column::Outcome.eq(outcome));
    }
    if let Some(reference) = &filter.reference {
        query = query.filter(sign_in::Column::Reference.eq(reference.as_str()));
    }
    if let Some((at, id)) = filter.before {
        query = query.filter(
            sea_orm::Condition::any()
                .add(sign_in::Column::At.lt(at))
                .add(sign_in::Column::At.eq(at).and(sign_in::Column::Id.lt(id))),
        );
    }
    if let Some((at, id)) = filter.after {
        query = query.filter(
            sea_orm::Condition::any()
                .add(sign_in::Column::At.gt(at))
                .add(sign_in::Column::At.eq(at).and(sign_in::Column::Id.gt(id))),
        );
    }
    let order = if filter.oldest_first { Order::Asc } else { Order::Desc };
    Ok(query
        .order_by(sign_in::Column::At, order.clone())
        .order_by(sign_in::Column::Id, order)
        .limit(filter.limit)
        .all(conn)
        .await?)
}

/// Deletes at most `batch` attempts made before `before_ms`; how many went.
pub async fn purge_batch(
    conn: &impl ConnectionTrait,
    before_ms: i64,
    batch: u64,
) -> Result<u64, Error> {
    let ids: Vec<i64> = SignIn::find()
        .select_only()
        .column(sign_in::Column::Id)
        .filter(sign_in::Column::At.lt(before_ms))
        .order_by_asc(sign_in::Column::Id)
        .limit(batch)
        .into_tuple()
        .all(conn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let gone = SignIn::delete_many().filter(sign_in::Column::Id.is_in(ids)).exec(conn).await?;
    Ok(gone.rows_affected)
}
