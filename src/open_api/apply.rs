//! An operator takes the marketplace's version of one drift finding (see
//! [`super::reconcile`], which only reports): the instance is changed to
//! what the marketplace says, in one transaction with the operator's
//! event (its detail holds the instance before and after), the outbox
//! events the change makes, and the finding's removal.
//!
//! - `renewed_there`: the marketplace's expiry, and a frozen instance active;
//! - `unsubscribed_there`: the instance released, as a release call would;
//! - `sku_differs`, `quantity_differs`: the marketplace's order line stored
//!   over koogate's (the entitlement follows);
//! - `unknown_order`: the order lines koogate never saw queued for fetching.

use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::{json, Value};

use super::entitlement;
use super::order::Line;
use super::reconcile::Drift;
use crate::access::InstanceStatus;
use crate::error::Error;
use crate::inbound::{self, Call, Effects};
use crate::lifecycle::changes;
use crate::marketplace::result::Answer;
use crate::outbox::{Event, EventType, Outbox};
use crate::store::{self, order_details, Db};
use entity::{drift_finding, instance, order_line};

/// The instance as an operator compares it, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = DriftSnapshot)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub status: InstanceStatus,
    pub expire_time: Option<String>,
    pub entitlement: entitlement::Entitlement,
}

/// What applying one finding did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DriftApplied)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub id: i64,
    pub instance_id: String,
    pub kind: Drift,
    pub before: Snapshot,
    pub after: Snapshot,
}

/// The finding, and its instance as it is now (for the confirmation).
pub async fn preview(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<(drift_finding::Model, Snapshot), Error> {
    let finding = store::drift::find(conn, id).await?.ok_or(Error::NotFound)?;
    let row = store::instances::find(conn, &finding.instance_id).await?.ok_or(Error::NotFound)?;
    let snapshot = snapshot(conn, &row).await?;
    Ok((finding, snapshot))
}

/// Applies finding `id`, recorded as `call` (an operator's, with its
/// activity and request already set: who, what).
pub async fn apply(db: &Db, outbox: &Outbox, call: &mut Call, id: i64) -> Result<Applied, Error> {
    let tx = inbound::begin(db, call).await?;
    let conn = &tx.txn;
    let finding = store::drift::find(conn, id).await?.ok_or(Error::NotFound)?;
    let kind = Drift::parse(&finding.kind)
        .ok_or_else(|| Error::Internal(format!("unknown drift kind {}", finding.kind)))?;
    let row = store::instances::find_for_update(conn, &finding.instance_id)
        .await?
        .ok_or(Error::NotFound)?;
    call.instance_id = Some(row.instance_id.clone());
    call.tenant_id = row.tenant_id.clone();
    call.order_id = Some(row.order_id.clone());
    call.test_flag = row.test_flag;
    let before = snapshot(conn, &row).await?;
    if before.status == InstanceStatus::Released {
        return Err(Error::invalid("the instance is released: there is nothing to change"));
    }
    let there: Value = serde_json::from_str(&finding.there).unwrap_or(Value::Null);
    let mut fx = Effects::default();
    match kind {
        Drift::RenewedThere => renew(conn, row, &there, &mut fx).await?,
        Drift::UnsubscribedThere => {
            changes::release(conn, &finding.instance_id, &mut fx).await?;
        }
        Drift::SkuDiffers | Drift::QuantityDiffers => take_line(conn, row, &there).await?,
        Drift::UnknownOrder => queue_unseen(conn, &row, &there).await?,
    }
    for change in &mut fx.transitions {
        change.cause = format!("operator:{}", kind.as_str());
    }
    let row = store::instances::find(conn, &finding.instance_id).await?.ok_or(Error::NotFound)?;
    let after = snapshot(conn, &row).await?;
    if after.entitlement != before.entitlement {
        fx.events.push(Event::new(
            EventType::InstanceEntitlementChanged,
            row.tenant_id.as_deref(),
            Some(&row.instance_id),
            json!({
                "instanceId": row.instance_id,
                "tenantId": row.tenant_id,
                "orderId": there.get("orderId"),
                "before": entitlement::to_json(&before.entitlement),
                "after": entitlement::to_json(&after.entitlement),
            }),
        ));
    }
    fx.detail = Some(json!({
        "findingId": id,
        "kind": kind,
        "there": there,
        "before": before,
        "after": after,
    }));
    store::drift::resolve(conn, id).await?;
    inbound::commit_call(tx, outbox, call, &Answer::success(), fx).await?;
    Ok(Applied { id, instance_id: row.instance_id, kind, before, after })
}

async fn snapshot(conn: &impl ConnectionTrait, row: &instance::Model) -> Result<Snapshot, Error> {
    Ok(Snapshot {
        status: store::instances::status(row)?,
        expire_time: row.expire_time.clone(),
        entitlement: entitlement::of_instance(conn, row).await?,
    })
}

/// The marketplace's expiry; a frozen instance becomes active.
async fn renew(
    conn: &impl ConnectionTrait,
    mut row: instance::Model,
    there: &Value,
    fx: &mut Effects,
) -> Result<(), Error> {
    let expire_time = there
        .get("expireTime")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("the finding names no expiry: run reconciliation again"))?;
    let frozen = store::instances::status(&row)? == InstanceStatus::Frozen;
    let instance_id = row.instance_id.clone();
    row.expire_time = Some(expire_time.to_string());
    store::instances::update(conn, row).await?;
    if frozen {
        changes::unfreeze(conn, &instance_id, fx).await?;
    }
    Ok(())
}

/// The marketplace's order line over koogate's.
async fn take_line(
    conn: &impl ConnectionTrait,
    mut row: instance::Model,
    there: &Value,
) -> Result<(), Error> {
    let order_id = there.get("orderId").and_then(Value::as_str);
    let line = there.get("line").and_then(|l| serde_json::from_value::<Line>(l.clone()).ok());
    let (Some(order_id), Some(line)) = (order_id, line) else {
        return Err(Error::invalid(
            "this finding predates the order line it needs: run reconciliation again",
        ));
    };
    let stored = order_details::find_line(conn, order_id, &line.order_line_id).await?;
    let fetch_id = match &stored {
        Some(stored) => stored.fetch_id,
        // Known to koogate only through this finding: no fetch brought it.
        None => order_details::fetch_of(conn, order_id).await?.map_or(0, |f| f.id),
    };
    let now = Utc::now().timestamp_millis();
    let saved = order_line::Model {
        id: stored.as_ref().map_or(0, |s| s.id),
        fetch_id,
        instance_id: row.instance_id.clone(),
        order_id: order_id.to_string(),
        order_line_id: line.order_line_id,
        order_type: line.order_type,
        charging_mode: line.charging_mode,
        period_type: line.period_type,
        period_number: line.period_number,
        expire_time: line.expire_time,
        create_time: line.create_time,
        product_id: line.product_id.clone(),
        sku_code: line.sku_code.clone(),
        product_name: line.product_name,
        linear_value: line.linear_value,
        currency: line.currency,
        currency_after_discount: line.currency_after_discount,
        extend_params: line.extend_params,
        buyer_sealed: stored.as_ref().and_then(|s| s.buyer_sealed.clone()),
        raw_answer: stored.map_or_else(|| "{}".to_string(), |s| s.raw_answer),
        fetched_at: now,
    };
    order_details::save_line(conn, saved).await?;
    // The gate and the app read the instance's own plan too.
    if line.sku_code.is_some() {
        row.sku_code = line.sku_code;
    }
    if line.product_id.is_some() {
        row.product_id = line.product_id;
    }
    store::instances::update(conn, row).await
}

/// The order lines koogate never saw, queued for the fetcher.
async fn queue_unseen(
    conn: &impl ConnectionTrait,
    row: &instance::Model,
    there: &Value,
) -> Result<(), Error> {
    let lines = there.get("lines").and_then(Value::as_array).cloned().unwrap_or_default();
    let now = Utc::now().timestamp_millis();
    for line in lines {
        let text = |name: &str| line.get(name).and_then(Value::as_str).map(str::to_string);
        let (Some(order_id), Some(order_line_id)) = (text("orderId"), text("orderLineId")) else {
            continue;
        };
        let cause = "operator:unknown_order";
        order_details::queue(conn, &row.instance_id, &order_id, &order_line_id, cause, now).await?;
    }
    Ok(())
}
