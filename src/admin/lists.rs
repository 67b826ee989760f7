//! What the admin lists read, shared by their pages and their CSV
//! exports: the query strings as typed, checked into the store's filters
//! and orders (each list's sortable columns a closed set, see `listing`),
//! and the rows as the lists show them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use super::listing::{Direction, SortKey, Sorting};
use super::views::{when, TenantRow};
use crate::access::{self, InstanceStatus, TenantStatus};
use crate::error::Error;
use crate::inbound::Channel;
use crate::store;
use crate::store::instances::InstanceOrder;
use crate::store::tenants::TenantOrder;
use crate::store::users::UserOrder;
use entity::instance;

#[derive(Debug, Deserialize, Serialize, Default)]
pub struct TenantsQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub test: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
    pub page: Option<u64>,
}

impl SortKey for TenantOrder {
    const ALL: &'static [TenantOrder] =
        &[TenantOrder::Name, TenantOrder::Tenant, TenantOrder::Code, TenantOrder::Updated];
    const DEFAULT: TenantOrder = TenantOrder::Name;

    fn as_str(self) -> &'static str {
        match self {
            TenantOrder::Name => "name",
            TenantOrder::Tenant => "tenant",
            TenantOrder::Code => "code",
            TenantOrder::Updated => "updated",
        }
    }

    fn first_direction(self) -> Direction {
        match self {
            TenantOrder::Updated => Direction::Desc,
            _ => Direction::Asc,
        }
    }
}

impl TenantsQuery {
    /// The store's filter for this query (one page of `limit` rows from
    /// `offset`), and the order asked for.
    pub fn filter(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(store::tenants::PageFilter, Sorting<TenantOrder>), Error> {
        let status = match self.status.as_str() {
            "" => None,
            s => Some(TenantStatus::parse(s).ok_or_else(|| {
                Error::invalid("status must be active, frozen, released or deleted")
            })?),
        };
        let sorting = Sorting::<TenantOrder>::parse(&self.sort, &self.dir)?;
        let filter = store::tenants::PageFilter {
            q: Some(self.q.clone()).filter(|q| !q.trim().is_empty()),
            status,
            include_test: self.test == "1",
            sort: Some((sorting.key, sorting.direction.order())),
            offset,
            limit,
        };
        Ok((filter, sorting))
    }
}

/// Tenant rows with their standing and instance count.
pub async fn tenant_rows(
    conn: &impl ConnectionTrait,
    rows: Vec<entity::tenant::Model>,
) -> Result<Vec<TenantRow>, Error> {
    let ids: Vec<String> = rows.iter().map(|t| t.tenant_id.clone()).collect();
    let bound = store::tenants::instances_of(conn, &ids).await?;
    let mut list = Vec::with_capacity(rows.len());
    for t in rows {
        let instances: Vec<&instance::Model> =
            bound.iter().filter(|(id, _)| id == &t.tenant_id).map(|(_, i)| i).collect();
        list.push(TenantRow {
            status: standing(&t, &instances)?,
            instances: instances.len(),
            updated_at: when(t.updated_at),
            test: t.test_flag,
            tenant_id: t.tenant_id,
            tenant_code: t.tenant_code,
            name: t.name,
        });
    }
    Ok(list)
}

/// A tenant's standing by the one access rule, from instances already read.
pub fn standing(
    tenant: &entity::tenant::Model,
    instances: &[&instance::Model],
) -> Result<TenantStatus, Error> {
    let mut bound = Vec::with_capacity(instances.len());
    for i in instances {
        bound.push((i.instance_id.as_str(), store::instances::status(i)?));
    }
    Ok(access::tenant_access(access::facts(tenant), bound).status())
}

impl SortKey for UserOrder {
    const ALL: &'static [UserOrder] =
        &[UserOrder::UserName, UserOrder::Name, UserOrder::Role, UserOrder::Enabled];
    const DEFAULT: UserOrder = UserOrder::UserName;

    fn as_str(self) -> &'static str {
        match self {
            UserOrder::UserName => "user",
            UserOrder::Name => "name",
            UserOrder::Role => "role",
            UserOrder::Enabled => "enabled",
        }
    }

    fn first_direction(self) -> Direction {
        Direction::Asc
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct InstancesQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
    pub page: Option<u64>,
}

impl SortKey for InstanceOrder {
    const ALL: &'static [InstanceOrder] = &[
        InstanceOrder::Instance,
        InstanceOrder::Status,
        InstanceOrder::Order,
        InstanceOrder::Expires,
        InstanceOrder::Created,
    ];
    const DEFAULT: InstanceOrder = InstanceOrder::Created;

    fn as_str(self) -> &'static str {
        match self {
            InstanceOrder::Created => "created",
            InstanceOrder::Expires => "expires",
            InstanceOrder::Status => "status",
            InstanceOrder::Instance => "instance",
            InstanceOrder::Order => "order",
        }
    }

    fn first_direction(self) -> Direction {
        match self {
            InstanceOrder::Created => Direction::Desc,
            _ => Direction::Asc,
        }
    }
}

impl InstancesQuery {
    /// The store's filter for this query (`limit` rows from `offset`), and
    /// the order asked for.
    pub fn filter(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(store::instances::ListFilter, Sorting<InstanceOrder>), Error> {
        let status = match self.status.as_str() {
            "" => None,
            s => Some(
                InstanceStatus::parse(s)
                    .ok_or_else(|| Error::invalid("status must be active, frozen or released"))?,
            ),
        };
        let sorting = Sorting::<InstanceOrder>::parse(&self.sort, &self.dir)?;
        let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        let filter = store::instances::ListFilter {
            order_id: some(&self.order),
            tenant_id: some(&self.tenant),
            status,
            sort: Some((sorting.key, sorting.direction.order())),
            offset,
            limit,
        };
        Ok((filter, sorting))
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct EventsQuery {
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub activity: String,
    /// A result code, or `failures` for every code but success.
    #[serde(default)]
    pub result: String,
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub instance: String,
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, UTC.
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    /// `desc` (newest first, the default) or `asc`.
    #[serde(default)]
    pub dir: String,
    /// Only events older than this id (the next page, newest first).
    pub before: Option<i64>,
    /// Only events newer than this id (the next page, oldest first).
    pub after: Option<i64>,
}

impl EventsQuery {
    /// The order asked for: newest first unless `dir=asc`.
    pub fn direction(&self) -> Result<Direction, Error> {
        Direction::from_query(&self.dir, Direction::Desc)
    }

    /// The store's filter for this query: `limit` rows in the order asked
    /// for, past the cursors given.
    pub fn filter(&self, limit: u64) -> Result<store::events::PageFilter, Error> {
        let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        if !self.channel.is_empty() && Channel::parse(&self.channel).is_none() {
            return Err(Error::invalid("unknown channel"));
        }
        Ok(store::events::PageFilter {
            channel: some(&self.channel),
            activity: some(&self.activity),
            result_code: some(&self.result).filter(|r| r != "failures"),
            failures_only: self.result == "failures",
            marketplace_only: false,
            tenant_id: some(&self.tenant),
            instance_id: some(&self.instance),
            since: parse_time(&self.since)?,
            until: parse_time(&self.until)?,
            before_id: self.before,
            after_id: self.after,
            oldest_first: self.direction()? == Direction::Asc,
            limit,
        })
    }

    /// A link to `path` with these filters, in `direction`, past the
    /// event `past` (older than it newest first, newer oldest first).
    pub fn link(&self, path: &str, direction: Direction, past: Option<i64>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("channel", &self.channel),
            ("activity", &self.activity),
            ("result", &self.result),
            ("tenant", &self.tenant),
            ("instance", &self.instance),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if direction == Direction::Asc {
            s.append_pair("dir", direction.as_str());
        }
        if let Some(id) = past {
            let cursor = if direction == Direction::Asc { "after" } else { "before" };
            s.append_pair(cursor, &id.to_string());
        }
        format!("{path}?{}", s.finish())
    }
}

/// A filter time: a date (midnight UTC) or a date and a time (UTC).
fn parse_time(text: &str) -> Result<Option<DateTime<Utc>>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        return Ok(Some(at.and_utc()));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|at| at.and_utc()));
    }
    Err(Error::invalid("times are YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_times_are_dates_or_minutes_in_utc() {
        assert!(parse_time("").expect("empty").is_none());
        assert_eq!(
            parse_time("2026-11-23").expect("date").map(|t| t.to_rfc3339()),
            Some("2026-11-23T00:00:00+00:00".to_string())
        );
        assert!(parse_time("2026-11-23T10:30").expect("minute").is_some());
        assert!(parse_time("yesterday").is_err());
    }
}
