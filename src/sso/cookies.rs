//! The cookies sign-in sets.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};

use super::{login_cookie_name, session_cookie_name, tenant_cookie_name};
use crate::settings::SsoSettings;
use crate::state::AppState;

/// Whether cookies are `Secure` (and `__Host-`): `sso.cookie_secure`,
/// on unless switched off.
pub fn secure_cookies(settings: &SsoSettings) -> bool {
    settings.cookie_secure.unwrap_or(true)
}

/// [`secure_cookies`] for a handler.
pub fn cookie_secure(state: &AppState) -> bool {
    secure_cookies(&state.settings.sso)
}

// The admin sign-in finds the redirect rule here.
pub use super::next::local_path;

fn http_only(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// The session id, for as long as the browser runs.
pub fn session(secure: bool, session_id: String) -> Cookie<'static> {
    http_only(session_cookie_name(secure), session_id, secure)
}

/// The sign-ins this browser started and that wait for their callback,
/// sealed (see [`super::pending`]).
pub fn login(secure: bool, sealed: String, ttl_secs: i64) -> Cookie<'static> {
    let mut cookie = http_only(login_cookie_name(secure), sealed, secure);
    cookie.set_max_age(CookieDuration::seconds(ttl_secs));
    cookie
}

/// The session a sign-in without state opened, until its click: sent
/// back only from this site's own pages.
pub fn confirm(secure: bool, session_id: String, ttl_secs: i64) -> Cookie<'static> {
    let mut cookie = http_only(super::confirm_cookie_name(secure), session_id, secure);
    cookie.set_same_site(SameSite::Strict);
    cookie.set_max_age(CookieDuration::seconds(ttl_secs));
    cookie
}

/// Not a credential: only which organisation to offer next time.
pub fn tenant(secure: bool, tenant_id: String) -> Cookie<'static> {
    let mut cookie = http_only(tenant_cookie_name(secure), tenant_id, secure);
    cookie.set_max_age(CookieDuration::days(30));
    cookie
}

/// What removes the cookie of this name.
pub fn removal(name: &'static str) -> Cookie<'static> {
    Cookie::build(name, "").path("/").finish()
}
