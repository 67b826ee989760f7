//! `/sso/login`, `/sso/callback`, `/sso/me`, `/sso/logout` (ARCHITECTURE §4).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::auth_centre::{AuthCentreError, TenantClient};
use super::{
    login_cookie_name, pages, random_token, session_cookie_name, tenant_cookie_name, token_hash,
};
use crate::error::Error;
use crate::startup::AppState;
use crate::store::{self, tenants::Access};
use entity::{login_state, session, tenant, tenant_app};

/// A login state waits this long for its callback.
const LOGIN_TTL_SECS: i64 = 600;
/// The access token is refreshed when it has less than this left.
const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;
/// `last_seen_at` is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    tenant: Option<String>,
    instance: Option<String>,
    next: Option<String>,
}

/// A refusal the user sees as a page (and the log sees with its tenant).
pub(super) struct Refusal {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl Refusal {
    pub(super) fn new(
        status: StatusCode,
        title: &'static str,
        message: impl Into<String>,
    ) -> Refusal {
        Refusal { status, title, message: message.into() }
    }
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Refusal {
        tracing::error!(error = ?err, "sign-in failed");
        Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "Please try again", err.public_message())
    }
}

pub(super) fn page(state: &AppState, refusal: Refusal) -> HttpResponse {
    pages::refusal(&state.pages, refusal.status, refusal.title, &refusal.message, None)
}

/// `GET /sso/login?tenant=T|instance=I[&next=/p]`: to the tenant's auth
/// centre with state and PKCE.
///
/// # Security
/// The state is random, single use, expires in ten minutes and is bound
/// to this browser by a login cookie holding another random value; only
/// their hashes are stored, with the PKCE verifier sealed.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    match start_login(&state, &req, &query).await {
        Ok(response) => response,
        Err(refusal) => page(&state, refusal),
    }
}

async fn start_login(
    state: &AppState,
    req: &HttpRequest,
    query: &LoginQuery,
) -> Result<HttpResponse, Refusal> {
    let conn = &state.db.conn;
    // Without a tenant or instance in the link (the gate's redirect, a
    // refusal page's "sign in again"), the organisation this browser last
    // signed in to.
    let remembered =
        req.cookie(tenant_cookie_name(cookie_secure(state))).map(|c| c.value().to_string());
    let tenant_id = match (&query.tenant, &query.instance) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(i)) => store::tenants::bound_by(conn, i).await?.into_iter().next(),
        (None, None) => remembered,
    };
    let Some(tenant_id) = tenant_id else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "Unknown organisation",
            "This sign-in link names no organisation we know.",
        ));
    };
    let (tenant, app) = usable_tenant(state, &tenant_id).await?;
    if state.settings.sso.mode == "unified" {
        // The marketplace's unified login page knows the callback from the
        // app credential and carries no state (see `finish_login`).
        let app_id: String = form_urlencoded::byte_serialize(app.app_id.as_bytes()).collect();
        let url = state.settings.sso.unified_login_url.replace("{appId}", &app_id);
        return Ok(HttpResponse::Found().insert_header((header::LOCATION, url)).finish());
    }
    let client = tenant_client(state, &tenant, &app)?;
    let state_token = random_token();
    let binding = random_token();
    let (url, verifier) = client.authorize_url(&state_token);
    let tx = state.db.begin_write().await?;
    store::sessions::insert_login_state(
        &tx.txn,
        login_state::Model {
            state_hash: token_hash(&state_token),
            binding_hash: token_hash(&binding),
            tenant_id: tenant.tenant_id.clone(),
            app_id: app.app_id.clone(),
            verifier_sealed: state.vault.seal(&verifier)?,
            next_path: local_path(query.next.as_deref())
                .unwrap_or_else(|| state.settings.sso.after_login_path.clone()),
            expires_at: Utc::now().timestamp_millis() + LOGIN_TTL_SECS * 1000,
        },
    )
    .await?;
    tx.commit().await?;
    let secure = cookie_secure(state);
    let cookie = Cookie::build(login_cookie_name(secure), binding)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(LOGIN_TTL_SECS))
        .finish();
    Ok(HttpResponse::Found().insert_header((header::LOCATION, url)).cookie(cookie).finish())
}

/// The tenant and its app, if its users may sign in now.
async fn usable_tenant(
    state: &AppState,
    tenant_id: &str,
) -> Result<(tenant::Model, tenant_app::Model), Refusal> {
    let conn = &state.db.conn;
    let tenant =
        store::tenants::find(conn, tenant_id).await?.filter(|t| !t.deleted).ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                "Unknown organisation",
                "This organisation is not known here.",
            )
        })?;
    match store::tenants::access(conn, &tenant).await?.0 {
        Access::Open => {}
        Access::Frozen => {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "Access suspended",
                "Your organisation's subscription is suspended. Please contact its administrator.",
            ));
        }
        Access::Released => {
            return Err(Refusal::new(
                StatusCode::GONE,
                "Subscription ended",
                "Your organisation's subscription has ended.",
            ));
        }
    }
    let app = store::apps::for_tenant(conn, tenant_id)
        .await?
        .into_iter()
        .find(|a| a.client_secret_sealed.is_some())
        .ok_or_else(|| {
            tracing::warn!(tenant_id, "sign-in refused: the tenant has no app credentials yet");
            Refusal::new(
                StatusCode::FORBIDDEN,
                "Not ready yet",
                "Sign-in for your organisation is not set up yet. Please try again later.",
            )
        })?;
    Ok((tenant, app))
}

fn tenant_client(
    state: &AppState,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
) -> Result<TenantClient, Refusal> {
    let secret = state.vault.open(app.client_secret_sealed.as_deref().unwrap_or_default())?;
    Ok(TenantClient::new(&tenant.domain_name, &app.client_id, &secret, &redirect_uri(state))?)
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/sso/callback", state.settings.server.public_url.trim_end_matches('/'))
}

pub fn cookie_secure(state: &AppState) -> bool {
    state.settings.sso.cookie_secure.unwrap_or(true)
}

/// Only a path on this site: `/x`, never `//host` or `https://…`.
pub(crate) fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?;
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\'))
        .then(|| next.to_string())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    tenant: Option<String>,
    state: Option<String>,
}

/// `GET /sso/callback?code&tenant&state`: the code for tokens, the tokens
/// for the user, the user checked against the syncs, then the session.
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    match finish_login(&state, &req, &query).await {
        Ok(response) => response,
        Err(refusal) => {
            let mut response = page(&state, refusal);
            let _ = response.add_removal_cookie(&removal(login_cookie_name(cookie_secure(&state))));
            response
        }
    }
}

async fn finish_login(
    state: &AppState,
    req: &HttpRequest,
    query: &CallbackQuery,
) -> Result<HttpResponse, Refusal> {
    let bad_request = |why: &str| {
        Refusal::new(StatusCode::BAD_REQUEST, "Sign-in link not valid", why.to_string())
    };
    let (Some(code), Some(tenant_id)) = (&query.code, &query.tenant) else {
        return Err(bad_request("This sign-in answer is incomplete. Please start again."));
    };
    let secure = cookie_secure(state);
    let unified = state.settings.sso.mode == "unified";
    // Authorize mode: the state must be one we issued to this browser.
    // Unified mode: the flow may start at the marketplace, whose callback
    // carries no state; one that does carry a state is still checked.
    let (verifier, next_path) = match &query.state {
        None if unified => (None, state.settings.sso.after_login_path.clone()),
        None => return Err(bad_request("This sign-in answer is incomplete. Please start again.")),
        Some(state_token) => {
            let pending = take_pending_state(state, req, secure, state_token, tenant_id).await?;
            (Some(state.vault.open(&pending.verifier_sealed)?), pending.next_path)
        }
    };
    let (tenant, app) = usable_tenant(state, tenant_id).await?;
    let client = tenant_client(state, &tenant, &app)?;
    let auth_centre_failed = |e: AuthCentreError| {
        match &e {
            AuthCentreError::Refused(why) => {
                tracing::warn!(tenant_id = %tenant.tenant_id, reason = %why, "the auth centre refused the sign-in")
            }
            AuthCentreError::Unreachable(why) => {
                tracing::warn!(tenant_id = %tenant.tenant_id, reason = %why, "the auth centre could not be reached")
            }
        }
        Refusal::new(
            StatusCode::BAD_GATEWAY,
            "Sign-in did not complete",
            "Your organisation's sign-in service did not accept this sign-in. Please try again.",
        )
    };
    let tokens = client
        .exchange(&state.http, code, verifier.as_deref())
        .await
        .map_err(auth_centre_failed)?;
    let info =
        client.user_info(&state.http, &tokens.access_token).await.map_err(auth_centre_failed)?;
    let Some(user) =
        store::users::signable(&state.db.conn, tenant_id, &app.app_id, &info.user_name).await?
    else {
        tracing::info!(tenant_id = %tenant.tenant_id, user_name = %info.user_name, "sign-in refused: not granted or disabled");
        return Err(Refusal::new(StatusCode::FORBIDDEN, "No access", "Your account has not been given access to this application. Please ask your organisation's administrator."));
    };
    let (_, instance_id) = store::tenants::access(&state.db.conn, &tenant).await?;
    let now = Utc::now().timestamp_millis();
    let email = info.email.filter(|e| !e.is_empty());
    let cookie = open_session(
        state,
        session::Model {
            id_hash: String::new(),
            tenant_id: tenant.tenant_id.clone(),
            app_id: app.app_id.clone(),
            instance_id,
            user_name: user.user_name.clone(),
            name: info.name.clone().filter(|n| !n.is_empty()).unwrap_or(user.name.clone()),
            role: user.role.clone(),
            org_code: user.org_code.clone().or(info.organization_code),
            email_sealed: seal_some(state, email.as_deref())?,
            access_token_sealed: state.vault.seal(&tokens.access_token)?,
            refresh_token_sealed: seal_some(state, tokens.refresh_token.as_deref())?,
            access_expires_at: now + i64::try_from(tokens.expires_in_secs).unwrap_or(7200) * 1000,
            created_at: now,
            last_seen_at: now,
            expires_at: 0,
            ended: None,
        },
    )
    .await?;
    tracing::info!(tenant_id = %tenant.tenant_id, user_name = %user.user_name, "signed in");
    // Not a credential: only which organisation to offer next time.
    let tenant_cookie = Cookie::build(tenant_cookie_name(secure), tenant.tenant_id.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(30))
        .finish();
    let mut response = HttpResponse::Found()
        .insert_header((header::LOCATION, next_path))
        .cookie(cookie)
        .cookie(tenant_cookie)
        .finish();
    let _ = response.add_removal_cookie(&removal(login_cookie_name(secure)));
    Ok(response)
}

/// Stores a new session (a fresh random id, its absolute lifetime from
/// `sso.session_ttl_secs`) and returns the cookie that carries the id.
pub(super) async fn open_session(
    state: &AppState,
    mut row: session::Model,
) -> Result<Cookie<'static>, Error> {
    let session_id = random_token();
    let ttl_ms = i64::try_from(state.settings.sso.session_ttl_secs)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000);
    row.id_hash = token_hash(&session_id);
    row.expires_at = row.created_at.saturating_add(ttl_ms);
    let tx = state.db.begin_write().await?;
    store::sessions::insert(&tx.txn, row).await?;
    tx.commit().await?;
    let secure = cookie_secure(state);
    Ok(Cookie::build(session_cookie_name(secure), session_id)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish())
}

fn seal_some(state: &AppState, value: Option<&str>) -> Result<Option<String>, Error> {
    value.map(|v| state.vault.seal(v)).transpose()
}

/// Takes the login state a callback names, if it was issued to this
/// browser (its login cookie) for this tenant and has not expired.
async fn take_pending_state(
    state: &AppState,
    req: &HttpRequest,
    secure: bool,
    state_token: &str,
    tenant_id: &str,
) -> Result<login_state::Model, Refusal> {
    let bad_request = |why: &str| {
        Refusal::new(StatusCode::BAD_REQUEST, "Sign-in link not valid", why.to_string())
    };
    let Some(binding) = req.cookie(login_cookie_name(secure)) else {
        return Err(bad_request(
            "This sign-in was not started in this browser. Please start again.",
        ));
    };
    let tx = state.db.begin_write().await?;
    let pending = store::sessions::take_login_state(&tx.txn, &token_hash(state_token)).await?;
    tx.commit().await?;
    let Some(pending) = pending else {
        return Err(bad_request(
            "This sign-in link was already used or is not ours. Please start again.",
        ));
    };
    let binding_ok: bool = subtle::ConstantTimeEq::ct_eq(
        token_hash(binding.value()).as_bytes(),
        pending.binding_hash.as_bytes(),
    )
    .into();
    if !binding_ok
        || pending.tenant_id != tenant_id
        || pending.expires_at < Utc::now().timestamp_millis()
    {
        return Err(bad_request(
            "This sign-in was not started in this browser, or took too long. Please start again.",
        ));
    }
    Ok(pending)
}

fn removal(name: &'static str) -> Cookie<'static> {
    Cookie::build(name, "").path("/").finish()
}

/// What a request's session cookie amounts to.
pub enum Current {
    /// No cookie, an unknown one, or a session past its lifetime.
    Anonymous,
    Live(Box<session::Model>),
    /// Access ended while the session was open: `frozen`, `released` or
    /// `revoked`.
    Ended(String),
}

/// The session a request carries, if it is still good: not past its
/// absolute or idle lifetime, and not ended by a revocation.
pub async fn current_session(state: &AppState, req: &HttpRequest) -> Result<Current, Error> {
    let Some(cookie) = req.cookie(session_cookie_name(cookie_secure(state))) else {
        return Ok(Current::Anonymous);
    };
    let id_hash = token_hash(cookie.value());
    let Some(found) = store::sessions::find(&state.db.conn, &id_hash).await? else {
        return Ok(Current::Anonymous);
    };
    let now = Utc::now().timestamp_millis();
    let idle_ms = i64::try_from(state.settings.sso.idle_ttl_secs)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000);
    if found.expires_at < now || found.last_seen_at.saturating_add(idle_ms) < now {
        let tx = state.db.begin_write().await?;
        store::sessions::delete(&tx.txn, &id_hash).await?;
        tx.commit().await?;
        return Ok(Current::Anonymous);
    }
    if let Some(reason) = found.ended {
        return Ok(Current::Ended(reason));
    }
    if found.access_expires_at - now < REFRESH_MARGIN_MS && !refresh_tokens(state, &found).await? {
        let tx = state.db.begin_write().await?;
        store::sessions::delete(&tx.txn, &id_hash).await?;
        tx.commit().await?;
        return Ok(Current::Anonymous);
    }
    if now - found.last_seen_at > TOUCH_EVERY_MS {
        let tx = state.db.begin_write().await?;
        store::sessions::touch(&tx.txn, &id_hash, now).await?;
        tx.commit().await?;
    }
    Ok(Current::Live(Box::new(found)))
}

/// Refreshes the session's access token before it expires. `Ok(false)`
/// when the auth centre refused (the session must end); an auth centre
/// that cannot be reached keeps the session and is tried again later.
async fn refresh_tokens(state: &AppState, found: &session::Model) -> Result<bool, Error> {
    let Some(sealed) = &found.refresh_token_sealed else {
        return Ok(found.access_expires_at > Utc::now().timestamp_millis());
    };
    let conn = &state.db.conn;
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
    let client = TenantClient::new(
        &tenant.domain_name,
        &app.client_id,
        &state.vault.open(secret)?,
        &redirect_uri(state),
    )?;
    match client.refresh(&state.http, &state.vault.open(sealed)?).await {
        Ok(tokens) => {
            let refresh_sealed = match &tokens.refresh_token {
                Some(t) => Some(state.vault.seal(t)?),
                None => None,
            };
            let expires_at = Utc::now().timestamp_millis()
                + i64::try_from(tokens.expires_in_secs).unwrap_or(7200) * 1000;
            let tx = state.db.begin_write().await?;
            store::sessions::update_tokens(
                &tx.txn,
                &found.id_hash,
                state.vault.seal(&tokens.access_token)?,
                refresh_sealed,
                expires_at,
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        }
        Err(AuthCentreError::Refused(why)) => {
            tracing::info!(tenant_id = %found.tenant_id, reason = %why, "token refresh refused; the session ends");
            Ok(false)
        }
        Err(AuthCentreError::Unreachable(why)) => {
            tracing::warn!(tenant_id = %found.tenant_id, reason = %why, "token refresh failed; will retry");
            Ok(true)
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    tenant_id: String,
    instance_id: Option<String>,
    user_name: String,
    name: String,
    role: String,
    org_code: Option<String>,
    email: Option<String>,
}

/// `GET /sso/me`: who is signed in, or 401.
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let Current::Live(session) = current_session(&state, &req).await? else {
        return Err(Error::Unauthenticated("not signed in"));
    };
    let email = match &session.email_sealed {
        Some(sealed) => Some(state.vault.open(sealed)?),
        None => None,
    };
    Ok(HttpResponse::Ok().json(Me {
        tenant_id: session.tenant_id,
        instance_id: session.instance_id,
        user_name: session.user_name,
        name: session.name,
        role: session.role,
        org_code: session.org_code,
        email,
    }))
}

/// `GET|POST /sso/logout`: ends the session here, then at the auth centre.
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let secure = cookie_secure(&state);
    let back = format!(
        "{}{}",
        state.settings.server.public_url.trim_end_matches('/'),
        state.settings.sso.after_login_path
    );
    let mut location = back.clone();
    if let Some(cookie) = req.cookie(session_cookie_name(secure)) {
        let id_hash = token_hash(cookie.value());
        if let Some(found) = store::sessions::find(&state.db.conn, &id_hash).await? {
            let tx = state.db.begin_write().await?;
            store::sessions::delete(&tx.txn, &id_hash).await?;
            tx.commit().await?;
            if let Some(tenant) = store::tenants::find(&state.db.conn, &found.tenant_id).await? {
                location = TenantClient::logout_url(&tenant.domain_name, &back);
            }
        }
    }
    let mut response = HttpResponse::Found().insert_header((header::LOCATION, location)).finish();
    let _ = response.add_removal_cookie(&removal(session_cookie_name(secure)));
    Ok(response)
}
