//! Who is calling through the gate: the signed-in session and its
//! identity token, from the short memory when fresh, else from the session
//! store (then remembered).

use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::gate::cache::{GateCache, Seen, Signed};
use crate::gate::identity::{Claims, Keys};
use crate::open_api::entitlement::{self, Entitlement};
use crate::sso::refusal::Refusal;
use crate::sso::session::{self, Current};
use crate::sso::{token_hash, Deps};
use crate::store;

/// Why the caller is not let through.
pub enum Turned {
    /// No live session: sign in first.
    Anonymous,
    /// The session's access ended.
    Refused(Refusal),
}

/// The signed-in caller for this session cookie value, and their identity
/// token issued by `issuer`.
pub async fn who_is_calling(
    deps: &Deps<'_>,
    cache: &GateCache,
    keys: &Keys,
    issuer: &str,
    session_id: Option<&str>,
) -> Result<Result<Arc<Seen>, Turned>, Error> {
    let id_hash = session_id.map(token_hash);
    if let Some(h) = id_hash.as_deref() {
        if let Some(seen) = remembered(deps, cache, h) {
            return seen;
        }
    }
    // Boxed: the store's futures are large, and the common case above
    // should not move them around on every request.
    Box::pin(look_up(deps, cache, keys, issuer, session_id, id_hash)).await
}

/// The caller as remembered, when the memory is fresh.
fn remembered(
    deps: &Deps<'_>,
    cache: &GateCache,
    id_hash: &str,
) -> Option<Result<Result<Arc<Seen>, Turned>, Error>> {
    let seen = cache.get(id_hash)?;
    // Revocations are checked on every request, remembered or not.
    Some(match deps.revocations.ended_by(&seen.subjects, seen.session.created_at) {
        Err(err) => Err(err),
        Ok(None) => Ok(Ok(seen)),
        Ok(Some(reason)) => {
            cache.forget(id_hash);
            Ok(Err(Turned::Refused(Refusal::for_ended_session(&reason))))
        }
    })
}

/// The caller from the session store, then remembered.
async fn look_up(
    deps: &Deps<'_>,
    cache: &GateCache,
    keys: &Keys,
    issuer: &str,
    session_id: Option<&str>,
    id_hash: Option<String>,
) -> Result<Result<Arc<Seen>, Turned>, Error> {
    let session = match session::current(deps, session_id).await? {
        Current::Live(session) => session,
        Current::Anonymous => return Ok(Err(Turned::Anonymous)),
        Current::Ended(reason) => {
            if let Some(h) = &id_hash {
                cache.forget(h);
            }
            return Ok(Err(Turned::Refused(Refusal::for_ended_session(&reason))));
        }
    };
    let reusable = id_hash.as_deref().and_then(|h| cache.token(h));
    let signed = match reusable {
        Some(reused) => reused,
        None => {
            let plan = match &session.instance_id {
                Some(instance_id) => plan_of(deps, instance_id).await?,
                None => None,
            };
            let claims = Claims {
                user_name: &session.user_name,
                tenant_id: &session.tenant_id,
                role: &session.role,
                org_code: session.org_code.as_deref(),
                plan: plan.as_ref().and_then(|e| e.sku_code.as_deref()),
                quantity: plan.as_ref().and_then(|e| e.quantity.as_ref()),
            };
            let token = Arc::from(keys.token(issuer, &claims)?);
            let plan = plan.and_then(|e| e.sku_code).map(Arc::from);
            Signed { token, plan, at: Instant::now() }
        }
    };
    let seen = Arc::new(Seen::new(*session, signed.token, signed.plan));
    if let Some(h) = &id_hash {
        cache.put(h, seen.clone(), signed.at);
    }
    Ok(Ok(seen))
}

/// What the session's instance is entitled to, read once per token signed
/// (not per request); `None` for an instance no longer on record.
async fn plan_of(deps: &Deps<'_>, instance_id: &str) -> Result<Option<Entitlement>, Error> {
    let conn = &deps.db.conn;
    match store::instances::find(conn, instance_id).await? {
        Some(row) => Ok(Some(entitlement::of_instance(conn, &row).await?)),
        None => Ok(None),
    }
}
