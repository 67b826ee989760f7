//! Authentication of a V2 call: key, timestamp window, signature, nonce.

use chrono::Utc;

use crate::error::Error;
use crate::kv::{Kv, PendingNonce};
use crate::marketplace::timestamp;
use crate::settings::MarketplaceSettings;

/// The three V2 credentials of a call: signature, epoch-ms timestamp, nonce.
pub struct V2Credentials<'a> {
    pub signature: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
}

/// What can be checked of a V2 call before its body is read: a key is
/// configured and the timestamp is inside the window. A stale or keyless
/// call is refused without reading its body (authenticate_v2 checks both
/// again, with the signature).
pub fn precheck_v2(
    settings: &MarketplaceSettings,
    keys: &[String],
    timestamp: &str,
) -> Result<(), Error> {
    if keys.is_empty() {
        return Err(Error::Unauthenticated("no access key is configured"));
    }
    timestamp::check_v2(timestamp, Utc::now(), settings.timestamp_tolerance_secs)
}

/// Authenticates a V2 call (lifecycle §3.1 or Kit §3.2, told apart by
/// `verify` and `scope`): a key must be configured, the timestamp inside
/// the window, the signature good under one of `keys`, and the nonce new.
/// Returns the nonce claim to write with the call, if the database keeps it.
///
/// # Security
/// The window is checked before the signature so stale requests cost no
/// HMAC; the nonce is claimed only for a verified request, so nobody can
/// burn another sender's nonces.
#[tracing::instrument(name = "authenticate", skip_all, fields(scope = %scope))]
pub async fn authenticate_v2(
    kv: &Kv,
    settings: &MarketplaceSettings,
    keys: &[String],
    scope: &str,
    credentials: V2Credentials<'_>,
    verify: impl Fn(&[String]) -> bool,
) -> Result<Option<PendingNonce>, Error> {
    if keys.is_empty() {
        return Err(Error::Unauthenticated("no access key is configured"));
    }
    let tolerance = settings.timestamp_tolerance_secs;
    timestamp::check_v2(credentials.timestamp, Utc::now(), tolerance)?;
    if !verify(keys) {
        return Err(Error::Unauthenticated("the signature does not verify"));
    }
    if credentials.nonce.is_empty() || credentials.nonce.len() > 128 {
        return Err(Error::Unauthenticated("the nonce must be 1 to 128 characters"));
    }
    // Remembered for both sides of the window: a timestamp up to
    // `tolerance` ahead stays acceptable for twice as long.
    let ttl_ms = i64::try_from(tolerance.saturating_mul(2000)).unwrap_or(i64::MAX);
    kv.claim_nonce(scope, credentials.nonce, ttl_ms).await
}
