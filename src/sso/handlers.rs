//! `/sso/login`, `/sso/callback`, `/sso/me`, `/sso/logout` (ARCHITECTURE §4).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::auth_centre::{AuthCentreError, Endpoints, TenantClient, Tokens};
use super::oidc::{Dialect, OidcClient};
use super::{
    login_cookie_name, pages, random_token, session_cookie_name, tenant_cookie_name, token_hash,
};
use crate::access::{self, SignIn, TenantAccess};
use crate::error::Error;
use crate::state::AppState;
use crate::store;
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

impl Refusal {
    /// How the sign-in ended, for `koogate_logins_total`.
    pub(super) fn outcome(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::BAD_GATEWAY => "auth_centre_failed",
            s if s.is_server_error() => "error",
            _ => "refused",
        }
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
/// centre with state and PKCE (and a nonce for an OpenID provider).
///
/// # Security
/// The state is random, single use, expires in ten minutes and is bound
/// to this browser by a login cookie holding another random value; only
/// their hashes (and the nonce's) are stored, with the PKCE verifier sealed.
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
    let state_token = random_token();
    let binding = random_token();
    let (url, verifier, nonce_hash) = match tenant_dialect(state, &tenant).await? {
        Dialect::Oidc(provider) => {
            let secret = client_secret(state, &app)?;
            let client = OidcClient::new(&provider, &app.client_id, &secret, &redirect_uri(state))?;
            let authorization = client.authorize_url(&state_token);
            let nonce_hash = token_hash(&authorization.nonce);
            (authorization.url, authorization.pkce_verifier, Some(nonce_hash))
        }
        // The KooGallery dialect (`tenant_dialect` refused the others).
        _ => {
            let (url, verifier) = tenant_client(state, &tenant, &app)?.authorize_url(&state_token);
            (url, verifier, None)
        }
    };
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
            nonce_hash,
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
    match access::of_tenant(conn, &tenant).await? {
        TenantAccess::Open { .. } => {}
        TenantAccess::Frozen => {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "Access suspended",
                "Your organisation's subscription is suspended. Please contact its administrator.",
            ));
        }
        TenantAccess::Released | TenantAccess::Deleted => {
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
    let secret = client_secret(state, app)?;
    Ok(TenantClient::new(&tenant.domain_name, &app.client_id, &secret, &redirect_uri(state))?)
}

fn client_secret(state: &AppState, app: &tenant_app::Model) -> Result<String, Error> {
    state.vault.open(app.client_secret_sealed.as_deref().unwrap_or_default())
}

/// What the tenant's auth centre speaks (see [`super::oidc::Discoveries`]);
/// a provider that names another issuer than the tenant's `domainName`
/// (the mix-up defence), or whose keys cannot be fetched, is refused.
async fn tenant_dialect(state: &AppState, tenant: &tenant::Model) -> Result<Dialect, Refusal> {
    let dialect = state.oidc.dialect(&state.http, &tenant.tenant_id, &tenant.domain_name).await;
    match &dialect {
        Dialect::WrongIssuer(issuer) => {
            tracing::warn!(tenant_id = %tenant.tenant_id, %issuer, "sign-in refused: the OpenID provider's issuer is not the tenant's domainName");
            Err(Refusal::new(
                StatusCode::BAD_GATEWAY,
                "Sign-in not available",
                "Your organisation's sign-in service is not set up as expected. Please contact its administrator.",
            ))
        }
        Dialect::Unavailable => {
            tracing::warn!(tenant_id = %tenant.tenant_id, "sign-in refused: the tenant's OpenID provider is unusable");
            Err(Refusal::new(
                StatusCode::BAD_GATEWAY,
                "Sign-in not available",
                "Your organisation's sign-in service cannot be reached. Please try again later.",
            ))
        }
        Dialect::KooGallery | Dialect::Oidc(_) => Ok(dialect),
    }
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
    /// RFC 9207: the issuer an OpenID provider says answers.
    iss: Option<String>,
}

/// `GET /sso/callback?code&tenant&state`: the code for tokens, the tokens
/// for the user, the user checked against the syncs, then the session.
/// An OpenID provider sends no `tenant`: the state names it.
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    match finish_login(&state, &req, &query).await {
        Ok(response) => {
            crate::prometheus::login("signed_in");
            response
        }
        Err(refusal) => {
            crate::prometheus::login(refusal.outcome());
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
    let incomplete = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "Sign-in link not valid",
            "This sign-in answer is incomplete. Please start again.",
        )
    };
    let Some(code) = &query.code else { return Err(incomplete()) };
    // Sessions made at or before a revocation end; taking the time before
    // the access checks means a freeze that lands during this sign-in
    // ends the session it makes.
    let started = Utc::now().timestamp_millis();
    let secure = cookie_secure(state);
    let unified = state.settings.sso.mode == "unified";
    // Authorize mode: the state must be one we issued to this browser.
    // Unified mode: the flow may start at the marketplace, whose callback
    // carries no state; one that does carry a state is still checked.
    let (pending, tenant_id) = match (&query.state, &query.tenant) {
        (Some(state_token), tenant_id) => {
            let pending =
                take_pending_state(state, req, secure, state_token, tenant_id.as_deref()).await?;
            let tenant_id = pending.tenant_id.clone();
            (Some(pending), tenant_id)
        }
        (None, Some(tenant_id)) if unified => (None, tenant_id.clone()),
        (None, _) => return Err(incomplete()),
    };
    let next_path = match &pending {
        Some(p) => p.next_path.clone(),
        None => state.settings.sso.after_login_path.clone(),
    };
    let (tenant, app) = usable_tenant(state, &tenant_id).await?;
    let signed_in = match pending {
        Some(login_state::Model { nonce_hash: Some(nonce_hash), verifier_sealed, .. }) => {
            let verifier = state.vault.open(&verifier_sealed)?;
            oidc_sign_in(state, query, &tenant, &app, code, &verifier, &nonce_hash).await?
        }
        pending => {
            let verifier = match pending {
                Some(p) => Some(state.vault.open(&p.verifier_sealed)?),
                None => None,
            };
            koogallery_sign_in(state, &tenant, &app, code, verifier.as_deref()).await?
        }
    };
    admit(state, &tenant, &app, signed_in, next_path, started).await
}

/// Who the tenant's auth centre says signed in, whichever dialect it
/// spoke: from here on both share one path ([`admit`]).
struct SignedIn {
    user_name: String,
    name: Option<String>,
    email: Option<String>,
    org_code: Option<String>,
    tokens: Tokens,
}

/// The KooGallery end of a sign-in (spec §7): the code redeemed (with
/// the PKCE verifier, when koogate started the flow), then userinfo.
async fn koogallery_sign_in(
    state: &AppState,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    code: &str,
    verifier: Option<&str>,
) -> Result<SignedIn, Refusal> {
    let client = tenant_client(state, tenant, app)?;
    let failed = |e| auth_centre_failed(state, &tenant.tenant_id, e);
    let tokens = client.exchange(&state.http, code, verifier).await.map_err(failed)?;
    let info = client.user_info(&state.http, &tokens.access_token).await.map_err(failed)?;
    Ok(SignedIn {
        user_name: info.user_name,
        name: info.name,
        email: info.email,
        org_code: info.organization_code,
        tokens,
    })
}

/// The OpenID Connect end of a sign-in: the code redeemed and the ID
/// token verified against the tenant's provider (see [`super::oidc`]).
///
/// # Security
/// The provider must still be the one whose issuer is the tenant's
/// `domainName`; an answer naming another issuer, or naming none when the
/// provider promises to (RFC 9207 `iss`), is refused before the code goes
/// anywhere.
async fn oidc_sign_in(
    state: &AppState,
    query: &CallbackQuery,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    code: &str,
    verifier: &str,
    nonce_hash: &str,
) -> Result<SignedIn, Refusal> {
    let tenant_id = tenant.tenant_id.as_str();
    let Dialect::Oidc(provider) = tenant_dialect(state, tenant).await? else {
        tracing::warn!(
            tenant_id,
            "sign-in refused: started with OpenID Connect, the tenant no longer serves it"
        );
        return Err(Refusal::new(
            StatusCode::BAD_GATEWAY,
            "Sign-in did not complete",
            "Your organisation's sign-in service changed during this sign-in. Please start again.",
        ));
    };
    if !provider.answered_by_me(query.iss.as_deref()) {
        tracing::warn!(tenant_id, "sign-in refused: the answer does not name the tenant's issuer");
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "Sign-in link not valid",
            "This sign-in answer did not come from your organisation's sign-in service. Please start again.",
        ));
    }
    let secret = client_secret(state, app)?;
    let client = OidcClient::new(&provider, &app.client_id, &secret, &redirect_uri(state))?;
    let identity = client
        .finish(&state.http, code, verifier, nonce_hash)
        .await
        .map_err(|e| auth_centre_failed(state, tenant_id, e))?;
    Ok(SignedIn {
        user_name: identity.user_name,
        name: identity.name,
        email: identity.email,
        org_code: None,
        tokens: identity.tokens,
    })
}

/// A failure at the tenant's auth centre as a page, and a log line naming
/// the tenant (never a token or secret: the reasons are the crates' and
/// the auth centre's error codes).
fn auth_centre_failed(state: &AppState, tenant_id: &str, err: AuthCentreError) -> Refusal {
    let not_accepted = || {
        Refusal::new(
            StatusCode::BAD_GATEWAY,
            "Sign-in did not complete",
            "Your organisation's sign-in service did not accept this sign-in. Please try again.",
        )
    };
    match err {
        AuthCentreError::Refused(why) => {
            tracing::warn!(tenant_id, reason = %why, "the auth centre refused the sign-in");
            not_accepted()
        }
        AuthCentreError::Unreachable(why) => {
            tracing::warn!(tenant_id, reason = %why, "the auth centre could not be reached");
            not_accepted()
        }
        AuthCentreError::BadIdToken(why) => {
            tracing::warn!(tenant_id, reason = %why, "sign-in refused: the ID token failed verification");
            // Perhaps the provider rotated its keys: fetch them again.
            state.oidc.refetch_soon(tenant_id);
            not_accepted()
        }
        AuthCentreError::WrongNonce => {
            tracing::warn!(tenant_id, "sign-in refused: the ID token belongs to another sign-in");
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "Sign-in link not valid",
                "This sign-in answer belongs to another sign-in. Please start again.",
            )
        }
    }
}

/// The shared end of a sign-in: the user checked against the syncs
/// (granted, enabled, the tenant open), then a new session dated
/// `started` (when the callback arrived, before any access check).
async fn admit(
    state: &AppState,
    tenant: &tenant::Model,
    app: &tenant_app::Model,
    signed_in: SignedIn,
    next_path: String,
    started: i64,
) -> Result<HttpResponse, Refusal> {
    let tenant_id = tenant.tenant_id.as_str();
    let (user, facts) =
        store::users::sign_in_facts(&state.db.conn, tenant_id, &app.app_id, &signed_in.user_name)
            .await?;
    let tenant_access = access::of_tenant(&state.db.conn, tenant).await?;
    let (SignIn::Allowed, Some(user)) = (access::user_may_sign_in(&tenant_access, facts), user)
    else {
        tracing::info!(tenant_id, user_name = %signed_in.user_name, "sign-in refused: not granted or disabled");
        return Err(Refusal::new(StatusCode::FORBIDDEN, "No access", "Your account has not been given access to this application. Please ask your organisation's administrator."));
    };
    let instance_id = tenant_access.instance_id().map(str::to_string);
    let now = Utc::now().timestamp_millis();
    let email = signed_in.email.filter(|e| !e.is_empty());
    let tokens = signed_in.tokens;
    let cookie = open_session(
        state,
        session::Model {
            id_hash: String::new(),
            tenant_id: tenant_id.to_string(),
            app_id: app.app_id.clone(),
            instance_id,
            user_name: user.user_name.clone(),
            name: signed_in.name.filter(|n| !n.is_empty()).unwrap_or(user.name.clone()),
            role: user.role.clone(),
            org_code: user.org_code.clone().or(signed_in.org_code),
            email_sealed: seal_some(state, email.as_deref())?,
            access_token_sealed: state.vault.seal(&tokens.access_token)?,
            refresh_token_sealed: seal_some(state, tokens.refresh_token.as_deref())?,
            access_expires_at: now + i64::try_from(tokens.expires_in_secs).unwrap_or(7200) * 1000,
            created_at: started,
            last_seen_at: now,
            expires_at: 0,
        },
    )
    .await?;
    tracing::info!(tenant_id, user_name = %user.user_name, "signed in");
    let secure = cookie_secure(state);
    // Not a credential: only which organisation to offer next time.
    let tenant_cookie = Cookie::build(tenant_cookie_name(secure), tenant_id.to_string())
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
    state.kv.insert_session(&row, idle_ms(state)).await?;
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
/// browser (its login cookie), for the tenant the callback names (when it
/// names one), and has not expired.
async fn take_pending_state(
    state: &AppState,
    req: &HttpRequest,
    secure: bool,
    state_token: &str,
    tenant_id: Option<&str>,
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
        || tenant_id.is_some_and(|t| t != pending.tenant_id)
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
    Ended(access::RevocationReason),
}

/// The session a request carries, if it is still good: not past its
/// absolute or idle lifetime, and not ended by a revocation.
pub async fn current_session(state: &AppState, req: &HttpRequest) -> Result<Current, Error> {
    let Some(cookie) = req.cookie(session_cookie_name(cookie_secure(state))) else {
        return Ok(Current::Anonymous);
    };
    let id_hash = token_hash(cookie.value());
    let Some(mut found) = state.kv.find_session(&id_hash).await? else {
        return Ok(Current::Anonymous);
    };
    let now = Utc::now().timestamp_millis();
    let idle_ms = idle_ms(state);
    if found.expires_at < now || found.last_seen_at.saturating_add(idle_ms) < now {
        state.kv.delete_session(&id_hash).await?;
        return Ok(Current::Anonymous);
    }
    // Kept (not deleted) so that every later request can still say why.
    if let Some(reason) = state.revocations.ended(&found)? {
        return Ok(Current::Ended(reason));
    }
    if found.access_expires_at - now < REFRESH_MARGIN_MS {
        if !refresh_tokens(state, &mut found).await? {
            state.kv.delete_session(&id_hash).await?;
            return Ok(Current::Anonymous);
        }
        found.last_seen_at = now;
        state.kv.update_session(&found, idle_ms).await?;
    } else if now - found.last_seen_at > TOUCH_EVERY_MS {
        found.last_seen_at = now;
        state.kv.update_session(&found, idle_ms).await?;
    }
    Ok(Current::Live(Box::new(found)))
}

/// `sso.idle_ttl_secs` in milliseconds.
fn idle_ms(state: &AppState) -> i64 {
    i64::try_from(state.settings.sso.idle_ttl_secs).unwrap_or(i64::MAX / 2).saturating_mul(1000)
}

/// Refreshes the session's access token before it expires, into `found`
/// (the caller stores it). `Ok(false)` when the auth centre refused (the
/// session must end); an auth centre that cannot be reached keeps the
/// session and is tried again later.
async fn refresh_tokens(state: &AppState, found: &mut session::Model) -> Result<bool, Error> {
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
    let secret = state.vault.open(secret)?;
    let domain = tenant.domain_name.as_str();
    let endpoints = match state.oidc.dialect(&state.http, &tenant.tenant_id, domain).await {
        Dialect::KooGallery => Endpoints::koogallery(domain),
        Dialect::Oidc(provider) => match provider.endpoints() {
            Some(endpoints) => endpoints,
            None => return Ok(false),
        },
        Dialect::WrongIssuer(_) => {
            tracing::warn!(tenant_id = %found.tenant_id, "token refresh refused: the OpenID provider's issuer is not the tenant's domainName; the session ends");
            return Ok(false);
        }
        // As when the auth centre cannot be reached: tried again later.
        Dialect::Unavailable => return Ok(true),
    };
    let client =
        TenantClient::at(domain, endpoints, &app.client_id, &secret, &redirect_uri(state))?;
    match client.refresh(&state.http, &state.vault.open(sealed)?).await {
        Ok(tokens) => {
            found.refresh_token_sealed = seal_some(state, tokens.refresh_token.as_deref())?;
            found.access_token_sealed = state.vault.seal(&tokens.access_token)?;
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
        if let Some(found) = state.kv.find_session(&id_hash).await? {
            state.kv.delete_session(&id_hash).await?;
            if let Some(tenant) = store::tenants::find(&state.db.conn, &found.tenant_id).await? {
                location = logout_location(&state, &tenant, &found.app_id, &back).await?;
            }
        }
    }
    let mut response = HttpResponse::Found().insert_header((header::LOCATION, location)).finish();
    let _ = response.add_removal_cookie(&removal(session_cookie_name(secure)));
    Ok(response)
}

/// Where the browser ends its session at the tenant: an OpenID provider's
/// `end_session_endpoint` when it announced one, else the KooGallery
/// logout address.
async fn logout_location(
    state: &AppState,
    tenant: &tenant::Model,
    app_id: &str,
    back: &str,
) -> Result<String, Error> {
    let dialect = state.oidc.dialect(&state.http, &tenant.tenant_id, &tenant.domain_name).await;
    if let Dialect::Oidc(provider) = dialect {
        let app = store::apps::for_tenant(&state.db.conn, &tenant.tenant_id)
            .await?
            .into_iter()
            .find(|a| a.app_id == app_id);
        if let Some(url) = app.and_then(|a| provider.logout_url(&a.client_id, back)) {
            return Ok(url);
        }
    }
    Ok(TenantClient::logout_url(&tenant.domain_name, back))
}
