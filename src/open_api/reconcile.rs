//! Reconciliation: every live instance's orders asked of the marketplace
//! again and compared with koogate's records. What differs is reported
//! (`/admin/api/drift`, `/metrics`, an outbox event when first found);
//! koogate never changes an instance because of it.
//!
//! There is no seller API that lists orders (research §3.4): the walk
//! re-queries the order ids koogate has seen, and an order line there that
//! koogate never received is itself a finding.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use serde_json::{json, Value};

use super::client::{CallError, OpenApi};
use super::entitlement::{self, Entitlement};
use super::order::{self, Line};
use crate::access::InstanceStatus;
use crate::error::Error;
use crate::outbox::{Event, EventType, Outbox};
use crate::settings::OpenApiSettings;
use crate::store::{self, drift::Found};
use entity::instance;

const LEASE_NAME: &str = "reconcile";
const LEASE_MS: i64 = 10 * 60 * 1000;
/// Instances read and compared at once.
const PAGE: u64 = 100;

/// The kinds of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = DriftKind)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// Frozen (or expiring earlier) here, renewed there.
    RenewedThere,
    /// Active here, unsubscribed there.
    UnsubscribedThere,
    SkuDiffers,
    QuantityDiffers,
    /// An order line there koogate never received.
    UnknownOrder,
}

impl Drift {
    pub const ALL: [Drift; 5] = [
        Drift::RenewedThere,
        Drift::UnsubscribedThere,
        Drift::SkuDiffers,
        Drift::QuantityDiffers,
        Drift::UnknownOrder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Drift::RenewedThere => "renewed_there",
            Drift::UnsubscribedThere => "unsubscribed_there",
            Drift::SkuDiffers => "sku_differs",
            Drift::QuantityDiffers => "quantity_differs",
            Drift::UnknownOrder => "unknown_order",
        }
    }

    pub fn parse(text: &str) -> Option<Drift> {
        Drift::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// An order line there, with its order id.
#[derive(Debug, Clone)]
pub struct ThereLine {
    pub order_id: String,
    pub line: Line,
}

/// What differs between koogate's records of one instance and the
/// marketplace's lines for it. `now` is `yyyyMMddHHmmss` (the orders' format).
pub fn compare(
    status: InstanceStatus,
    expire_here: Option<&str>,
    here: &Entitlement,
    there: &[ThereLine],
    known: &[(String, String)],
    now: &str,
) -> Vec<(Drift, Value, Value)> {
    let mut out = Vec::new();
    let mut sorted: Vec<&ThereLine> = there.iter().collect();
    sorted.sort_by(|a, b| a.line.create_time.cmp(&b.line.create_time));
    let is_unsubscribe = |l: &&ThereLine| l.line.order_type.as_deref() == Some("UNSUBSCRIBE");
    if let Some(latest) = sorted.last() {
        if is_unsubscribe(latest) && status == InstanceStatus::Active {
            out.push((
                Drift::UnsubscribedThere,
                json!({"status": status}),
                json!({"orderId": latest.order_id, "orderType": latest.line.order_type}),
            ));
        }
    }
    let unsubscribed = sorted.last().is_some_and(is_unsubscribe);
    if let Some(effective) = sorted.iter().rev().find(|l| !is_unsubscribe(l)) {
        let line = &effective.line;
        if let Some(expire_there) = line.expire_time.as_deref() {
            let later_here = expire_here.is_some_and(|e| expire_there > e);
            let frozen_but_valid = status == InstanceStatus::Frozen && expire_there > now;
            if !unsubscribed && (later_here || frozen_but_valid) {
                out.push((
                    Drift::RenewedThere,
                    json!({"status": status, "expireTime": expire_here}),
                    json!({"orderId": effective.order_id, "expireTime": expire_there}),
                ));
            }
        }
        if let Some(sku) = &line.sku_code {
            if here.sku_code.as_ref() != Some(sku) {
                out.push((
                    Drift::SkuDiffers,
                    json!({"skuCode": here.sku_code}),
                    json!({"orderId": effective.order_id, "skuCode": sku, "line": line}),
                ));
            }
        }
        if let Some(quantity) = line.linear_value.as_deref().and_then(entitlement::number) {
            if here.quantity.as_ref() != Some(&quantity) {
                out.push((
                    Drift::QuantityDiffers,
                    json!({"quantity": here.quantity}),
                    json!({"orderId": effective.order_id, "quantity": quantity, "line": line}),
                ));
            }
        }
    }
    let unseen: Vec<Value> = there
        .iter()
        .filter(|t| {
            !known.iter().any(|(order_id, line_id)| {
                *order_id == t.order_id && (line_id.is_empty() || *line_id == t.line.order_line_id)
            })
        })
        .map(|t| {
            json!({"orderId": t.order_id, "orderLineId": t.line.order_line_id,
                   "orderType": t.line.order_type})
        })
        .collect();
    if !unseen.is_empty() {
        out.push((Drift::UnknownOrder, json!({"known": known.len()}), json!({"lines": unseen})));
    }
    out
}

/// What one run did.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub instances: u64,
    pub checked: u64,
    /// The marketplace did not answer for these: left as they were.
    pub unanswered: u64,
    /// The marketplace refused to answer about one of their orders (an
    /// order it does not know, say): left as they were, named in the log.
    pub refused: u64,
    pub with_drift: u64,
    pub new_findings: u64,
}

/// Walks every live instance; `progress(done, total)` after each page.
pub async fn run(
    db: &store::Db,
    api: &OpenApi,
    outbox: &Outbox,
    mut progress: impl FnMut(u64, u64),
) -> Result<Summary, Error> {
    let total = store::drift::count_live_instances(&db.conn).await?;
    let mut summary = Summary { instances: total, ..Summary::default() };
    let mut after = String::new();
    loop {
        let page = store::drift::live_instances_after(&db.conn, &after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.instance_id.clone();
        let asked = page.iter().map(|row| ask(db, api, row));
        let answers = futures_util::future::join_all(asked).await;
        for (row, answer) in page.iter().zip(answers) {
            match answer? {
                Asked::Answered(there) => {
                    summary.checked += 1;
                    let new = record(db, outbox, row, &there).await?;
                    summary.new_findings += new.0;
                    summary.with_drift += u64::from(new.1);
                }
                Asked::Refused => summary.refused += 1,
                Asked::Unanswered => summary.unanswered += 1,
            }
        }
        progress(summary.checked + summary.unanswered + summary.refused, total);
    }
    Ok(summary)
}

enum Asked {
    Answered(Vec<ThereLine>),
    Refused,
    Unanswered,
}

/// The instance's orders there.
async fn ask(db: &store::Db, api: &OpenApi, row: &instance::Model) -> Result<Asked, Error> {
    let mut there = Vec::new();
    for order_id in store::drift::order_ids_of(&db.conn, row).await? {
        match api.order_query(&order_id, None).await {
            Ok(answer) => {
                if let Some(details) = order::parse(&answer.json) {
                    there.extend(
                        details
                            .lines
                            .into_iter()
                            .map(|line| ThereLine { order_id: order_id.clone(), line }),
                    );
                }
            }
            Err(err @ CallError::Refused { .. }) => {
                tracing::info!(instance_id = %row.instance_id, order_id = %order_id, error = %err, "the marketplace refused to answer about an order");
                return Ok(Asked::Refused);
            }
            Err(err) => {
                tracing::info!(instance_id = %row.instance_id, error = %err, "reconciliation could not ask about an order");
                return Ok(Asked::Unanswered);
            }
        }
    }
    Ok(Asked::Answered(there))
}

/// Stores the instance's findings; (new findings, whether any drift).
async fn record(
    db: &store::Db,
    outbox: &Outbox,
    row: &instance::Model,
    there: &[ThereLine],
) -> Result<(u64, bool), Error> {
    let now = Utc::now();
    let tx = db.begin_write().await?;
    let conn = &tx.txn;
    let here = entitlement::of_instance(conn, row).await?;
    let known = store::drift::known_lines(conn, row).await?;
    let status = store::instances::status(row)?;
    let stamp = now.format("%Y%m%d%H%M%S").to_string();
    let found: Vec<Found> =
        compare(status, row.expire_time.as_deref(), &here, there, &known, &stamp)
            .into_iter()
            .map(|(kind, here, there)| Found {
                kind: kind.as_str(),
                here: here.to_string(),
                there: there.to_string(),
            })
            .collect();
    let new = store::drift::replace(conn, &row.instance_id, &found, now.timestamp_millis()).await?;
    let events: Vec<Event> = found
        .iter()
        .filter(|f| new.contains(&f.kind))
        .map(|f| {
            Event::new(
                EventType::InstanceDriftFound,
                row.tenant_id.as_deref(),
                Some(&row.instance_id),
                json!({
                    "instanceId": row.instance_id,
                    "kind": f.kind,
                    "here": serde_json::from_str::<Value>(&f.here).unwrap_or(Value::Null),
                    "there": serde_json::from_str::<Value>(&f.there).unwrap_or(Value::Null),
                }),
            )
        })
        .collect();
    let told = outbox.record(conn, events).await?;
    tx.commit().await?;
    if told {
        outbox.committed();
    }
    Ok((new.len() as u64, !found.is_empty()))
}

/// The scheduled sweep: every `open_api.reconcile_interval_secs`, on one
/// replica at a time (the `reconcile` lease).
pub fn spawn(db: store::Db, api: Arc<OpenApi>, outbox: Arc<Outbox>, settings: &OpenApiSettings) {
    let every_secs = settings.reconcile_interval_secs;
    if every_secs == 0 {
        return;
    }
    let rate = u64::from(settings.max_requests_per_sec.max(1));
    tokio::spawn(async move {
        let holder = Alphanumeric.sample_string(&mut rand::thread_rng(), 24);
        let every_ms = i64::try_from(every_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let poll = Duration::from_secs(every_secs.clamp(1, 30));
        loop {
            match sweep(&db, &api, &outbox, rate, &holder, every_ms).await {
                Ok(Some(summary)) => tracing::info!(?summary, "reconciliation finished"),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = ?err, "reconciliation failed; it runs again later")
                }
            }
            tokio::time::sleep(poll).await;
        }
    });
}

async fn sweep(
    db: &store::Db,
    api: &OpenApi,
    outbox: &Outbox,
    rate: u64,
    holder: &str,
    every_ms: i64,
) -> Result<Option<Summary>, Error> {
    let now = Utc::now().timestamp_millis();
    // Long enough for the whole walk at the rate limit, twice over, so no
    // other replica starts while this one is still going.
    let instances = store::drift::count_live_instances(&db.conn).await?;
    let walk_ms = i64::try_from(instances.saturating_mul(2000) / rate).unwrap_or(i64::MAX);
    let until = now.saturating_add(walk_ms.max(LEASE_MS));
    let tx = db.begin_write().await?;
    let taken = store::drift::take_lease(&tx.txn, LEASE_NAME, holder, now, until, every_ms).await?;
    tx.commit().await?;
    if !taken {
        return Ok(None);
    }
    let summary = run(db, api, outbox, |_, _| {}).await?;
    let tx = db.begin_write().await?;
    store::drift::finish_lease(&tx.txn, LEASE_NAME, holder, Utc::now().timestamp_millis()).await?;
    tx.commit().await?;
    Ok(Some(summary))
}
