//! The admin site's sign-in and sign-out pages: the form, its double-submit
//! CSRF check, the failure limit, and the session they open or end (see
//! [`super::auth`] for the session itself and who may do what).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::render::PageResult;
use super::roles;
use crate::sso::cookies::{cookie_secure, local_path};
use crate::sso::password::{verify_password_off_worker, MAX_FAILURES, WINDOW_MS};
use crate::sso::{random_token, token_hash};
use crate::state::AppState;
use crate::store;
use entity::admin_session;

use super::auth::{
    csrf_cookie_name, operator, password_hash, session_cookie_name, Operator, ATTEMPT_KEY,
};

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
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_ever_sends_an_operator_to_an_admin_page() {
        assert_eq!(admin_next(Some("/admin/tenants?q=x")), "/admin/tenants?q=x");
        assert_eq!(admin_next(Some("/admin")), "/admin");
        assert_eq!(admin_next(Some("//evil.example/admin")), "/admin");
        assert_eq!(admin_next(Some("https://evil.example/admin")), "/admin");
        assert_eq!(admin_next(Some("/administrator")), "/admin");
        assert_eq!(admin_next(None), "/admin");
    }
}
