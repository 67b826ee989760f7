//! A purchase (`newInstance`) and what the marketplace is told about an
//! instance (`queryInstance`, the appInfo of both).

use chrono::{DateTime, Utc};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use rand::Rng;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, Set};
use serde_json::json;

use super::request::NewInstance;
use super::service::Ctx;
use super::Status;
use crate::error::Error;
use crate::inbound::Call;
use crate::inbound::Effects;
use crate::marketplace::appinfo::{self, EncryptType};
use crate::marketplace::result::{Answer, AppInfo, InstanceInfo};
use crate::outbox::{Event, EventType};
use crate::store::{self, transitions::NewTransition};
use entity::{instance, nonce, order, order_fetch};

pub(super) async fn new_instance(
    ctx: &Ctx<'_>,
    conn: &impl ConnectionTrait,
    new: &NewInstance,
    fx: &mut Effects,
) -> Result<Answer, Error> {
    let limit = ctx.provisioning.max_instances;
    if limit > 0 && !new.test_flag && store::instances::count_live(conn).await? >= limit {
        // A repeat of an order already served is not a new purchase.
        if store::orders::find(conn, &new.key).await?.is_none() {
            return Err(Error::NoCapacity);
        }
    }
    let inserted = store::orders::insert(conn, order_row(new, ctx.now)).await?;
    if !inserted {
        // A repeat (or a concurrent delivery that committed first).
        let existing = store::orders::find(conn, &new.key)
            .await?
            .ok_or_else(|| Error::Internal("order vanished".to_string()))?;
        return repeat_answer(ctx, conn, &existing.instance_id).await;
    }
    let (row, answer) = prepare(ctx, new, fx)?;
    store::instances::insert(conn, row).await?;
    Ok(answer)
}

/// A purchase on PostgreSQL written in one statement with everything the
/// call records (see `store::purchases`). `None` when it must go the way
/// of several statements instead, having written nothing: on SQLite (one
/// writer, no round trips to save), under `provisioning.max_instances`
/// (counted first), and when a key was taken (a replayed nonce, a repeated
/// order, a `businessId` in use), so those are told apart and answered
/// exactly as [`new_instance`] always did.
pub(super) async fn new_instance_at_once(
    ctx: &Ctx<'_>,
    call: &Call,
    new: &NewInstance,
    fetch: Option<order_fetch::ActiveModel>,
) -> Result<Option<Answer>, Error> {
    if ctx.db.is_sqlite() || (ctx.provisioning.max_instances > 0 && !new.test_flag) {
        return Ok(None);
    }
    let mut fx = Effects::default();
    let (instance, answer) = prepare(ctx, new, &mut fx)?;
    let outbox = ctx.outbox.rows(fx.events);
    let told = !outbox.is_empty();
    let nonce = call
        .nonce
        .as_ref()
        .map(|n| nonce::Model { nonce: n.key.clone(), expires_at: n.expires_at });
    let rows = store::purchases::PurchaseRows {
        nonce,
        order: order_row(new, ctx.now),
        instance,
        event: call.event(&answer),
        transitions: fx.transitions,
        outbox,
        fetch,
    };
    if !store::purchases::write_at_once(ctx.db, rows).await? {
        return Ok(None);
    }
    if told {
        ctx.outbox.committed();
    }
    Ok(Some(answer))
}

/// The order row: the purchase's idempotency record.
fn order_row(new: &NewInstance, now: DateTime<Utc>) -> order::ActiveModel {
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
    }
}

/// The new instance's row and the answer; its transition and outbox event
/// go to `fx`. Nothing is written here.
fn prepare(
    ctx: &Ctx<'_>,
    new: &NewInstance,
    fx: &mut Effects,
) -> Result<(instance::Model, Answer), Error> {
    let now = ctx.now;
    let (app_user_sealed, app_password_sealed, app_password_hash) =
        if ctx.provisioning.local_accounts {
            let (user, password) = local_account();
            // A keyed digest, not argon2: this runs inside the transaction.
            let hash = crate::sso::password::hash_generated_password(ctx.vault, &password);
            (Some(ctx.vault.seal(&user)?), Some(ctx.vault.seal(&password)?), Some(hash))
        } else {
            (None, None, None)
        };
    let buyer_sealed = match &new.buyer {
        Some(buyer) => Some(ctx.vault.seal(&buyer.to_string())?),
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
    fx.transitions.push(NewTransition {
        instance_id: row.instance_id.clone(),
        from_status: "none".to_string(),
        to_status: Status::Active.as_str().to_string(),
        cause: if new.trial { "new_instance_trial" } else { "new_instance" }.to_string(),
    });
    fx.events.push(Event::new(
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
    let (encrypt_type, app_info) = app_info(ctx, &row)?;
    answer.encrypt_type = encrypt_type;
    answer.app_info = Some(app_info);
    Ok((row, answer))
}

/// The answer to a repeated purchase: the first instanceId, same appInfo.
async fn repeat_answer(
    ctx: &Ctx<'_>,
    conn: &impl ConnectionTrait,
    instance_id: &str,
) -> Result<Answer, Error> {
    let row = store::instances::find(conn, instance_id)
        .await?
        .ok_or_else(|| Error::Internal("order without its instance".to_string()))?;
    let mut answer = Answer::success();
    answer.instance_id = Some(row.instance_id.clone());
    if store::instances::status(&row)? != Status::Released {
        let (encrypt_type, app_info) = app_info(ctx, &row)?;
        answer.encrypt_type = encrypt_type;
        answer.app_info = Some(app_info);
    }
    Ok(answer)
}

pub(super) async fn query(
    ctx: &Ctx<'_>,
    conn: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Answer, Error> {
    let rows = store::instances::find_many(conn, ids).await?;
    let mut info = Vec::with_capacity(ids.len());
    for id in ids {
        let row = rows.iter().find(|r| &r.instance_id == id).ok_or(Error::InstanceNotFound)?;
        if store::instances::status(row)? == Status::Released {
            return Err(Error::InstanceNotFound);
        }
        let (encrypt_type, app_info) = app_info(ctx, row)?;
        info.push(InstanceInfo { instance_id: row.instance_id.clone(), encrypt_type, app_info });
    }
    let mut answer = Answer::success();
    answer.info = Some(info);
    Ok(answer)
}

/// appInfo for an instance: the URLs from the templates and, with local
/// accounts, the credentials encrypted for the marketplace (spec §4).
fn app_info(ctx: &Ctx<'_>, row: &instance::Model) -> Result<(Option<String>, AppInfo), Error> {
    let provisioning = ctx.provisioning;
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
    let key = ctx.access_key.ok_or(Error::Unauthenticated("no access key is configured"))?;
    let encrypt_type = EncryptType::parse(ctx.encrypt_type)
        .map_err(|_| Error::Config("marketplace.encrypt_type".to_string()))?;
    info.user_name = Some(appinfo::encrypt(key, encrypt_type, &ctx.vault.open(user)?));
    info.password = Some(appinfo::encrypt(key, encrypt_type, &ctx.vault.open(password)?));
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
