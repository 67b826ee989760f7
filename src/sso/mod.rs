//! Marketplace sign-in: each tenant's users sign in through their own
//! tenant's auth centre (OAuth2 code flow with PKCE, or OpenID Connect when
//! its domain serves discovery), with the client id and secret the syncs
//! delivered; koogate keeps the session.

//!
//! Handlers (`handlers`, `local`) only read the request, call the domain
//! (`flow`, `session`, `local_account`, `admission`) and render; the
//! refusals and their pages are `refusal`'s.

pub mod admission;
pub mod auth_centre;
pub mod confirm;
pub mod cookies;
pub mod dialects;
pub mod flow;
pub mod handlers;
pub mod local;
pub mod local_account;
pub mod next;
pub mod oidc;
pub mod once;
pub mod open_sessions;
pub mod pages;
pub mod password;
pub mod pending;
pub mod refusal;
pub mod session;
pub mod sign_ins;

use sha2::{Digest, Sha256};

use crate::kv::Kv;
use crate::settings::SsoSettings;
use crate::state::AppState;
use crate::store::Db;
use crate::vault::Vault;

/// What sign-in and sessions reach: the parts of the application state
/// they use, and nothing else (no marketplace keys, outbox or pages).
pub struct Deps<'a> {
    pub db: &'a Db,
    pub kv: &'a Kv,
    pub vault: &'a Vault,
    /// The outbound client for auth centres: every dialect's requests go
    /// through it, so its caps and address check apply to all.
    pub http: &'a crate::outbound::AuthCentreHttp,
    pub oidc: &'a oidc::Discoveries,
    pub revocations: &'a crate::access::revoke::Revocations,
    pub settings: &'a SsoSettings,
    /// `server.public_url`: the callback and logout addresses start here.
    pub public_url: &'a str,
}

impl<'a> Deps<'a> {
    pub fn of(state: &'a AppState) -> Deps<'a> {
        Deps {
            db: &state.db,
            kv: &state.kv,
            vault: &state.vault,
            http: &state.auth_centres,
            oidc: &state.oidc,
            revocations: &state.revocations,
            settings: &state.settings.sso,
            public_url: &state.settings.server.public_url,
        }
    }

    /// Where every auth centre sends the browser back.
    pub fn redirect_uri(&self) -> String {
        format!("{}/sso/callback", self.public_url.trim_end_matches('/'))
    }
}

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

/// The session a sign-in without state opened, waiting for its click
/// (see [`confirm`]).
pub fn confirm_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-koogate_confirm"
    } else {
        "koogate_confirm"
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
    let mut text = [0u8; 64];
    // The buffer is exactly twice the digest's length: this cannot fail.
    let _ = hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut text);
    // Hex digits are ASCII. (`hex::encode` collects them char by char,
    // which cost as much as half the hash on every request the gate saw.)
    String::from_utf8_lossy(&text).into_owned()
}

/// A fresh 256-bit random token, URL-safe.
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_is_stored_as_its_sha256_in_lower_case_hex() {
        assert_eq!(
            super::token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
