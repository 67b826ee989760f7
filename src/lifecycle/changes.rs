//! The changes to a live instance: renewal and conversion, freeze and
//! unfreeze, upgrade, release.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, Set};
use serde_json::json;

use super::request::{Refresh, Scene, Upgrade};
use super::{FreezeReason, Status};
use crate::error::Error;
use crate::inbound::Effects;
use crate::marketplace::result::Answer;
use crate::marketplace::timestamp::expire_time_utc;
use crate::outbox::{Event, EventType};
use crate::store::{self, orders::OrderKey, transitions::NewTransition};
use entity::{instance, order};

pub(super) async fn refresh(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    refresh: &Refresh,
    fx: &mut Effects,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, &refresh.instance_id).await?;
    if !record_order(
        conn,
        now,
        &refresh.key,
        &row.instance_id,
        refresh.product_id.clone(),
        refresh.sku_code.clone(),
        Some(refresh.expire_time.clone()),
    )
    .await?
    {
        return Ok(Answer::success());
    }
    let before = status_of(&row)?;
    row.expire_time = Some(refresh.expire_time.clone());
    match refresh.scene {
        Scene::TrialToFormal => {
            row.trial = false;
            if refresh.product_id.is_some() {
                row.product_id = refresh.product_id.clone();
            }
            fx.transitions.push(transition(&row, before, before, "trial_to_formal"));
            fx.events.push(instance_event(EventType::InstanceTrialConverted, &row, &refresh.key));
        }
        Scene::Renewal => {
            if refresh.product_id.is_some() {
                row.product_id = refresh.product_id.clone();
            }
            fx.events.push(instance_event(EventType::InstanceRenewed, &row, &refresh.key));
            let ahead = expire_time_utc(&refresh.expire_time).is_some_and(|t| t > now);
            if refresh.lifts_expiry_freeze
                && ahead
                && before == Status::Frozen
                && store::instances::freeze_cause(&row) == Some(FreezeReason::Expiry)
            {
                row.status = Status::Active.as_str().to_string();
                row.frozen_reason = None;
                fx.transitions.push(transition(&row, before, Status::Active, "renewal"));
                fx.events.push(status_event(EventType::InstanceUnfrozen, &row, "renewal"));
            }
        }
        Scene::RenewalChange => {
            // The new specification comes in the body when the marketplace
            // sends it; otherwise the SKU stays as it was and the order's
            // details come from the Open API (spec §9): the order row of
            // kind `renewal_change` without product/SKU is what that lookup
            // starts from.
            if refresh.product_id.is_some() {
                row.product_id = refresh.product_id.clone();
            }
            if refresh.sku_code.is_some() {
                row.sku_code = refresh.sku_code.clone();
            }
            fx.transitions.push(transition(&row, before, before, Scene::RenewalChange.as_str()));
            fx.events.push(instance_event(EventType::InstanceRenewed, &row, &refresh.key));
        }
        // A shortened renewal period is a renewal too: the expiry moved.
        Scene::UnsubscribeRenewalPeriod => {
            fx.events.push(instance_event(EventType::InstanceRenewed, &row, &refresh.key));
        }
    }
    store::instances::update(conn, row).await?;
    Ok(Answer::success())
}

pub(super) async fn freeze(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    reason: FreezeReason,
    fx: &mut Effects,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, instance_id).await?;
    if status_of(&row)? == Status::Active {
        row.status = Status::Frozen.as_str().to_string();
        row.frozen_reason = Some(reason.as_str().to_string());
        fx.transitions.push(transition(
            &row,
            Status::Active,
            Status::Frozen,
            &format!("freeze:{}", reason.as_str()),
        ));
        fx.events.push(status_event(EventType::InstanceFrozen, &row, reason.as_str()));
        store::instances::update(conn, row).await?;
        crate::access::revoke::after_instance_change(conn, instance_id).await?;
    }
    Ok(Answer::success())
}

pub(crate) async fn unfreeze(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    fx: &mut Effects,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, instance_id).await?;
    if status_of(&row)? == Status::Frozen {
        row.status = Status::Active.as_str().to_string();
        row.frozen_reason = None;
        fx.transitions.push(transition(&row, Status::Frozen, Status::Active, "unfreeze"));
        fx.events.push(status_event(EventType::InstanceUnfrozen, &row, "unfreeze"));
        store::instances::update(conn, row).await?;
    }
    Ok(Answer::success())
}

pub(super) async fn upgrade(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    upgrade: &Upgrade,
    fx: &mut Effects,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, &upgrade.instance_id).await?;
    if !record_order(
        conn,
        now,
        &upgrade.key,
        &row.instance_id,
        upgrade.product_id.clone(),
        upgrade.sku_code.clone(),
        None,
    )
    .await?
    {
        return Ok(Answer::success());
    }
    let status = status_of(&row)?;
    if upgrade.product_id.is_some() {
        row.product_id = upgrade.product_id.clone();
    }
    if upgrade.sku_code.is_some() {
        row.sku_code = upgrade.sku_code.clone();
    }
    fx.transitions.push(transition(&row, status, status, "upgrade"));
    fx.events.push(instance_event(EventType::InstanceUpgraded, &row, &upgrade.key));
    store::instances::update(conn, row).await?;
    Ok(Answer::success())
}

/// Release is terminal; releasing again answers success and changes
/// nothing. The local account and buyer details go with it: only the audit
/// trail stays.
pub(crate) async fn release(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    fx: &mut Effects,
) -> Result<Answer, Error> {
    let mut row = store::instances::find_for_update(conn, instance_id)
        .await?
        .ok_or(Error::InstanceNotFound)?;
    let before = status_of(&row)?;
    if before == Status::Released {
        return Ok(Answer::success());
    }
    row.status = Status::Released.as_str().to_string();
    row.frozen_reason = None;
    row.app_user_sealed = None;
    row.app_password_sealed = None;
    row.app_password_hash = None;
    row.buyer_sealed = None;
    fx.transitions.push(transition(&row, before, Status::Released, "release"));
    fx.events.push(status_event(EventType::InstanceReleased, &row, "release"));
    store::instances::update(conn, row).await?;
    crate::sync::tenants::erase_unbound_tenants(conn, instance_id).await?;
    crate::access::revoke::after_instance_change(conn, instance_id).await?;
    Ok(Answer::success())
}

/// Records an applied order; `Ok(false)` when it was applied before.
async fn record_order(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &OrderKey,
    instance_id: &str,
    product_id: Option<String>,
    sku_code: Option<String>,
    expire_time: Option<String>,
) -> Result<bool, Error> {
    store::orders::insert(
        conn,
        order::ActiveModel {
            id: NotSet,
            instance_id: Set(instance_id.to_string()),
            kind: Set(key.kind.to_string()),
            order_id: Set(key.order_id.clone()),
            order_line_id: Set(key.order_line_id.clone()),
            product_key: Set(key.product_key.clone()),
            product_id: Set(product_id),
            sku_code: Set(sku_code),
            expire_time: Set(expire_time),
            created_at: Set(now),
        },
    )
    .await
}

/// An instance that exists and is not released.
pub(super) async fn live_instance(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<instance::Model, Error> {
    match store::instances::find_for_update(conn, instance_id).await? {
        Some(row) if store::instances::status(&row)? != Status::Released => Ok(row),
        _ => Err(Error::InstanceNotFound),
    }
}

/// An event about an order applied to an instance (renewal, upgrade…).
fn instance_event(event_type: EventType, row: &instance::Model, key: &OrderKey) -> Event {
    Event::new(
        event_type,
        row.tenant_id.as_deref(),
        Some(&row.instance_id),
        json!({
            "instanceId": row.instance_id,
            "tenantId": row.tenant_id,
            "orderId": key.order_id,
            "productId": row.product_id,
            "skuCode": row.sku_code,
            "trial": row.trial,
            "expireTime": row.expire_time,
        }),
    )
}

/// An event about an instance's status (frozen, unfrozen, released).
fn status_event(event_type: EventType, row: &instance::Model, cause: &str) -> Event {
    Event::new(
        event_type,
        row.tenant_id.as_deref(),
        Some(&row.instance_id),
        json!({
            "instanceId": row.instance_id,
            "tenantId": row.tenant_id,
            "status": row.status,
            "cause": cause,
        }),
    )
}

fn status_of(row: &instance::Model) -> Result<Status, Error> {
    Status::parse(&row.status)
        .ok_or_else(|| Error::Internal(format!("unknown stored status {}", row.status)))
}

fn transition(row: &instance::Model, from: Status, to: Status, cause: &str) -> NewTransition {
    NewTransition {
        instance_id: row.instance_id.clone(),
        from_status: from.as_str().to_string(),
        to_status: to.as_str().to_string(),
        cause: cause.to_string(),
    }
}
