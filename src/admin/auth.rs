//! Operators' sign-in to the admin site: `admin.username` and an argon2id
//! password (`admin.password_hash`, or one generated at first start).
//!
//! # Security
//! - The sign-in form carries a CSRF token that must equal the one in a
//!   SameSite=Strict cookie (double submit, as `sso::local` does); every
//!   form of a signed-in operator carries a token derived from the session
//!   id, which only the session cookie holds.
//! - The session cookie is an opaque random id, HttpOnly, SameSite=Strict,
//!   `__Host-` and Secure when `sso.cookie_secure`; the database keeps only
//!   its hash. A session ends after `sso.idle_ttl_secs` without a request,
//!   and at the latest after `sso.session_ttl_secs`.
//! - Failed sign-ins are counted for the admin account: after
//!   `MAX_FAILURES` in a window every attempt is refused until it passes,
//!   right password or not.
//! - The password is never logged; the generated one is printed once.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use chrono::Utc;
use minijinja::context;
use rand::distributions::{Alphanumeric, DistString};
use secrecy::ExposeSecret;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::render::PageResult;
use super::roles::{self, Role};
use crate::error::Error;
use crate::settings::Settings;
use crate::sso::cookies::{cookie_secure, local_path};
use crate::sso::password::{hash_password, verify_password_off_worker, MAX_FAILURES, WINDOW_MS};
use crate::sso::{random_token, token_hash};
use crate::state::AppState;
use crate::store::{self, Db};
use entity::admin_session;

/// The name the generated password's hash is stored under.
const GENERATED: &str = "one_time";
/// The failed-attempt counter of the admin account.
const ATTEMPT_KEY: &str = "admin:sign-in";
/// A session's last-seen time is written at most this often.
const TOUCH_EVERY_MS: i64 = 10_000;

pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_admin"
    } else {
        "koogate_admin"
    }
}

fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_admin_csrf"
    } else {
        "koogate_admin_csrf"
    }
}

/// At start: with `admin.password_hash` set, checks it is an argon2 hash;
/// without, makes sure a generated password exists, printing it to stdout
/// the one time it is made (only its hash is stored).
pub async fn ensure_password(db: &Db, settings: &Settings) -> Result<(), Error> {
    let configured = settings.admin.password_hash.expose_secret();
    if !configured.is_empty() {
        if argon2::PasswordHash::new(configured).is_err() {
            return Err(Error::Config(
                "admin.password_hash is not an argon2 hash; make one with `koogate hash-password`"
                    .to_string(),
            ));
        }
        return Ok(());
    }
    if store::admin_sessions::generated_password_hash(&db.conn, GENERATED).await?.is_some() {
        return Ok(());
    }
    let password = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20);
    let hash = hash_password(&password)?;
    let tx = db.begin_write().await?;
    let stored = store::admin_sessions::store_generated_password_hash(
        &tx.txn,
        GENERATED,
        &hash,
        Utc::now().timestamp_millis(),
    )
    .await?;
    tx.commit().await?;
    if stored {
        // stdout, not the log: shown once to whoever started koogate.
        println!(
            "koogate: admin sign-in at /admin/login as '{}' with the one-time password: {password}\n\
             koogate: it is not shown again. Set a permanent one: run `koogate hash-password`, \
             then put its output in admin.password_hash (KOOGATE__ADMIN__PASSWORD_HASH).",
            settings.admin.username
        );
    }
    Ok(())
}

/// The hash a sign-in is checked against.
async fn password_hash(state: &AppState) -> Result<String, Error> {
    let configured = state.settings.admin.password_hash.expose_secret();
    if !configured.is_empty() {
        return Ok(configured.to_string());
    }
    Ok(store::admin_sessions::generated_password_hash(&state.db.conn, GENERATED)
        .await?
        .unwrap_or_default())
}

/// A signed-in operator. Admin page handlers take it as an argument, so
/// none can forget the check; without a live session the request is sent
/// to the sign-in page.
pub struct Operator {
    pub username: String,
    pub role: Role,
    /// Signed in with a one-time password not yet replaced.
    pub must_change_password: bool,
    /// The token every form of this session carries.
    pub csrf_token: String,
}

impl Operator {
    /// Refuses (403, nothing done) an operator whose role is below `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Error> {
        if self.role >= needed {
            Ok(())
        } else {
            tracing::warn!(username = %self.username, role = self.role.as_str(), "an operator's role does not allow this action");
            Err(Error::Forbidden("Your role does not allow this action."))
        }
    }

    /// Checks a submitted form's token.
    pub fn check_csrf(&self, presented: &str) -> Result<(), Error> {
        if !presented.is_empty()
            && bool::from(presented.as_bytes().ct_eq(self.csrf_token.as_bytes()))
        {
            Ok(())
        } else {
            Err(Error::Forbidden("This form expired or did not come from this site. Go back, reload the page and try again."))
        }
    }
}

/// The CSRF token of a session: derived from its id, so it needs no
/// storage and cannot be known without the cookie.
fn session_csrf(session_id: &str) -> String {
    token_hash(&format!("admin-csrf:{session_id}"))
}

impl FromRequest for Operator {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Operator, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| actix_web::Error::from(Error::Internal("no state".to_string())))?;
            match operator(state, &req).await {
                Ok(Some(found)) if found.must_change_password && !may_pass_unchanged(&req) => {
                    Err(to_password_page())
                }
                Ok(Some(found)) => Ok(found),
                Ok(None) => {
                    let expired = req.cookie(session_cookie_name(cookie_secure(state))).is_some();
                    Err(to_sign_in(&req, expired))
                }
                Err(err) => Err(err.into()),
            }
        })
    }
}

/// The operator of the request's session cookie, if it is live; ends a
/// session past its idle or absolute limit.
async fn operator(state: &AppState, req: &HttpRequest) -> Result<Option<Operator>, Error> {
    let Some(cookie) = req.cookie(session_cookie_name(cookie_secure(state))) else {
        return Ok(None);
    };
    let id_hash = token_hash(cookie.value());
    let Some(session) = store::admin_sessions::find(&state.db.conn, &id_hash).await? else {
        return Ok(None);
    };
    let now = Utc::now().timestamp_millis();
    let idle_ms = idle_ms(state);
    if now > session.expires_at || now - session.last_seen_at > idle_ms {
        let tx = state.db.begin_write().await?;
        store::admin_sessions::delete(&tx.txn, &id_hash).await?;
        tx.commit().await?;
        tracing::info!(username = %session.username, "admin session ended: idle or expired");
        return Ok(None);
    }
    // The settings' admin, or a named account that is still enabled.
    let (role, must_change_password) = if session.username == state.settings.admin.username {
        (Role::Admin, false)
    } else {
        match roles::named_account(&state.db, &session.username).await? {
            Some(account) => (account.role, account.must_change_password),
            None => {
                let tx = state.db.begin_write().await?;
                store::admin_sessions::delete(&tx.txn, &id_hash).await?;
                tx.commit().await?;
                return Ok(None);
            }
        }
    };
    if now - session.last_seen_at > TOUCH_EVERY_MS {
        let tx = state.db.begin_write().await?;
        store::admin_sessions::touch(&tx.txn, &id_hash, now).await?;
        tx.commit().await?;
    }
    Ok(Some(Operator {
        username: session.username,
        role,
        must_change_password,
        csrf_token: session_csrf(cookie.value()),
    }))
}

pub fn idle_ms(state: &AppState) -> i64 {
    i64::try_from(state.settings.sso.idle_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// The pages an operator with a one-time password may still reach.
fn may_pass_unchanged(req: &HttpRequest) -> bool {
    matches!(req.path(), "/admin/password" | "/admin/logout")
}

/// A 303 to the page where a one-time password is replaced.
fn to_password_page() -> actix_web::Error {
    let response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/password"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    actix_web::error::InternalError::from_response("choose a password first", response).into()
}

/// A 303 to the sign-in page, coming back here after (GET only).
fn to_sign_in(req: &HttpRequest, expired: bool) -> actix_web::Error {
    let mut location = String::from("/admin/login");
    let mut params = form_urlencoded::Serializer::new(String::new());
    if expired {
        params.append_pair("expired", "1");
    }
    if req.method() == actix_web::http::Method::GET {
        params.append_pair("next", &req.uri().to_string());
    }
    let query = params.finish();
    if !query.is_empty() {
        location = format!("{location}?{query}");
    }
    let response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    actix_web::error::InternalError::from_response("sign in first", response).into()
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    signed_out: Option<String>,
}

/// Only an admin path: the sign-in never sends an operator elsewhere.
fn admin_next(next: Option<&str>) -> String {
    local_path(next)
        .filter(|p| p == "/admin" || p.starts_with("/admin/"))
        .unwrap_or("/admin".into())
}

/// `GET /admin/login`: the sign-in form.
pub async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> PageResult {
    if operator(&state, &req).await?.is_some() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, admin_next(query.next.as_deref())))
            .finish());
    }
    let notice = if query.expired.is_some() {
        Some("admin.login.expired")
    } else if query.signed_out.is_some() {
        Some("admin.login.signed_out")
    } else {
        None
    };
    let next = admin_next(query.next.as_deref());
    Ok(render_form(&state, &req, StatusCode::OK, &next, "", None, notice))
}

/// `error` and `notice` are catalogue keys (`admin.login.*`).
fn render_form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let csrf_token = random_token();
    let secure = cookie_secure(state);
    let body = state
        .pages
        .render(req, "admin/login.html", context! { next, username, csrf_token, error, notice })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the admin sign-in page does not render");
            "Sign in is unavailable".to_string()
        });
    // Path=/ : a __Host- cookie must have it.
    let cookie = Cookie::build(csrf_cookie_name(secure), csrf_token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::minutes(30))
        .finish();
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .body(body)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
    next: Option<String>,
}

/// `POST /admin/login`: the form's token, the attempt limit, then the
/// password; a session on success.
pub async fn login_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> PageResult {
    let secure = cookie_secure(&state);
    let next = admin_next(form.next.as_deref());
    let retry =
        |status, why| Ok(render_form(&state, &req, status, &next, &form.username, Some(why), None));
    let csrf_ok = req.cookie(csrf_cookie_name(secure)).is_some_and(|c| {
        !form.csrf_token.is_empty()
            && bool::from(c.value().as_bytes().ct_eq(form.csrf_token.as_bytes()))
    });
    if !csrf_ok {
        return retry(StatusCode::FORBIDDEN, "admin.login.form_expired");
    }
    let now = Utc::now().timestamp_millis();
    // Counted per client address: guesses from elsewhere do not lock the
    // operator out. Claimed before the check, so a burst gets at most
    // MAX_FAILURES checks.
    let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let attempt_key = format!("{ATTEMPT_KEY}:{client}");
    let settings_admin = &state.settings.admin.username;
    let is_settings_admin = bool::from(form.username.as_bytes().ct_eq(settings_admin.as_bytes()));
    let named = match is_settings_admin {
        true => None,
        false => roles::named_account(&state.db, &form.username).await?,
    };
    // Each existing account has its own limit too, wherever guesses come from.
    let account_key = (is_settings_admin || named.is_some())
        .then(|| format!("{ATTEMPT_KEY}:account:{}", form.username));
    let tx = state.db.begin_write().await?;
    let mut claimed =
        store::login_attempts::claim(&tx.txn, &attempt_key, MAX_FAILURES, WINDOW_MS, now).await?;
    if let Some(key) = &account_key {
        claimed &= store::login_attempts::claim(&tx.txn, key, MAX_FAILURES, WINDOW_MS, now).await?;
    }
    tx.commit().await?;
    if !claimed {
        tracing::warn!("admin sign-in locked after repeated failures");
        return retry(StatusCode::TOO_MANY_REQUESTS, "admin.login.locked");
    }
    let user_ok = is_settings_admin || named.is_some();
    // A hash is checked even for an unknown user name: the answer takes as
    // long either way.
    let hash = match &named {
        Some(account) => account.password_hash.clone(),
        None => password_hash(&state).await?,
    };
    let password_ok = verify_password_off_worker(&form.password, &hash).await?;
    if !(user_ok && password_ok) {
        tracing::info!("admin sign-in refused: wrong user name or password");
        return retry(StatusCode::UNAUTHORIZED, "admin.login.wrong_credentials");
    }
    let session_id = random_token();
    let ttl_ms =
        i64::try_from(state.settings.sso.session_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let tx = state.db.begin_write().await?;
    store::sessions::clear_failures(&tx.txn, &attempt_key).await?;
    if let Some(key) = &account_key {
        store::sessions::clear_failures(&tx.txn, key).await?;
    }
    store::admin_sessions::insert(
        &tx.txn,
        admin_session::Model {
            id_hash: token_hash(&session_id),
            username: form.username.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(ttl_ms),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(username = %form.username, "operator signed in to the admin site");
    let cookie = Cookie::build(session_cookie_name(secure), session_id)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    let mut response =
        HttpResponse::SeeOther().insert_header((header::LOCATION, next)).cookie(cookie).finish();
    let _ = response
        .add_removal_cookie(&Cookie::build(csrf_cookie_name(secure), "").path("/").finish());
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf_token: String,
}

/// `POST /admin/logout`: ends the session here and in the database.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    operator: Operator,
    form: web::Form<CsrfForm>,
) -> PageResult {
    operator.check_csrf(&form.csrf_token)?;
    let secure = cookie_secure(&state);
    if let Some(cookie) = req.cookie(session_cookie_name(secure)) {
        let tx = state.db.begin_write().await?;
        store::admin_sessions::delete(&tx.txn, &token_hash(cookie.value())).await?;
        tx.commit().await?;
    }
    tracing::info!(username = %operator.username, "operator signed out of the admin site");
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login?signed_out=1"))
        .finish();
    let _ = response
        .add_removal_cookie(&Cookie::build(session_cookie_name(secure), "").path("/").finish());
    Ok(response)
}

#[cfg(test)]
mod tests;
