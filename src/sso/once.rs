//! Single use of what an auth-centre round trip carries (a CAS ticket, a
//! login state): recorded like a marketplace nonce, in the database and
//! Redis, so a second use is refused on every replica, across restarts,
//! until it could no longer be accepted anyway. Rows are purged with the
//! nonces once expired.

use super::refusal::{BadAnswer, Refusal};
use super::{token_hash, Deps};
use crate::error::Error;

/// Refuses `token` as already used when it was claimed in `scope`: a
/// read, so that a replay is not sent on to the auth centre, while a
/// token nobody has used (a guess, a forgery) leaves nothing behind.
pub async fn unused(deps: &Deps<'_>, scope: &str, token: &str) -> Result<(), Refusal> {
    if deps.kv.was_claimed(scope, &token_hash(token)).await? {
        return Err(Refusal::BadAnswer(BadAnswer::AlreadyUsed));
    }
    Ok(())
}

/// Records `token` as used in `scope` for `memory_ms`; one seen before is
/// refused as already used.
pub async fn claim(
    deps: &Deps<'_>,
    scope: &str,
    token: &str,
    memory_ms: i64,
) -> Result<(), Refusal> {
    let already = Refusal::BadAnswer(BadAnswer::AlreadyUsed);
    let pending = match deps.kv.claim_nonce(scope, &token_hash(token), memory_ms.max(1)).await {
        Ok(Some(pending)) => pending,
        Ok(None) => return Ok(()),
        Err(Error::Unauthenticated(_)) => return Err(already),
        Err(other) => return Err(other.into()),
    };
    let tx = deps.db.begin_write().await?;
    match pending.write(&tx.txn).await {
        Ok(()) => {}
        Err(Error::Unauthenticated(_)) => return Err(already),
        Err(other) => return Err(other.into()),
    }
    tx.commit().await?;
    Ok(())
}
