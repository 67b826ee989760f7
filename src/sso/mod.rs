//! Marketplace sign-in: each tenant's users sign in through their own
//! tenant's auth centre (OAuth2 code flow with PKCE, or OpenID Connect when
//! its domain serves discovery), with the client id and secret the syncs
//! delivered; koogate keeps the session.

pub mod auth_centre;
pub mod handlers;
pub mod local;
pub mod oidc;
pub mod pages;

use sha2::{Digest, Sha256};

/// The session cookie's name: `__Host-` bound to this origin when secure.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_session"
    } else {
        "koogate_session"
    }
}

/// The short-lived cookie that binds a login state to the browser.
pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_login"
    } else {
        "koogate_login"
    }
}

/// The organisation this browser last signed in to (not a credential).
pub fn tenant_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_tenant"
    } else {
        "koogate_tenant"
    }
}

/// What is stored for a random token (session id, state, login cookie):
/// its SHA-256, so the database never holds a usable value.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh 256-bit random token, URL-safe.
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
