//! Who is calling through the gate: the signed-in session and its
//! identity token, from the short memory when fresh, else from the session
//! store (then remembered).

use std::rc::Rc;
use std::time::Instant;

use crate::error::Error;
use crate::gate::cache::{self, GateCache, Key, Seen, Signed};
use crate::gate::identity::{Claims, Keys};
use crate::open_api::entitlement::{self, Entitlement};
use crate::sso::refusal::Refusal;
use crate::sso::session::{self, Current};
use crate::sso::Deps;
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
) -> Result<Result<Rc<Seen>, Turned>, Error> {
    let key = session_id.map(cache::key);
    if let Some(key) = &key {
        if let Some(seen) = remembered(deps, cache, key) {
            return seen;
        }
    }
    // Boxed: the store's futures are large, and the common case above
    // should not move them around on every request.
    Box::pin(look_up(deps, cache, keys, issuer, session_id, key)).await
}

/// The caller as remembered, when the memory is fresh.
fn remembered(
    deps: &Deps<'_>,
    cache: &GateCache,
    key: &Key,
) -> Option<Result<Result<Rc<Seen>, Turned>, Error>> {
    let seen = cache.get(key)?;
    // Revocations are checked on every request, remembered or not.
    let ended =
        deps.revocations.ended_since(&seen.subjects, seen.session.created_at, &seen.cleared);
    Some(match ended {
        Err(err) => Err(err),
        Ok(None) => Ok(Ok(seen)),
        Ok(Some(reason)) => {
            cache.forget(key);
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
    key: Option<Key>,
) -> Result<Result<Rc<Seen>, Turned>, Error> {
    let session = match session::current(deps, session_id).await? {
        Current::Live(session) => session,
        Current::Anonymous => return Ok(Err(Turned::Anonymous)),
        Current::Ended(reason) => {
            if let Some(key) = &key {
                cache.forget(key);
            }
            return Ok(Err(Turned::Refused(Refusal::for_ended_session(&reason))));
        }
    };
    let reusable = key.as_ref().and_then(|key| cache.token(key));
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
            let token = Rc::from(keys.token(issuer, &claims)?);
            let plan = plan.and_then(|e| e.sku_code).map(Rc::from);
            Signed { token, plan, at: Instant::now() }
        }
    };
    let seen = Rc::new(Seen::new(*session, signed.token, signed.plan));
    if let Some(key) = key {
        cache.put(key, seen.clone(), signed.at);
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
