//! Sessions: opening one, finding the one a cookie names (still within
//! its lifetimes, not revoked, its access token refreshed in time), and
//! ending one.

use chrono::Utc;

use super::auth_centre::{AuthCentreError, TenantClient};
use super::dialects::Renewal;
use super::{random_token, token_hash, Deps};
use crate::error::Error;
use crate::settings::SsoSettings;
use crate::store;
use entity::session;

/// The access token is refreshed when it has less than this left.
const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;
/// `last_seen_at` is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// What a request's session cookie amounts to.
pub enum Current {
    /// No cookie, an unknown one, or a session past its lifetime.
    Anonymous,
    Live(Box<session::Model>),
    /// Access ended while the session was open.
    Ended(crate::access::RevocationReason),
}

/// `sso.idle_ttl_secs` in milliseconds.
fn idle_ms(settings: &SsoSettings) -> i64 {
    i64::try_from(settings.idle_ttl_secs).unwrap_or(i64::MAX / 2).saturating_mul(1000)
}

/// Stores a new session (a fresh random id, its absolute lifetime from
/// `sso.session_ttl_secs`) and returns the id the cookie carries.
pub async fn open(deps: &Deps<'_>, mut row: session::Model) -> Result<String, Error> {
    let session_id = random_token();
    let ttl_ms =
        i64::try_from(deps.settings.session_ttl_secs).unwrap_or(i64::MAX / 2).saturating_mul(1000);
    row.id_hash = token_hash(&session_id);
    // Drawn apart from the cookie's id: the admin site shows this one.
    row.public_id = random_token();
    row.expires_at = row.created_at.saturating_add(ttl_ms);
    deps.kv.insert_session(&row, idle_ms(deps.settings)).await?;
    Ok(session_id)
}

/// The session a cookie value names, if it is still good: not past its
/// absolute or idle lifetime, and not ended by a revocation.
pub async fn current(deps: &Deps<'_>, session_id: Option<&str>) -> Result<Current, Error> {
    let Some(session_id) = session_id else {
        return Ok(Current::Anonymous);
    };
    let id_hash = token_hash(session_id);
    let Some(mut found) = deps.kv.find_session(&id_hash).await? else {
        return Ok(Current::Anonymous);
    };
    let now = Utc::now().timestamp_millis();
    let idle_ms = idle_ms(deps.settings);
    if found.expires_at < now || found.last_seen_at.saturating_add(idle_ms) < now {
        deps.kv.delete_session(&id_hash).await?;
        return Ok(Current::Anonymous);
    }
    // Kept (not deleted) so that every later request can still say why.
    if let Some(reason) = deps.revocations.ended(&found)? {
        return Ok(Current::Ended(reason));
    }
    if found.access_expires_at - now < REFRESH_MARGIN_MS {
        if !refresh_tokens(deps, &mut found).await? {
            deps.kv.delete_session(&id_hash).await?;
            return Ok(Current::Anonymous);
        }
        found.last_seen_at = now;
        deps.kv.update_session(&found, idle_ms).await?;
    } else if now - found.last_seen_at > TOUCH_EVERY_MS {
        found.last_seen_at = now;
        deps.kv.update_session(&found, idle_ms).await?;
    }
    Ok(Current::Live(Box::new(found)))
}

/// Ends the session a cookie value names; the ended session, if there
/// was one.
pub async fn end(deps: &Deps<'_>, session_id: &str) -> Result<Option<session::Model>, Error> {
    let id_hash = token_hash(session_id);
    let found = deps.kv.find_session(&id_hash).await?;
    if found.is_some() {
        deps.kv.delete_session(&id_hash).await?;
    }
    Ok(found)
}

/// Seals a secret that may be absent.
pub fn seal_some(deps: &Deps<'_>, value: Option<&str>) -> Result<Option<String>, Error> {
    value.map(|v| deps.vault.seal(v)).transpose()
}

/// Refreshes the session's access token before it expires, into `found`
/// (the caller stores it). `Ok(false)` when the auth centre refused (the
/// session must end); an auth centre that cannot be reached keeps the
/// session and is tried again later.
async fn refresh_tokens(deps: &Deps<'_>, found: &mut session::Model) -> Result<bool, Error> {
    let Some(sealed) = &found.refresh_token_sealed else {
        return Ok(found.access_expires_at > Utc::now().timestamp_millis());
    };
    let conn = &deps.db.conn;
    let (Some(tenant), Some(app)) = (
        store::tenants::find(conn, &found.tenant_id).await?,
        store::apps::for_tenant(conn, &found.tenant_id)
            .await?
            .into_iter()
            .find(|a| a.app_id == found.app_id),
    ) else {
        return Ok(false);
    };
    let Some(secret) = &app.client_secret_sealed else { return Ok(false) };
    let secret = deps.vault.open(secret)?;
    let client = match super::dialects::renewal(deps, &tenant).await {
        Renewal::Endpoints(endpoints) => {
            let domain = tenant.domain_name.as_str();
            Renewer::OAuth2(Box::new(TenantClient::at(
                domain,
                endpoints,
                &app.client_id,
                &secret,
                &deps.redirect_uri(),
            )?))
        }
        Renewal::OrgId(base) => Renewer::OrgId(super::dialects::orgid::OrgIdClient::new(
            &base,
            &app.client_id,
            &secret,
            &deps.redirect_uri(),
        )),
        Renewal::End => {
            tracing::info!(tenant_id = %found.tenant_id, "token refresh not possible in the tenant's dialect; the session ends");
            return Ok(false);
        }
        // As when the auth centre cannot be reached: tried again later.
        Renewal::Later => return Ok(true),
    };
    let refresh_token = deps.vault.open(sealed)?;
    let renewed = match &client {
        Renewer::OAuth2(client) => client.refresh(deps.http, &refresh_token).await,
        Renewer::OrgId(client) => client.refresh(deps.http, &refresh_token).await,
    };
    match renewed {
        Ok(tokens) => {
            found.refresh_token_sealed = seal_some(deps, tokens.refresh_token.as_deref())?;
            found.access_token_sealed = deps.vault.seal(&tokens.access_token)?;
            found.access_expires_at = Utc::now().timestamp_millis()
                + i64::try_from(tokens.expires_in_secs).unwrap_or(7200) * 1000;
            Ok(true)
        }
        Err(AuthCentreError::Refused(why)) => {
            tracing::info!(tenant_id = %found.tenant_id, reason = %why, "token refresh refused; the session ends");
            Ok(false)
        }
        Err(AuthCentreError::BadIdToken(why)) => {
            tracing::warn!(tenant_id = %found.tenant_id, reason = %why, "token refresh answer not trusted; the session ends");
            Ok(false)
        }
        Err(AuthCentreError::WrongNonce) => Ok(false),
        Err(AuthCentreError::Unreachable(why)) => {
            tracing::warn!(tenant_id = %found.tenant_id, reason = %why, "token refresh failed; will retry");
            Ok(true)
        }
    }
}

/// The client that renews a session's tokens.
enum Renewer {
    OAuth2(Box<TenantClient>),
    OrgId(super::dialects::orgid::OrgIdClient),
}
