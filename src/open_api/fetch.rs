//! Order details, fetched behind the lifecycle's back.
//!
//! Every newInstance, upgradeInstance and refreshInstance queues its order
//! in its own transaction ([`queue`]), so the 5-second answer never waits
//! for the marketplace and a queued order survives restarts. A fetcher on
//! every replica claims due orders with a lease (`store::claims`), asks
//! order/query, and in one transaction with the other answers that came
//! at the same time stores the lines (buyer sealed), ends the fetch, and
//! tells the vendor's app when the instance's entitlement changed. Unavailable answers are retried
//! with growing pauses for as long as it takes; a refusal of the order
//! itself ends the fetch as `failed`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, Set};
use serde_json::json;

use super::client::{CallError, OpenApi};
use super::entitlement;
use super::order::{self, Details};
use crate::error::Error;
use crate::lifecycle::request::{Command, Scene};
use crate::outbox::{Event, EventType, Outbox};
use crate::settings::OpenApiSettings;
use crate::store::{self, order_details};
use crate::vault::Vault;
use entity::{order_fetch, order_line};

/// The most fetches claimed at once (a second's worth at the rate limit).
const MAX_BATCH: u64 = 100;
/// How long answers are gathered to be recorded together.
const GATHER: Duration = Duration::from_millis(200);
/// The longest pause between tries of one order.
const MAX_PAUSE_MS: i64 = 10 * 60 * 1000;

/// Queues the order a lifecycle command names, in the command's
/// transaction. Commands without an order queue nothing.
pub async fn queue(conn: &impl ConnectionTrait, command: &Command) -> Result<(), Error> {
    match queued(command) {
        Some(row) => order_details::insert(conn, row).await,
        None => Ok(()),
    }
}

/// The fetch a lifecycle command queues, not yet written (a purchase on
/// PostgreSQL writes it in its one statement, see `store::purchases`).
pub fn queued(command: &Command) -> Option<order_fetch::ActiveModel> {
    let (instance_id, order_id, line_id, cause) = match command {
        Command::NewInstance(new) => (
            &new.instance_id,
            &new.key.order_id,
            new.order_line_id.clone().unwrap_or_else(|| new.key.order_line_id.clone()),
            "new_instance",
        ),
        Command::Upgrade(up) => {
            (&up.instance_id, &up.key.order_id, up.key.order_line_id.clone(), "upgrade")
        }
        Command::Refresh(refresh) => (
            &refresh.instance_id,
            &refresh.key.order_id,
            refresh.key.order_line_id.clone(),
            match refresh.scene {
                Scene::TrialToFormal => "refresh:trial_to_formal",
                Scene::Renewal => "refresh:renewal",
                Scene::RenewalChange => "refresh:renewal_change",
                Scene::UnsubscribeRenewalPeriod => "refresh:unsubscribe_renewal_period",
            },
        ),
        _ => return None,
    };
    if order_id.is_empty() {
        return None;
    }
    let now = Utc::now().timestamp_millis();
    Some(order_details::new_fetch(instance_id, order_id, &line_id, cause, now))
}

/// Starts this replica's fetcher.
pub fn spawn(
    db: store::Db,
    api: Arc<OpenApi>,
    vault: Vault,
    outbox: Arc<Outbox>,
    settings: OpenApiSettings,
) {
    let poll = Duration::from_millis(settings.poll_ms.max(1));
    let context = Arc::new((db, api, vault, outbox, settings));
    super::spawn_rounds("order fetcher", poll, move || {
        let context = context.clone();
        async move {
            let (db, api, vault, outbox, settings) = &*context;
            fetch_once(db, api, vault, outbox, settings).await
        }
    });
}

/// Claims a second's worth of due orders (at the rate limit), asks about
/// them, and records the answers as they come, a few at a time; returns
/// how many were claimed.
///
/// Every write transaction holds SQLite's one writer, which the
/// marketplace's calls wait for: one transaction per answer (a hundred a
/// second at the bench's rate) halved the lifecycle's throughput. So the
/// claim is one transaction, and the answers that arrive within
/// [`GATHER`] of each other are recorded in one more.
pub async fn fetch_once(
    db: &store::Db,
    api: &OpenApi,
    vault: &Vault,
    outbox: &Outbox,
    settings: &OpenApiSettings,
) -> Result<usize, Error> {
    let token = Alphanumeric.sample_string(&mut rand::thread_rng(), 24);
    let now = Utc::now().timestamp_millis();
    let lease_until = now.saturating_add(lease_ms(settings));
    let limit = u64::from(settings.max_requests_per_sec).clamp(1, MAX_BATCH);
    let tx = db.begin_write().await?;
    let claimed = order_details::claim(&tx.txn, now, lease_until, &token, limit).await?;
    tx.commit().await?;
    let count = claimed.len();
    let mut calls: FuturesUnordered<_> = claimed
        .into_iter()
        .map(|row| async move {
            let line = (!row.order_line_id.is_empty()).then_some(row.order_line_id.as_str());
            let outcome = api.order_query(&row.order_id, line).await;
            (row, outcome)
        })
        .collect();
    while let Some(first) = calls.next().await {
        let mut answered = vec![first];
        let until = tokio::time::Instant::now() + GATHER;
        while let Ok(Some(next)) = tokio::time::timeout_at(until, calls.next()).await {
            answered.push(next);
        }
        let outcomes = answered
            .into_iter()
            .map(|(row, answer)| {
                let outcome = outcome(vault, settings, &row, answer)?;
                Ok((row, outcome))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        record(db, outbox, &token, outcomes).await?;
    }
    Ok(count)
}

/// Long enough for every try of a call and the pauses between them.
pub(super) fn lease_ms(settings: &OpenApiSettings) -> i64 {
    let ms = settings
        .timeout_ms
        .saturating_mul(4)
        .saturating_add(settings.retry_base_ms.saturating_mul(4));
    i64::try_from(ms).unwrap_or(i64::MAX).saturating_add(5_000)
}

/// What an answer leads to, worked out before the write transaction
/// (parsing and sealing stay out of it).
enum Outcome {
    Lines(Details, Option<String>),
    Failed(String),
    RetryAt(String, i64),
}

fn outcome(
    vault: &Vault,
    settings: &OpenApiSettings,
    row: &order_fetch::Model,
    answer: Result<super::client::Answer, CallError>,
) -> Result<Outcome, Error> {
    Ok(match answer {
        Ok(answer) => match order::parse(&answer.json) {
            Some(details) => {
                let buyer_sealed = match &details.buyer {
                    Some(buyer) => Some(vault.seal(&buyer.to_string())?),
                    None => None,
                };
                Outcome::Lines(details, buyer_sealed)
            }
            None => Outcome::Failed("no orderInfo in the answer".to_string()),
        },
        Err(CallError::Refused { status, code, .. }) => {
            let error = format!("refused: HTTP {status} {code}");
            tracing::warn!(order_id = %row.order_id, error = %error, "the marketplace refused an order query");
            Outcome::Failed(error)
        }
        Err(err @ (CallError::Unavailable(_) | CallError::CredentialsRefused { .. })) => {
            let at = Utc::now().timestamp_millis().saturating_add(pause_ms(settings, row.attempts));
            Outcome::RetryAt(err.to_string().chars().take(200).collect(), at)
        }
    })
}

/// Records answers under the claim `token`, in one transaction.
async fn record(
    db: &store::Db,
    outbox: &Outbox,
    token: &str,
    outcomes: Vec<(order_fetch::Model, Outcome)>,
) -> Result<(), Error> {
    let now = Utc::now().timestamp_millis();
    let tx = db.begin_write().await?;
    let conn = &tx.txn;
    let mut told = false;
    for (row, outcome) in outcomes {
        match outcome {
            Outcome::Lines(details, buyer_sealed) => {
                told |=
                    store_details(conn, outbox, &row, token, details, buyer_sealed, now).await?;
            }
            Outcome::Failed(error) => {
                order_details::finish(
                    conn,
                    row.id,
                    token,
                    order_details::FAILED,
                    Some(&error),
                    now,
                )
                .await?;
            }
            Outcome::RetryAt(error, at) => {
                order_details::retry_at(conn, row.id, token, &error, at).await?;
            }
        }
    }
    tx.commit().await?;
    if told {
        outbox.committed();
    }
    Ok(())
}

/// Stores the lines and ends the fetch, under the claim; `true` when an
/// outbox event was written.
async fn store_details(
    conn: &impl ConnectionTrait,
    outbox: &Outbox,
    row: &order_fetch::Model,
    token: &str,
    details: Details,
    buyer_sealed: Option<String>,
    now: i64,
) -> Result<bool, Error> {
    if !order_details::finish(conn, row.id, token, order_details::DONE, None, now).await? {
        // Another replica took it over after our lease ran out.
        return Ok(false);
    }
    let instance = store::instances::find(conn, &row.instance_id).await?;
    let before = match &instance {
        Some(i) => Some(entitlement::of_instance(conn, i).await?),
        None => None,
    };
    let lines = details
        .lines
        .into_iter()
        .filter(|l| row.order_line_id.is_empty() || l.order_line_id == row.order_line_id)
        .map(|l| order_line::ActiveModel {
            id: NotSet,
            fetch_id: Set(row.id),
            instance_id: Set(row.instance_id.clone()),
            order_id: Set(row.order_id.clone()),
            order_line_id: Set(l.order_line_id),
            order_type: Set(l.order_type),
            charging_mode: Set(l.charging_mode),
            period_type: Set(l.period_type),
            period_number: Set(l.period_number),
            expire_time: Set(l.expire_time),
            create_time: Set(l.create_time),
            product_id: Set(l.product_id),
            sku_code: Set(l.sku_code),
            product_name: Set(l.product_name),
            linear_value: Set(l.linear_value),
            currency: Set(l.currency),
            currency_after_discount: Set(l.currency_after_discount),
            extend_params: Set(l.extend_params),
            buyer_sealed: Set(buyer_sealed.clone()),
            raw_answer: Set(details.redacted.clone()),
            fetched_at: Set(now),
        })
        .collect();
    order_details::insert_lines(conn, lines).await?;
    let (Some(instance), Some(before)) = (instance, before) else { return Ok(false) };
    let after = entitlement::of_instance(conn, &instance).await?;
    if after == before {
        return Ok(false);
    }
    let event = Event::new(
        EventType::InstanceEntitlementChanged,
        instance.tenant_id.as_deref(),
        Some(&instance.instance_id),
        json!({
            "instanceId": instance.instance_id,
            "tenantId": instance.tenant_id,
            "orderId": row.order_id,
            "before": entitlement::to_json(&before),
            "after": entitlement::to_json(&after),
        }),
    );
    outbox.record(conn, vec![event]).await
}

/// `retry_base * 2^(attempts-1)`, jittered in its upper half, at most ten minutes.
pub(super) fn pause_ms(settings: &OpenApiSettings, attempts: i32) -> i64 {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let base = i64::try_from(settings.retry_base_ms).unwrap_or(1_000);
    let delay = base.saturating_mul(1i64 << doublings).clamp(1, MAX_PAUSE_MS);
    delay / 2 + rand::thread_rng().gen_range(0..=delay / 2)
}
