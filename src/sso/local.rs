//! Local sign-in for non-joint products (`provisioning.local_accounts`):
//! the user name and password the marketplace handed the buyer in appInfo.
//!
//! # Security
//! The password is checked against an argon2id hash; the form carries a
//! CSRF token that must equal the one in a SameSite=Strict cookie; an
//! instance's account allows `MAX_FAILURES` failed attempts per window,
//! then answers 429 until the window passes.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::handlers::{cookie_secure, local_path, open_session, page, Refusal};
use super::random_token;
use crate::error::Error;
use crate::lifecycle::Status;
use crate::state::AppState;
use crate::store;
use entity::session;

/// Failed attempts allowed per account in one window.
pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// An argon2id hash (PHC string) of a local password.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| Error::Internal("password hashing failed".to_string()))
}

/// Whether `password` matches an argon2 hash (PHC string); false for a
/// hash that does not parse.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_csrf"
    } else {
        "koogate_csrf"
    }
}

#[derive(Debug, Deserialize)]
pub struct FormQuery {
    instance: Option<String>,
    next: Option<String>,
}

/// `GET /sso/local?instance=I[&next=/p]`: the sign-in form.
pub async fn form(state: web::Data<AppState>, query: web::Query<FormQuery>) -> HttpResponse {
    let instance = query.instance.clone().unwrap_or_default();
    let next = local_path(query.next.as_deref())
        .unwrap_or_else(|| state.settings.sso.after_login_path.clone());
    render_form(&state, StatusCode::OK, &instance, &next, None)
}

fn render_form(
    state: &AppState,
    status: StatusCode,
    instance: &str,
    next: &str,
    error: Option<&str>,
) -> HttpResponse {
    let csrf_token = random_token();
    let secure = cookie_secure(state);
    let body = state
        .pages
        .get_template("local_login.html")
        .and_then(|t| t.render(context! { instance, next, csrf_token, error }))
        .unwrap_or_else(|_| "Sign in is unavailable".to_string());
    let cookie = Cookie::build(csrf_cookie_name(secure), csrf_token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::minutes(30))
        .finish();
    HttpResponse::build(status).content_type("text/html; charset=utf-8").cookie(cookie).body(body)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    instance: String,
    user_name: String,
    password: String,
    csrf_token: String,
    next: Option<String>,
}

/// `POST /sso/local`: checks the form and the account, then the session.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    match check(&state, &req, &form).await {
        Ok(response) => response,
        Err(Outcome::Retry(status, why)) => {
            let next = local_path(form.next.as_deref())
                .unwrap_or_else(|| state.settings.sso.after_login_path.clone());
            render_form(&state, status, &form.instance, &next, Some(why))
        }
        Err(Outcome::Refused(refusal)) => page(&state, refusal),
    }
}

enum Outcome {
    /// Show the form again with this message.
    Retry(StatusCode, &'static str),
    Refused(Refusal),
}

impl From<Error> for Outcome {
    fn from(err: Error) -> Outcome {
        Outcome::Refused(Refusal::from(err))
    }
}

async fn check(
    state: &AppState,
    req: &HttpRequest,
    form: &LoginForm,
) -> Result<HttpResponse, Outcome> {
    let secure = cookie_secure(state);
    let csrf_ok = req.cookie(csrf_cookie_name(secure)).is_some_and(|c| {
        !form.csrf_token.is_empty()
            && bool::from(c.value().as_bytes().ct_eq(form.csrf_token.as_bytes()))
    });
    if !csrf_ok {
        return Err(Outcome::Retry(
            StatusCode::FORBIDDEN,
            "This form expired or did not come from this site. Please try again.",
        ));
    }
    // Before the status check: a freeze landing meanwhile ends this session.
    let now = Utc::now().timestamp_millis();
    let conn = &state.db.conn;
    let instance = store::instances::find(conn, &form.instance).await?;
    let Some(instance) = instance.filter(|i| i.app_password_hash.is_some()) else {
        return Err(Outcome::Refused(Refusal::new(
            StatusCode::NOT_FOUND,
            "Unknown subscription",
            "This sign-in link names no subscription with a local account.",
        )));
    };
    match Status::parse(&instance.status) {
        Some(Status::Active) => {}
        Some(Status::Frozen) => {
            return Err(Outcome::Refused(Refusal::new(
                StatusCode::FORBIDDEN,
                "Access suspended",
                "This subscription is suspended.",
            )));
        }
        _ => {
            return Err(Outcome::Refused(Refusal::new(
                StatusCode::GONE,
                "Subscription ended",
                "This subscription has ended.",
            )));
        }
    }
    let attempt_key = format!("local:{}", instance.instance_id);
    if store::sessions::failures(conn, &attempt_key, WINDOW_MS, now).await? >= MAX_FAILURES {
        tracing::warn!(instance_id = %instance.instance_id, "local sign-in locked after repeated failures");
        return Err(Outcome::Retry(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts. Please wait a few minutes and try again.",
        ));
    }
    let user_ok = match &instance.app_user_sealed {
        Some(sealed) => {
            bool::from(state.vault.open(sealed)?.as_bytes().ct_eq(form.user_name.as_bytes()))
        }
        None => false,
    };
    // The hash is checked even for a wrong user name: the answer takes as
    // long either way.
    let password_ok =
        verify_password(&form.password, instance.app_password_hash.as_deref().unwrap_or_default());
    if !(user_ok && password_ok) {
        let tx = state.db.begin_write().await?;
        store::sessions::record_failure(&tx.txn, &attempt_key, WINDOW_MS, now).await?;
        tx.commit().await?;
        tracing::info!(instance_id = %instance.instance_id, "local sign-in refused: wrong user name or password");
        return Err(Outcome::Retry(
            StatusCode::UNAUTHORIZED,
            "The user name or password is not right.",
        ));
    }
    let tx = state.db.begin_write().await?;
    store::sessions::clear_failures(&tx.txn, &attempt_key).await?;
    tx.commit().await?;
    let cookie = open_session(
        state,
        session::Model {
            id_hash: String::new(),
            tenant_id: String::new(),
            app_id: String::new(),
            instance_id: Some(instance.instance_id.clone()),
            user_name: form.user_name.clone(),
            name: form.user_name.clone(),
            role: "admin".to_string(),
            org_code: None,
            email_sealed: None,
            access_token_sealed: state.vault.seal("")?,
            refresh_token_sealed: None,
            // No auth centre behind a local account: nothing to refresh.
            access_expires_at: i64::MAX,
            created_at: now,
            last_seen_at: now,
            expires_at: 0,
        },
    )
    .await?;
    tracing::info!(instance_id = %instance.instance_id, "signed in with the local account");
    let next = local_path(form.next.as_deref())
        .unwrap_or_else(|| state.settings.sso.after_login_path.clone());
    let mut response =
        HttpResponse::SeeOther().insert_header((header::LOCATION, next)).cookie(cookie).finish();
    let _ = response
        .add_removal_cookie(&Cookie::build(csrf_cookie_name(secure), "").path("/").finish());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
