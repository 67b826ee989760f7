//! What each lifecycle command does, inside one transaction with the event
//! that records it. Idempotency comes from the orders' unique key; a
//! concurrent delivery that loses the race is run again and then finds the
//! winner's order.

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use rand::Rng;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, Set};
use serde_json::json;

use super::request::{Command, NewInstance, Refresh, Scene, Upgrade};
use super::{FreezeReason, Status};
use crate::error::Error;
use crate::marketplace::appinfo::{self, EncryptType};
use crate::marketplace::inbound::Call;
use crate::marketplace::result::{Answer, AppInfo, InstanceInfo};
use crate::marketplace::timestamp::expire_time_utc;
use crate::outbox::{Event, EventType};
use crate::state::AppState;
use crate::store::{self, orders::OrderKey, transitions::NewTransition};
use entity::{instance, order};

/// Runs a command and records its event, all in one transaction.
pub async fn execute(state: &AppState, call: &Call, command: &Command) -> Result<Answer, Error> {
    let tx = state.db.begin_write().await?;
    let conn = &tx.txn;
    if let Some(nonce) = &call.nonce {
        nonce.write(conn).await?;
    }
    let mut transitions = Vec::new();
    // Events for the vendor's app, written with the change (crate::outbox).
    let mut events = Vec::new();
    let (t, e) = (&mut transitions, &mut events);
    let answer = match command {
        Command::NewInstance(new) => new_instance(state, conn, new, t, e).await?,
        Command::Query { instance_ids } => query(state, conn, instance_ids).await?,
        Command::Refresh(refresh) => refresh_instance(conn, refresh, t, e).await?,
        Command::Freeze { instance_id, reason } => freeze(conn, instance_id, *reason, t, e).await?,
        Command::Unfreeze { instance_id } => unfreeze(conn, instance_id, t, e).await?,
        Command::Upgrade(upgrade) => upgrade_instance(conn, upgrade, t, e).await?,
        Command::ChangeCheck { instance_id } => {
            live_instance(conn, instance_id).await?;
            Answer::success()
        }
        Command::Release { instance_id } => release(conn, instance_id, t, e).await?,
    };
    let event_id = store::events::insert(conn, call.event(&answer)).await?;
    store::transitions::insert_all(conn, transitions, event_id).await?;
    let told = state.outbox.record(conn, events).await?;
    tx.commit().await?;
    if told {
        state.outbox.committed();
    }
    Ok(answer)
}

/// An operator's freeze (`freeze` true) or unfreeze from the admin site.
/// The same state change as the marketplace's, so the same sessions end;
/// its transition says `operator` and its event is the `call` of channel
/// `operator`.
pub async fn operator_set_status(
    state: &AppState,
    call: &Call,
    instance_id: &str,
    freeze_it: bool,
) -> Result<Answer, Error> {
    let tx = state.db.begin_write().await?;
    let conn = &tx.txn;
    let mut transitions = Vec::new();
    let mut events = Vec::new();
    let answer = if freeze_it {
        freeze(conn, instance_id, FreezeReason::Operator, &mut transitions, &mut events).await?
    } else {
        unfreeze(conn, instance_id, &mut transitions, &mut events).await?
    };
    for change in &mut transitions {
        change.cause = "operator".to_string();
    }
    let event_id = store::events::insert(conn, call.event(&answer)).await?;
    store::transitions::insert_all(conn, transitions, event_id).await?;
    let told = state.outbox.record(conn, events).await?;
    tx.commit().await?;
    if told {
        state.outbox.committed();
    }
    Ok(answer)
}

async fn new_instance(
    state: &AppState,
    conn: &impl ConnectionTrait,
    new: &NewInstance,
    transitions: &mut Vec<NewTransition>,
    events: &mut Vec<Event>,
) -> Result<Answer, Error> {
    let limit = state.settings.provisioning.max_instances;
    if limit > 0 && !new.test_flag && store::instances::count_live(conn).await? >= limit {
        // A repeat of an order already served is not a new purchase.
        if store::orders::find(conn, &new.key).await?.is_none() {
            return Err(Error::NoCapacity);
        }
    }
    let now = Utc::now();
    let inserted = store::orders::insert(
        conn,
        order::ActiveModel {
            id: NotSet,
            instance_id: Set(new.instance_id.clone()),
            kind: Set(new.key.kind.to_string()),
            order_id: Set(new.key.order_id.clone()),
            order_line_id: Set(new.key.order_line_id.clone()),
            product_key: Set(new.key.product_key.clone()),
            product_id: Set(new.product_id.clone()),
            sku_code: Set(new.sku_code.clone()),
            expire_time: Set(new.expire_time.clone()),
            created_at: Set(now),
        },
    )
    .await?;
    if !inserted {
        // A repeat (or a concurrent delivery that committed first).
        let existing = store::orders::find(conn, &new.key)
            .await?
            .ok_or_else(|| Error::Internal("order vanished".to_string()))?;
        return new_instance_answer(state, conn, &existing.instance_id).await;
    }
    let (app_user_sealed, app_password_sealed, app_password_hash) =
        if state.settings.provisioning.local_accounts {
            let (user, password) = local_account();
            let hash = crate::sso::local::hash_password(&password)?;
            (Some(state.vault.seal(&user)?), Some(state.vault.seal(&password)?), Some(hash))
        } else {
            (None, None, None)
        };
    let buyer_sealed = match &new.buyer {
        Some(buyer) => Some(state.vault.seal(&buyer.to_string())?),
        None => None,
    };
    let row = instance::Model {
        instance_id: new.instance_id.clone(),
        status: Status::Active.as_str().to_string(),
        trial: new.trial,
        frozen_reason: None,
        expire_time: new.expire_time.clone(),
        order_id: new.key.order_id.clone(),
        order_line_id: new.order_line_id.clone(),
        product_id: new.product_id.clone(),
        sku_code: new.sku_code.clone(),
        customer_id: new.customer_id.clone(),
        tenant_id: None,
        test_flag: new.test_flag,
        channel: new.channel.to_string(),
        details: Some(new.details.to_string()),
        buyer_sealed,
        app_user_sealed,
        app_password_sealed,
        app_password_hash,
        created_at: now,
        updated_at: now,
    };
    transitions.push(NewTransition {
        instance_id: row.instance_id.clone(),
        from_status: "none".to_string(),
        to_status: Status::Active.as_str().to_string(),
        cause: if new.trial { "new_instance_trial" } else { "new_instance" }.to_string(),
    });
    events.push(Event::new(
        EventType::InstanceCreated,
        None,
        Some(&row.instance_id),
        json!({
            "instanceId": row.instance_id,
            "orderId": row.order_id,
            "orderLineId": row.order_line_id,
            "productId": row.product_id,
            "skuCode": row.sku_code,
            "trial": row.trial,
            "testFlag": row.test_flag,
            "expireTime": row.expire_time,
        }),
    ));
    let mut answer = Answer::success();
    answer.instance_id = Some(row.instance_id.clone());
    let (encrypt_type, app_info) = app_info(state, &row)?;
    answer.encrypt_type = encrypt_type;
    answer.app_info = Some(app_info);
    store::instances::insert(conn, row).await?;
    Ok(answer)
}

/// The answer to a repeated purchase: the first instanceId, same appInfo.
async fn new_instance_answer(
    state: &AppState,
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<Answer, Error> {
    let row = store::instances::find(conn, instance_id)
        .await?
        .ok_or_else(|| Error::Internal("order without its instance".to_string()))?;
    let mut answer = Answer::success();
    answer.instance_id = Some(row.instance_id.clone());
    if row.status != Status::Released.as_str() {
        let (encrypt_type, app_info) = app_info(state, &row)?;
        answer.encrypt_type = encrypt_type;
        answer.app_info = Some(app_info);
    }
    Ok(answer)
}

async fn query(
    state: &AppState,
    conn: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Answer, Error> {
    let rows = store::instances::find_many(conn, ids).await?;
    let mut info = Vec::with_capacity(ids.len());
    for id in ids {
        let row = rows
            .iter()
            .find(|r| &r.instance_id == id && r.status != Status::Released.as_str())
            .ok_or(Error::InstanceNotFound)?;
        let (encrypt_type, app_info) = app_info(state, row)?;
        info.push(InstanceInfo { instance_id: row.instance_id.clone(), encrypt_type, app_info });
    }
    let mut answer = Answer::success();
    answer.info = Some(info);
    Ok(answer)
}

async fn refresh_instance(
    conn: &impl ConnectionTrait,
    refresh: &Refresh,
    transitions: &mut Vec<NewTransition>,
    events: &mut Vec<Event>,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, &refresh.instance_id).await?;
    if !record_order(
        conn,
        &refresh.key,
        &row.instance_id,
        refresh.product_id.clone(),
        None,
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
            transitions.push(transition(&row, before, before, "trial_to_formal"));
            events.push(instance_event(EventType::InstanceTrialConverted, &row, &refresh.key));
        }
        Scene::Renewal => {
            if refresh.product_id.is_some() {
                row.product_id = refresh.product_id.clone();
            }
            events.push(instance_event(EventType::InstanceRenewed, &row, &refresh.key));
            let ahead = expire_time_utc(&refresh.expire_time).is_some_and(|t| t > Utc::now());
            if refresh.lifts_expiry_freeze
                && ahead
                && before == Status::Frozen
                && row.frozen_reason.as_deref() == Some(FreezeReason::Expiry.as_str())
            {
                row.status = Status::Active.as_str().to_string();
                row.frozen_reason = None;
                transitions.push(transition(&row, before, Status::Active, "renewal"));
                events.push(status_event(EventType::InstanceUnfrozen, &row, "renewal"));
            }
        }
        // A shortened renewal period is a renewal too: the expiry moved.
        Scene::UnsubscribeRenewalPeriod => {
            events.push(instance_event(EventType::InstanceRenewed, &row, &refresh.key));
        }
    }
    store::instances::update(conn, row).await?;
    Ok(Answer::success())
}

async fn freeze(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    reason: FreezeReason,
    transitions: &mut Vec<NewTransition>,
    events: &mut Vec<Event>,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, instance_id).await?;
    if status_of(&row)? == Status::Active {
        row.status = Status::Frozen.as_str().to_string();
        row.frozen_reason = Some(reason.as_str().to_string());
        transitions.push(transition(
            &row,
            Status::Active,
            Status::Frozen,
            &format!("freeze:{}", reason.as_str()),
        ));
        events.push(status_event(EventType::InstanceFrozen, &row, reason.as_str()));
        store::instances::update(conn, row).await?;
        crate::access::revoke::after_instance_change(conn, instance_id).await?;
    }
    Ok(Answer::success())
}

async fn unfreeze(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    transitions: &mut Vec<NewTransition>,
    events: &mut Vec<Event>,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, instance_id).await?;
    if status_of(&row)? == Status::Frozen {
        row.status = Status::Active.as_str().to_string();
        row.frozen_reason = None;
        transitions.push(transition(&row, Status::Frozen, Status::Active, "unfreeze"));
        events.push(status_event(EventType::InstanceUnfrozen, &row, "unfreeze"));
        store::instances::update(conn, row).await?;
    }
    Ok(Answer::success())
}

async fn upgrade_instance(
    conn: &impl ConnectionTrait,
    upgrade: &Upgrade,
    transitions: &mut Vec<NewTransition>,
    events: &mut Vec<Event>,
) -> Result<Answer, Error> {
    let mut row = live_instance(conn, &upgrade.instance_id).await?;
    if !record_order(
        conn,
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
    transitions.push(transition(&row, status, status, "upgrade"));
    events.push(instance_event(EventType::InstanceUpgraded, &row, &upgrade.key));
    store::instances::update(conn, row).await?;
    Ok(Answer::success())
}

/// Release is terminal; releasing again answers success and changes
/// nothing. The local account and buyer details go with it: only the audit
/// trail stays.
async fn release(
    conn: &impl ConnectionTrait,
    instance_id: &str,
    transitions: &mut Vec<NewTransition>,
    events: &mut Vec<Event>,
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
    transitions.push(transition(&row, before, Status::Released, "release"));
    events.push(status_event(EventType::InstanceReleased, &row, "release"));
    store::instances::update(conn, row).await?;
    crate::sync::service::erase_unbound_tenants(conn, instance_id).await?;
    crate::access::revoke::after_instance_change(conn, instance_id).await?;
    Ok(Answer::success())
}

/// Records an applied order; `Ok(false)` when it was applied before.
async fn record_order(
    conn: &impl ConnectionTrait,
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
            created_at: Set(Utc::now()),
        },
    )
    .await
}

/// An instance that exists and is not released.
async fn live_instance(
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<instance::Model, Error> {
    match store::instances::find_for_update(conn, instance_id).await? {
        Some(row) if row.status != Status::Released.as_str() => Ok(row),
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

/// appInfo for an instance: the URLs from the templates and, with local
/// accounts, the credentials encrypted for the marketplace (spec §4).
fn app_info(state: &AppState, row: &instance::Model) -> Result<(Option<String>, AppInfo), Error> {
    let provisioning = &state.settings.provisioning;
    let fill = |template: &str| {
        let id: String = form_urlencoded::byte_serialize(row.instance_id.as_bytes()).collect();
        let tenant: String =
            form_urlencoded::byte_serialize(row.tenant_id.as_deref().unwrap_or("").as_bytes())
                .collect();
        template.replace("{instanceId}", &id).replace("{tenantId}", &tenant)
    };
    let mut info = AppInfo {
        front_end_url: fill(&provisioning.front_end_url),
        admin_url: (!provisioning.admin_url.is_empty()).then(|| fill(&provisioning.admin_url)),
        user_name: None,
        password: None,
        memo: None,
    };
    let (Some(user), Some(password)) = (&row.app_user_sealed, &row.app_password_sealed) else {
        return Ok((None, info));
    };
    let key =
        state.access_keys.first().ok_or(Error::Unauthenticated("no access key is configured"))?;
    let encrypt_type = EncryptType::parse(&state.settings.marketplace.encrypt_type)
        .map_err(|_| Error::Config("marketplace.encrypt_type".to_string()))?;
    info.user_name = Some(appinfo::encrypt(key, encrypt_type, &state.vault.open(user)?));
    info.password = Some(appinfo::encrypt(key, encrypt_type, &state.vault.open(password)?));
    Ok((Some(encrypt_type.as_str().to_string()), info))
}

/// A user name and a strong password for a non-joint product's local
/// account: 20 characters from a 70-symbol alphabet (about 122 bits).
fn local_account() -> (String, String) {
    let user = format!("admin-{}", Alphanumeric.sample_string(&mut OsRng, 8).to_lowercase());
    const SYMBOLS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-=?@^_";
    let password = (0..20).map(|_| SYMBOLS[OsRng.gen_range(0..SYMBOLS.len())] as char).collect();
    (user, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_passwords_are_long_and_varied() {
        let (user, password) = local_account();
        assert!(user.starts_with("admin-") && user.len() == 14);
        assert_eq!(password.chars().count(), 20);
        assert_ne!(local_account().1, password);
    }
}
