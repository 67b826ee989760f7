//! The sign-in flow: starting it at the tenant's auth centre, and
//! finishing it when the auth centre sends the browser back (the answer
//! checked, the user admitted, the session opened).
//!
//! # Security
//! The state is random, single use, expires in ten minutes and is bound
//! to the browser by its login cookie, which holds the waiting sign-in
//! sealed with the master key (see [`super::pending`]): starting a sign-in
//! writes nothing to the database.

use chrono::Utc;

use super::admission::{granted_user, usable_tenant};
use super::dialects::{self, SignedIn};
use super::next::local_path;
use super::pending::{Pending, Pendings};
use super::refusal::{BadAnswer, Refusal};
use super::session::{self, seal_some};
use super::sign_ins::Seen;
use super::{random_token, token_hash, Deps};
use crate::access::TenantAccess;
use crate::store;
use entity::{session as session_row, tenant, tenant_app};

/// A sign-in waits this long for its callback.
pub const LOGIN_TTL_SECS: i64 = 600;

/// Which organisation a sign-in is for, as the link (or the browser) says.
pub struct Wanted<'a> {
    pub tenant: Option<&'a str>,
    pub instance: Option<&'a str>,
    /// The organisation this browser last signed in to (its cookie).
    pub remembered: Option<&'a str>,
    pub next: Option<&'a str>,
    /// The login cookie this browser already holds: the sign-ins it has
    /// waiting are kept, so that two started side by side (two tabs) both
    /// complete.
    pub held: Option<&'a str>,
}

/// Where the browser goes to sign in; `login_cookie` is the login cookie's
/// new value (in unified mode only a sign that the browser started here).
pub enum Started {
    /// The marketplace's unified login page (no state of ours).
    Unified { url: String, login_cookie: String },
    /// The tenant's auth centre.
    Authorize { url: String, login_cookie: String },
}

/// Starts a sign-in: to the tenant's auth centre with state and PKCE (and
/// a nonce for an OpenID provider), or to the unified login page.
pub async fn start(deps: &Deps<'_>, wanted: Wanted<'_>) -> Result<Started, Refusal> {
    let conn = &deps.db.conn;
    // Without a tenant or instance in the link (the gate's redirect, a
    // refusal page's "sign in again"), the organisation this browser last
    // signed in to.
    let tenant_id = match (wanted.tenant, wanted.instance) {
        (Some(t), _) => Some(t.to_string()),
        (None, Some(i)) => store::tenants::bound_by(conn, i).await?.into_iter().next(),
        (None, None) => wanted.remembered.map(str::to_string),
    };
    let tenant_id = tenant_id.ok_or(Refusal::UnknownOrganisation)?;
    let (tenant, app, _) = usable_tenant(conn, &tenant_id).await?;
    let now = Utc::now().timestamp_millis();
    let mut waiting = Pendings::open(deps.vault, wanted.held, now);
    if deps.settings.mode == "unified" {
        // The marketplace's unified login page knows the callback from the
        // app credential and carries no state (see `finish`).
        let app_id: String = form_urlencoded::byte_serialize(app.app_id.as_bytes()).collect();
        let url = deps.settings.unified_login_url.replace("{appId}", &app_id);
        let login_cookie = waiting.seal(deps.vault)?;
        return Ok(Started::Unified { url, login_cookie });
    }
    let state_token = random_token();
    let dialects::Authorize { url, verifier, nonce_hash } =
        dialects::authorize(deps, &tenant, &app, &state_token).await?;
    waiting.add(Pending {
        state_hash: token_hash(&state_token),
        tenant_id: tenant.tenant_id.clone(),
        app_id: app.app_id.clone(),
        verifier,
        next_path: local_path(wanted.next)
            .unwrap_or_else(|| deps.settings.after_login_path.clone()),
        nonce_hash,
        expires_at: now + LOGIN_TTL_SECS * 1000,
    });
    let login_cookie = waiting.seal(deps.vault)?;
    Ok(Started::Authorize { url, login_cookie })
}

/// The auth centre's answer, as the callback received it.
pub struct Answer<'a> {
    pub code: Option<&'a str>,
    /// A CAS service ticket (`/sso/cas`), instead of a code.
    pub ticket: Option<&'a str>,
    pub tenant: Option<&'a str>,
    pub state: Option<&'a str>,
    /// RFC 9207: the issuer an OpenID provider says answers.
    pub iss: Option<&'a str>,
    /// The login cookie's value.
    pub binding: Option<&'a str>,
    /// The session cookie's value (a sign-in without state never
    /// silently replaces another account's session).
    pub session: Option<&'a str>,
}

/// A finished sign-in: the new session's id and where to go.
pub struct Finished {
    pub session_id: String,
    pub tenant_id: String,
    pub next_path: String,
    /// The session waits for a click before the browser gets it (see
    /// [`super::confirm`]).
    pub confirm: Option<super::confirm::Pending>,
    /// The login cookie without this sign-in (others may still wait);
    /// `None` when the sign-in came without a state of ours.
    pub login_cookie: Option<String>,
}

/// Finishes a sign-in: the code for tokens, the tokens for the user, the
/// user checked against the syncs, then the session. An OpenID provider
/// sends no `tenant`: the state names it. What it learns on the way (the
/// tenant, the dialect, the user) goes into `seen` for the sign-in record.
pub async fn finish(
    deps: &Deps<'_>,
    answer: Answer<'_>,
    seen: &mut Seen,
) -> Result<Finished, Refusal> {
    let incomplete = Refusal::BadAnswer(BadAnswer::Incomplete);
    if answer.code.is_none() == answer.ticket.is_none() {
        return Err(incomplete);
    }
    // Sessions made at or before a revocation end; taking the time before
    // the access checks means a freeze that lands during this sign-in
    // ends the session it makes.
    let started = Utc::now().timestamp_millis();
    let unified = deps.settings.mode == "unified";
    // Authorize mode: the state must be one we issued to this browser.
    // Unified mode: the flow may start at the marketplace, whose callback
    // carries no state; one that does carry a state is still checked. So
    // may CAS, which the aPaaS workbench starts.
    let mut waiting = Pendings::open(deps.vault, answer.binding, started);
    let (pending, tenant_id) = match (answer.state, answer.tenant) {
        (Some(state_token), tenant_id) => {
            let pending = take_pending(&mut waiting, answer.binding, state_token, tenant_id)?;
            let tenant_id = pending.tenant_id.clone();
            (Some(pending), tenant_id)
        }
        (None, Some(tenant_id)) if unified || answer.ticket.is_some() => {
            (None, tenant_id.to_string())
        }
        (None, _) => return Err(incomplete),
    };
    seen.tenant_id = Some(tenant_id.clone());
    // Checked again on the way out: a login state stored by an older
    // version may hold a `next` today's rule refuses.
    let next_path = pending
        .as_ref()
        .and_then(|p| local_path(Some(&p.next_path)))
        .unwrap_or_else(|| deps.settings.after_login_path.clone());
    let (tenant, app, access) = usable_tenant(&deps.db.conn, &tenant_id).await?;
    // Without a state of ours, nothing ties an OAuth2 answer to this
    // browser: the person confirms the account first (see `confirm`). A CAS
    // ticket the workbench sent carries no state either; it is bound to
    // the exact service URL instead (see README "Sign-in").
    let pending_click = pending.is_none() && answer.ticket.is_none();
    let proof = match (answer.code, answer.ticket, answer.tenant) {
        (Some(code), _, _) => dialects::Proof::Code { code, iss: answer.iss },
        (None, Some(ticket), Some(tenant)) => {
            let state = answer.state;
            let service = dialects::cas::service_url(deps.public_url, tenant, state);
            dialects::Proof::Ticket { ticket, service }
        }
        (None, _, _) => return Err(incomplete),
    };
    let signed_in = dialects::sign_in(deps, &tenant, &app, proof, pending.as_ref(), seen).await?;
    // The auth centre accepted: the state is used up now, on every replica,
    // before a session opens (a second callback with it is refused even by
    // an auth centre that takes a code twice).
    if let Some(pending) = &pending {
        let left_ms = pending.expires_at - started;
        super::once::claim(deps, "login-state", &pending.state_hash, left_ms).await?;
    }
    seen.user_name = Some(signed_in.user_name.clone());
    let confirm = match pending_click {
        true => {
            let signed_in_as = super::confirm::signed_in_as(deps, answer.session).await?;
            let current = signed_in_as.as_ref().map(|(t, u)| (t.as_str(), u.as_str()));
            super::confirm::needed(
                answer.binding.is_some(),
                current,
                &tenant_id,
                &signed_in.user_name,
            )
            .map(|replaces| super::confirm::Pending {
                name: signed_in
                    .name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| signed_in.user_name.clone()),
                user_name: signed_in.user_name.clone(),
                organisation: if tenant.name.is_empty() {
                    tenant_id.clone()
                } else {
                    tenant.name.clone()
                },
                replaces,
            })
        }
        false => None,
    };
    let session_id = admit(deps, &tenant, &app, &access, signed_in, started).await?;
    let login_cookie = match pending {
        Some(_) => Some(waiting.seal(deps.vault)?),
        None => None,
    };
    Ok(Finished { session_id, tenant_id, next_path, confirm, login_cookie })
}

/// The shared end of a sign-in: the user checked against the syncs
/// (granted, enabled), then a new session dated `started` (when the
/// callback arrived, before any access check).
async fn admit(
    deps: &Deps<'_>,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    access: &TenantAccess,
    signed_in: SignedIn,
    started: i64,
) -> Result<String, Refusal> {
    let tenant_id = tenant.tenant_id.as_str();
    let user =
        granted_user(&deps.db.conn, access, tenant_id, &app.app_id, &signed_in.user_name).await?;
    let instance_id = access.instance_id().map(str::to_string);
    let now = Utc::now().timestamp_millis();
    let email = signed_in.email.filter(|e| !e.is_empty());
    let tokens = signed_in.tokens;
    let session_id = session::open(
        deps,
        session_row::Model {
            id_hash: String::new(),
            tenant_id: tenant_id.to_string(),
            app_id: app.app_id.clone(),
            instance_id,
            user_name: user.user_name.clone(),
            name: signed_in.name.filter(|n| !n.is_empty()).unwrap_or(user.name.clone()),
            role: user.role.clone(),
            org_code: user.org_code.clone().or(signed_in.org_code),
            email_sealed: seal_some(deps, email.as_deref())?,
            access_token_sealed: deps.vault.seal(&tokens.access_token)?,
            refresh_token_sealed: seal_some(deps, tokens.refresh_token.as_deref())?,
            access_expires_at: now + i64::try_from(tokens.expires_in_secs).unwrap_or(7200) * 1000,
            created_at: started,
            last_seen_at: now,
            expires_at: 0,
            public_id: String::new(),
        },
    )
    .await?;
    tracing::info!(tenant_id, user_name = %user.user_name, "signed in");
    Ok(session_id)
}

/// Takes the sign-in a callback's state names out of this browser's login
/// cookie, if the cookie holds it (sealed by us, not expired) for the
/// tenant the callback names (when it names one).
fn take_pending(
    waiting: &mut Pendings,
    binding: Option<&str>,
    state_token: &str,
    tenant_id: Option<&str>,
) -> Result<Pending, Refusal> {
    if binding.is_none() {
        return Err(Refusal::BadAnswer(BadAnswer::NotThisBrowser));
    }
    match waiting.take(state_token) {
        Some(pending) if tenant_id.is_none_or(|t| t == pending.tenant_id) => Ok(pending),
        _ => Err(Refusal::BadAnswer(BadAnswer::NotThisBrowserOrLate)),
    }
}
