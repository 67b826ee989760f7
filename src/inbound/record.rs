//! The commit of one call: its nonce, its event, the transitions and
//! outbox events it caused, in one transaction; and the recording of a
//! failed call: in a transaction of its own once it authenticated, else
//! through the refused-call writer ([`super::refused`]).

use serde_json::Value;

use super::refused::RefusedLog;
use super::Call;
use crate::error::Error;
use crate::marketplace::result::Answer;
use crate::outbox::{Event, Outbox};
use crate::store::{self, transitions::NewTransition, Db, WriteTx};

/// What a call changed besides its domain rows, written with its event.
#[derive(Debug, Default)]
pub struct Effects {
    /// Instance status changes, linked to the call's event.
    pub transitions: Vec<NewTransition>,
    /// Events for the vendor's app (crate::outbox).
    pub events: Vec<Event>,
    /// What the event log shows beside the answer (a sync's diff).
    pub detail: Option<Value>,
}

/// Begins the transaction of a call and writes its nonce claim first: a
/// replayed nonce fails before any work.
pub async fn begin(db: &Db, call: &Call) -> Result<WriteTx, Error> {
    let tx = db.begin_write().await?;
    if let Some(nonce) = &call.nonce {
        nonce.write(&tx.txn).await?;
    }
    Ok(tx)
}

/// True when `call` is a V1 call sent before the newest V1 call already
/// applied to `subject`: a captured call sent again after a later one
/// (V1 has no nonce). It is answered success, changes nothing and its
/// event says `stale` ([`Effects::stale`]). Otherwise the subject's stamp
/// advances in `conn`, the call's transaction.
pub async fn is_stale_v1(
    conn: &impl sea_orm::ConnectionTrait,
    call: &Call,
    subject: &str,
) -> Result<bool, Error> {
    match call.v1_sent_at {
        Some(sent_at) => Ok(!store::v1_stamps::advance(conn, subject, sent_at).await?),
        None => Ok(false),
    }
}

impl Effects {
    /// What a stale V1 call leaves: nothing but a word in its event.
    pub fn stale() -> Effects {
        Effects {
            detail: Some(serde_json::json!({"stale": true, "why": "a newer V1 call was applied"})),
            ..Effects::default()
        }
    }
}

/// Ends a call that succeeded: its event, its transitions and its outbox
/// events join the changes in `tx`, then all commit together. Only after
/// the commit is the relay woken.
#[tracing::instrument(name = "commit_call", skip_all, fields(events = effects.events.len()))]
pub async fn commit_call(
    tx: WriteTx,
    outbox: &Outbox,
    call: &Call,
    answer: &Answer,
    effects: Effects,
) -> Result<(), Error> {
    let conn = &tx.txn;
    let mut event = call.event(answer);
    event.detail = effects.detail.map(|d| d.to_string());
    let event_id = store::events::insert(conn, event).await?;
    store::transitions::insert_all(conn, effects.transitions, event_id).await?;
    let told = outbox.record(conn, effects.events).await?;
    tx.commit().await?;
    if told {
        outbox.committed();
    }
    Ok(())
}

/// The answer to a call, its failure recorded (a success was recorded in
/// its own transaction). Shared by `respond` and an operator's replay.
pub async fn settle(
    db: &Db,
    refused: &RefusedLog,
    call: &Call,
    result: Result<Answer, Error>,
) -> Answer {
    super::trace(call);
    let answer = match result {
        Ok(answer) => {
            tracing::info!(channel = call.channel.as_str(), activity = %call.activity, instance_id = call.instance_id.as_deref(), tenant_id = call.tenant_id.as_deref(), result_code = answer.result_code, "marketplace call");
            answer
        }
        Err(err) => {
            let answer = Answer::with_code(err.result_code(), err.public_message());
            tracing::warn!(channel = call.channel.as_str(), activity = %call.activity, instance_id = call.instance_id.as_deref(), tenant_id = call.tenant_id.as_deref(), result_code = answer.result_code, error = ?err, "marketplace call refused");
            record_failure(db, refused, call, &answer).await;
            answer
        }
    };
    crate::prometheus::marketplace_call(
        call.channel.as_str(),
        &call.activity,
        answer.result_code,
        call.started.elapsed(),
    );
    answer
}

/// Records a refused or failed call. Best effort: when the database is
/// what failed, the log line is all that is left.
///
/// A call refused before it authenticated carries no nonce (one is
/// claimed only for a verified signature), so its record alone goes to
/// the refused-call writer, capped per second. A call that authenticated
/// (or holds a nonce claim) is written in its own transaction with its
/// nonce, as a success would have been.
pub async fn record_failure(db: &Db, refused: &RefusedLog, call: &Call, answer: &Answer) {
    if !call.authenticated() && call.nonce.is_none() {
        refused.record(call.event(answer)).await;
        return;
    }
    let result = async {
        let tx = db.begin_write().await?;
        if let Some(nonce) = &call.nonce {
            // Remembered even when refused; a replay is already refused.
            store::nonces::remember(&tx.txn, &nonce.key, nonce.expires_at).await?;
        }
        store::events::insert(&tx.txn, call.event(answer)).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = result {
        // While the database cannot write, that was said once per failure
        // class (store::write_health); a line per call would bury it.
        if db.failing_writes().is_empty() {
            tracing::error!(channel = call.channel.as_str(), activity = %call.activity, error = ?err, "could not record a failed call");
        } else {
            tracing::debug!(channel = call.channel.as_str(), activity = %call.activity, error = ?err, "could not record a failed call");
        }
    }
}
