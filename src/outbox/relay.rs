//! The relay: one task per replica that claims due events, delivers them
//! and records the outcome.
//!
//! Claims are leases (`claimed_until`), taken in a short transaction with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL: no lock and no connection is
//! held while the HTTP call runs, and a replica killed mid-delivery simply
//! lets its lease run out, after which another replica delivers the event
//! under the same `webhook-id` (the receiver deduplicates on it). Outcomes
//! are recorded only under the claim's token, so a relay that lost its
//! lease cannot overwrite the newer claim's result.
//!
//! Retries: exponential from `retry_base_ms`, doubling, capped at
//! `retry_cap_ms`, with jitter (a random point in the upper half of the
//! delay, so replicas and tenants do not retry in lockstep); an event still
//! undelivered `give_up_after_ms` (a day) after its creation is dead.

use std::time::Duration;

use std::sync::Arc;

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;

use super::{webhook, Outbox};
use crate::error::Error;
use crate::settings::OutboxTuning;
use crate::store::{self, outbox::AfterFailure, Db};

/// Events claimed at once; each is the head of its own tenant's queue, so
/// they are delivered concurrently.
const BATCH: u64 = 16;

/// Starts this replica's relay (nothing to do without a webhook URL).
pub fn spawn(db: Db, outbox: Arc<Outbox>, http: reqwest::Client) {
    if !outbox.enabled() {
        return;
    }
    tokio::spawn(async move {
        let poll = Duration::from_millis(outbox.tuning.poll_ms.max(1));
        let mut failing = false;
        loop {
            match relay_once(&db, &outbox, &http).await {
                Ok(claimed) => {
                    if failing {
                        failing = false;
                        tracing::info!("the outbox relay works again");
                    }
                    if claimed > 0 {
                        // More may be due already.
                        continue;
                    }
                }
                Err(err) => {
                    if !failing {
                        failing = true;
                        tracing::warn!(error = ?err, "the outbox relay cannot claim or record events; retrying");
                    }
                }
            }
            tokio::select! {
                _ = outbox.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    });
}

/// Claims, delivers and records one batch; returns how many were claimed.
#[tracing::instrument(name = "outbox_relay", skip_all)]
pub async fn relay_once(db: &Db, outbox: &Outbox, http: &reqwest::Client) -> Result<usize, Error> {
    let tuning = &outbox.tuning;
    let token = Alphanumeric.sample_string(&mut rand::thread_rng(), 24);
    let now = Utc::now().timestamp_millis();
    let tx = db.begin_write().await?;
    let lease_until = now.saturating_add(as_ms(tuning.lease_ms));
    let claimed = store::outbox::claim(&tx.txn, now, lease_until, &token, BATCH).await?;
    tx.commit().await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let timeout = Duration::from_millis(tuning.timeout_ms);
    let attempts = claimed.iter().map(|row| {
        let body = webhook::body(&row.event_type, row.created_at, &row.payload);
        webhook::deliver(http, &outbox.webhook_url, &outbox.key, timeout, &row.webhook_id, body)
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    let now = Utc::now().timestamp_millis();
    let tx = db.begin_write().await?;
    for (row, outcome) in claimed.iter().zip(outcomes) {
        let kept = match outcome {
            Ok(()) => store::outbox::mark_delivered(&tx.txn, row.id, &token, now).await?,
            Err(failure) => {
                let after = after_failure(tuning, row.retry_from, row.attempts, now);
                tracing::warn!(webhook_id = %row.webhook_id, event_type = %row.event_type, attempt = row.attempts, error = %failure.0, "a webhook delivery failed; it will be retried");
                if after == AfterFailure::Dead {
                    tracing::warn!(webhook_id = %row.webhook_id, event_type = %row.event_type, error = %failure.0, "an outbox event is dead after retrying for its whole period");
                }
                store::outbox::mark_failed(&tx.txn, row, &token, &failure.0, after, now).await?
            }
        };
        if !kept {
            tracing::info!(webhook_id = %row.webhook_id, "an outbox lease ran out before its attempt ended; another relay owns the event");
        }
    }
    tx.commit().await?;
    Ok(claimed.len())
}

/// Delivered events are kept a week, dead letters a month (for the
/// operator to look at and redeliver), then forgotten.
const KEEP_DELIVERED_MS: i64 = 7 * 24 * 3_600_000;
const KEEP_DEAD_MS: i64 = 30 * 24 * 3_600_000;

/// Forgets old delivered events and dead letters (housekeeping).
pub async fn purge(db: &Db) -> Result<u64, Error> {
    let now = Utc::now().timestamp_millis();
    let tx = db.begin_write().await?;
    let purged = store::outbox::purge(&tx.txn, now - KEEP_DELIVERED_MS, now - KEEP_DEAD_MS).await?;
    tx.commit().await?;
    Ok(purged)
}

/// When to try again after the `attempts`-th failure, or dead.
pub fn after_failure(
    tuning: &OutboxTuning,
    retry_from: i64,
    attempts: i32,
    now: i64,
) -> AfterFailure {
    let deadline = retry_from.saturating_add(as_ms(tuning.give_up_after_ms));
    if now >= deadline {
        return AfterFailure::Dead;
    }
    let delay = backoff(tuning, attempts);
    let jittered = delay / 2 + rand::thread_rng().gen_range(0..=delay / 2);
    AfterFailure::RetryAt(now.saturating_add(jittered).min(deadline))
}

/// `base * 2^(attempts-1)`, capped.
fn backoff(tuning: &OutboxTuning, attempts: i32) -> i64 {
    let doublings = attempts.saturating_sub(1).clamp(0, 40) as u32;
    let delay = tuning.retry_base_ms.saturating_mul(1u64 << doublings);
    as_ms(delay.min(tuning.retry_cap_ms))
}

fn as_ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_a_second_up_to_an_hour() {
        let tuning = OutboxTuning::default();
        assert_eq!(backoff(&tuning, 1), 1_000);
        assert_eq!(backoff(&tuning, 2), 2_000);
        assert_eq!(backoff(&tuning, 5), 16_000);
        assert_eq!(backoff(&tuning, 13), 3_600_000);
        assert_eq!(backoff(&tuning, 1_000), 3_600_000);
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_delay() {
        let tuning = OutboxTuning::default();
        for _ in 0..200 {
            let AfterFailure::RetryAt(at) = after_failure(&tuning, 0, 3, 10_000) else {
                panic!("retried")
            };
            assert!((12_000..=14_000).contains(&at), "{at}");
        }
    }

    #[test]
    fn an_event_dies_a_day_after_it_was_made_and_never_retries_past_that() {
        let tuning = OutboxTuning::default();
        let day = 24 * 3_600_000;
        assert_eq!(after_failure(&tuning, 0, 30, day), AfterFailure::Dead);
        assert_eq!(after_failure(&tuning, 0, 30, day - 10), AfterFailure::RetryAt(day));
    }
}
