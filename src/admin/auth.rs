//! Operators at the admin site: `admin.username` and an argon2id password
//! (`admin.password_hash`, or one generated at first start), named operator
//! accounts, their sessions and roles. The sign-in pages are [`super::login`].
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

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::roles::{self, Role};
use crate::error::Error;
use crate::settings::Settings;
use crate::sso::cookies::cookie_secure;
use crate::sso::password::hash_password;
use crate::sso::token_hash;
use crate::state::AppState;
use crate::store::{self, Db};

/// The name the generated password's hash is stored under.
const GENERATED: &str = "one_time";
/// The failed-attempt counter of the admin account.
pub(super) const ATTEMPT_KEY: &str = "admin:sign-in";
/// A session's last-seen time is written at most this often.
const TOUCH_EVERY_MS: i64 = 10_000;

pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_admin"
    } else {
        "koogate_admin"
    }
}

pub(super) fn csrf_cookie_name(secure: bool) -> &'static str {
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
pub(super) async fn password_hash(state: &AppState) -> Result<String, Error> {
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
pub(super) async fn operator(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<Operator>, Error> {
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

#[cfg(test)]
mod tests;
