//! `/sso/local`: the local sign-in form and its submission (see
//! [`super::local_account`]).
//!
//! # Security
//! The form carries a CSRF token that must equal the one in a
//! SameSite=Strict cookie.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::cookies::{self, cookie_secure};
use super::local_account::{self, Declined};
use super::next::local_path;
use super::sign_ins::{Dialect, Outcome, Seen};
use super::{random_token, Deps};
use crate::error::{self, Challenge};
use crate::state::AppState;

// Where callers outside sign-in (the CLI, provisioning, tests) found them
// before `password` had its own module.
pub use super::password::{hash_password, verify_password};

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
pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FormQuery>,
) -> HttpResponse {
    let instance = query.instance.clone().unwrap_or_default();
    let next = local_path(query.next.as_deref())
        .unwrap_or_else(|| state.settings.sso.after_login_path.clone());
    render_form(&state, &req, StatusCode::OK, &instance, &next, None)
}

/// `error` is a catalogue key (`local.*`).
fn render_form(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    instance: &str,
    next: &str,
    error: Option<&str>,
) -> HttpResponse {
    let csrf_token = random_token();
    let secure = cookie_secure(state);
    let body = state
        .pages
        .render(req, "local_login.html", context! { instance, next, csrf_token, error })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the local sign-in page does not render");
            "Sign in is unavailable".to_string()
        });
    let cookie = Cookie::build(csrf_cookie_name(secure), csrf_token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::minutes(30))
        .finish();
    error::answer(status, Challenge::SignIn("/sso/local"))
        .content_type("text/html; charset=utf-8")
        .cookie(cookie)
        .body(body)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    instance: String,
    user_name: String,
    password: String,
    csrf_token: String,
    next: Option<String>,
}

/// `POST /sso/local`: checks the form, then the account and the session.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let secure = cookie_secure(&state);
    let next = local_path(form.next.as_deref())
        .unwrap_or_else(|| state.settings.sso.after_login_path.clone());
    let again = |status, why| render_form(&state, &req, status, &form.instance, &next, Some(why));
    let csrf_ok = req.cookie(csrf_cookie_name(secure)).is_some_and(|c| {
        !form.csrf_token.is_empty()
            && bool::from(c.value().as_bytes().ct_eq(form.csrf_token.as_bytes()))
    });
    if !csrf_ok {
        return again(StatusCode::FORBIDDEN, "local.form_expired");
    }
    let deps = Deps::of(&state);
    let seen = Seen {
        instance_id: Some(form.instance.clone()),
        user_name: Some(form.user_name.clone()),
        dialect: Some(Dialect::Local),
        ..Seen::default()
    };
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted = &state.settings.server.trusted_proxies;
    let client = crate::gate::forwarded::client_address(req.headers(), peer, trusted)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let (instance, user_name, password) = (&form.instance, &form.user_name, &form.password);
    match local_account::sign_in(&deps, instance, user_name, password, &client).await {
        Ok(session_id) => {
            state.sign_ins.signed_in(seen).await;
            let mut response = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .cookie(cookies::session(secure, session_id))
                .finish();
            let _ = response.add_removal_cookie(&cookies::removal(csrf_cookie_name(secure)));
            response
        }
        Err(Declined::Locked) => {
            state.sign_ins.declined(seen, Outcome::Locked).await;
            again(StatusCode::TOO_MANY_REQUESTS, "local.locked")
        }
        Err(Declined::WrongCredentials) => {
            state.sign_ins.declined(seen, Outcome::WrongCredentials).await;
            again(StatusCode::UNAUTHORIZED, "local.wrong_credentials")
        }
        Err(Declined::Refused(refusal)) => {
            let reference = state.sign_ins.refused(seen, &refusal).await;
            refusal.page_with_reference(&state.pages, &req, &reference)
        }
    }
}
