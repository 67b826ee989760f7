//! Local sign-in for non-joint products (`provisioning.local_accounts`):
//! the user name and password the marketplace handed the buyer in appInfo,
//! checked against the subscription, with failed attempts counted.
//!
//! # Security
//! The password is checked against its keyed digest (constant time), or
//! against an argon2id hash stored by an older koogate, off the request
//! worker; an instance's account allows `MAX_FAILURES` failed attempts per
//! window, then is locked until the window passes.

use chrono::Utc;
use subtle::ConstantTimeEq;

use super::admission::local_account_open;
use super::password::{
    hash_generated_password, verify_generated_password, verify_password_off_worker, MAX_FAILURES,
    WINDOW_MS,
};
use super::refusal::Refusal;
use super::{session, token_hash, Deps};
use crate::error::Error;
use crate::store;
use entity::session as session_row;

/// Why a local sign-in did not open a session.
pub enum Declined {
    /// The form is shown again: too many failed attempts.
    Locked,
    /// The form is shown again: wrong user name or password.
    WrongCredentials,
    /// A page: the account cannot sign in at all.
    Refused(Refusal),
}

impl From<Error> for Declined {
    fn from(err: Error) -> Declined {
        Declined::Refused(Refusal::from(err))
    }
}

impl From<Refusal> for Declined {
    fn from(refusal: Refusal) -> Declined {
        Declined::Refused(refusal)
    }
}

/// Checks the subscription's local account and opens a session; the
/// session id. `client` is the address the form came from.
///
/// # Security
/// Failures are counted per client address and subscription, so guesses
/// from one place never lock the buyer out elsewhere. A subscription
/// without a local account (or none at all) is checked and answered
/// exactly like a wrong password, and its state (frozen, released) is
/// told only to whoever holds the credentials (that it ended is public,
/// as at `/sso/login?instance=`): the form reveals nothing about which
/// subscriptions have local accounts.
pub async fn sign_in(
    deps: &Deps<'_>,
    instance_id: &str,
    user_name: &str,
    password: &str,
    client: &str,
) -> Result<String, Declined> {
    // Before the status check: a freeze landing meanwhile ends this session.
    let now = Utc::now().timestamp_millis();
    let conn = &deps.db.conn;
    // Hashed: the key has the same shape whatever the form names.
    let attempt_key = format!("local:{client}:{}", &token_hash(instance_id)[..32]);
    // Claimed before the check: a burst of guesses gets MAX_FAILURES checks.
    let tx = deps.db.begin_write().await?;
    let claimed =
        store::login_attempts::claim(&tx.txn, &attempt_key, MAX_FAILURES, WINDOW_MS, now).await?;
    tx.commit().await?;
    if !claimed {
        tracing::warn!(instance_id, "local sign-in locked after repeated failures");
        return Err(Declined::Locked);
    }
    let instance = store::instances::find(conn, instance_id).await?;
    // That a subscription ended is no secret (its sign-in link says so).
    if let Some(Err(ended @ Refusal::Ended(_))) = instance.as_ref().map(local_account_open) {
        return Err(ended.into());
    }
    let instance = instance.filter(|i| i.app_password_hash.is_some());
    let user_ok = match instance.as_ref().and_then(|i| i.app_user_sealed.as_ref()) {
        Some(sealed) => bool::from(deps.vault.open(sealed)?.as_bytes().ct_eq(user_name.as_bytes())),
        None => false,
    };
    // The hash is checked even for a wrong user name or no account: the
    // answer takes as long either way.
    let hash = match instance.as_ref().and_then(|i| i.app_password_hash.clone()) {
        Some(hash) => hash,
        None => hash_generated_password(deps.vault, instance_id),
    };
    let password_ok = match verify_generated_password(deps.vault, password, &hash) {
        Some(ok) => ok,
        // Argon2 is slow on purpose: not on a request worker.
        None => verify_password_off_worker(password, &hash).await?,
    };
    let Some(instance) = instance.filter(|_| user_ok && password_ok) else {
        tracing::info!(instance_id, "local sign-in refused: wrong user name or password");
        return Err(Declined::WrongCredentials);
    };
    local_account_open(&instance)?;
    let tx = deps.db.begin_write().await?;
    store::sessions::clear_failures(&tx.txn, &attempt_key).await?;
    tx.commit().await?;
    let session_id = session::open(
        deps,
        session_row::Model {
            id_hash: String::new(),
            tenant_id: String::new(),
            app_id: String::new(),
            instance_id: Some(instance.instance_id.clone()),
            user_name: user_name.to_string(),
            name: user_name.to_string(),
            role: "admin".to_string(),
            org_code: None,
            email_sealed: None,
            access_token_sealed: deps.vault.seal("")?,
            refresh_token_sealed: None,
            // No auth centre behind a local account: nothing to refresh.
            access_expires_at: i64::MAX,
            created_at: now,
            last_seen_at: now,
            expires_at: 0,
            public_id: String::new(),
        },
    )
    .await?;
    tracing::info!(instance_id = %instance.instance_id, "signed in with the local account");
    Ok(session_id)
}
