//! What an authenticated call needs to run again (an operator's replay).

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::store::Db;

/// What a call's effect depends on once it has authenticated: enough to
/// run it again through the same code (an operator's replay). Kept sealed
/// with the master key, never in clear: it holds personal fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplayInput {
    /// The Kit call (`tenantSync`, ...); empty for lifecycle calls.
    #[serde(default)]
    pub call: String,
    /// The raw body, base64 (lifecycle V2 and Kit).
    #[serde(default)]
    pub body: String,
    /// The query parameters of a lifecycle V1 call, without `authToken`.
    #[serde(default)]
    pub params: Vec<(String, String)>,
}

impl ReplayInput {
    pub fn body(call: &str, body: &[u8]) -> ReplayInput {
        use base64::Engine;
        ReplayInput {
            call: call.to_string(),
            body: base64::engine::general_purpose::STANDARD.encode(body),
            params: Vec::new(),
        }
    }

    pub fn params(params: &[(String, String)]) -> ReplayInput {
        ReplayInput {
            params: params.iter().filter(|(k, _)| k != "authToken").cloned().collect(),
            ..ReplayInput::default()
        }
    }

    pub fn seal(&self, vault: &crate::vault::Vault) -> Result<String, Error> {
        let text = serde_json::to_string(self).map_err(|e| Error::Internal(e.to_string()))?;
        vault.seal(&text)
    }

    pub fn open(vault: &crate::vault::Vault, sealed: &str) -> Result<ReplayInput, Error> {
        serde_json::from_str(&vault.open(sealed)?)
            .map_err(|_| Error::Internal("a sealed replay input does not parse".to_string()))
    }

    pub fn raw_body(&self) -> Result<Vec<u8>, Error> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&self.body)
            .map_err(|_| Error::Internal("a sealed replay body is not base64".to_string()))
    }
}

/// How long a call's sealed input is kept for replays.
pub const REPLAY_INPUT_DAYS: i64 = 30;

/// Forgets the replay inputs of calls older than [`REPLAY_INPUT_DAYS`]
/// (housekeeping); the event log itself stays.
pub async fn forget_old_replay_inputs(db: &Db) -> Result<u64, Error> {
    let before = chrono::Utc::now() - chrono::Duration::days(REPLAY_INPUT_DAYS);
    let tx = db.begin_write().await?;
    let forgotten = crate::store::events::forget_replay_inputs(&tx.txn, before).await?;
    tx.commit().await?;
    Ok(forgotten)
}

/// Events deleted per batch, and batches per housekeeping round: a round
/// holds the writer for a few short transactions at most.
const PURGE_BATCH: u64 = 1000;
const PURGE_BATCHES_PER_ROUND: u32 = 20;

/// Applies the event log's retention (housekeeping): refused calls older
/// than `refused_days`, all calls older than `all_days`; 0 keeps for ever.
/// Returns how many events went.
pub async fn purge_old_events(db: &Db, all_days: u32, refused_days: u32) -> Result<u64, Error> {
    let now = chrono::Utc::now();
    let mut purged = 0;
    for (days, refused_only) in [(refused_days, true), (all_days, false)] {
        if days == 0 {
            continue;
        }
        let before = now - chrono::Duration::days(i64::from(days));
        for _ in 0..PURGE_BATCHES_PER_ROUND {
            let tx = db.begin_write().await?;
            let gone =
                crate::store::events::purge_batch(&tx.txn, before, refused_only, PURGE_BATCH)
                    .await?;
            tx.commit().await?;
            purged += gone;
            if gone < PURGE_BATCH {
                break;
            }
        }
    }
    Ok(purged)
}
