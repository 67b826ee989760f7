//! Sign-ins started in this browser and waiting for their callback: kept
//! in the browser's login cookie, sealed with the master key (AES-GCM), so
//! that an anonymous `/sso/login` writes nothing anywhere.
//!
//! # Security
//! The state sent to the auth centre is random; the cookie holds only its
//! hash, with the tenant, the PKCE verifier, the `next` path, the OpenID
//! nonce's hash and the expiry, and nobody without the master key can read
//! or change it. A callback is taken only with the cookie of the browser
//! that started it (login CSRF, a stolen callback URL). It is single use:
//! the state is claimed once the auth centre accepted the answer, before
//! any session opens (see [`super::once`]), and removed from the cookie.
//! A few sign-ins may wait side by side (two tabs); the oldest is dropped
//! past [`MAX_PENDING`] or when the cookie would pass [`MAX_COOKIE`].

use serde::{Deserialize, Serialize};

use super::token_hash;
use crate::error::Error;
use crate::vault::Vault;

/// Sign-ins one browser may have waiting at once.
pub const MAX_PENDING: usize = 5;

/// The sealed cookie's largest value, bytes: browsers keep a cookie of
/// up to 4096 bytes with its name and attributes.
pub const MAX_COOKIE: usize = 3600;

/// What the plain text starts with, so that no other value sealed with the
/// master key is taken for a login cookie.
const PURPOSE: &str = "koogate-login-1:";

/// One sign-in waiting for its callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// SHA-256 of the state sent to the auth centre.
    #[serde(rename = "s")]
    pub state_hash: String,
    #[serde(rename = "t")]
    pub tenant_id: String,
    #[serde(rename = "a")]
    pub app_id: String,
    /// The PKCE verifier (the whole cookie is sealed).
    #[serde(rename = "v")]
    pub verifier: String,
    #[serde(rename = "n")]
    pub next_path: String,
    /// SHA-256 of the OpenID Connect `nonce` sent with the request; `None`
    /// for a KooGallery-dialect sign-in.
    #[serde(rename = "o", default)]
    pub nonce_hash: Option<String>,
    /// Epoch milliseconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// The sign-ins a login cookie holds, oldest first.
#[derive(Debug, Default)]
pub struct Pendings(Vec<Pending>);

impl Pendings {
    /// The sign-ins of this browser's login cookie not expired at `now_ms`;
    /// none when there is no cookie or it is not one we sealed.
    pub fn open(vault: &Vault, cookie: Option<&str>, now_ms: i64) -> Pendings {
        let Some(plain) = cookie.and_then(|c| vault.open(c).ok()) else {
            return Pendings::default();
        };
        let Some(json) = plain.strip_prefix(PURPOSE) else { return Pendings::default() };
        let mut list: Vec<Pending> = serde_json::from_str(json).unwrap_or_default();
        list.retain(|p| p.expires_at >= now_ms);
        Pendings(list)
    }

    /// Adds a sign-in; the oldest go past [`MAX_PENDING`].
    pub fn add(&mut self, pending: Pending) {
        self.0.push(pending);
        let over = self.0.len().saturating_sub(MAX_PENDING);
        self.0.drain(..over);
    }

    /// Takes out the sign-in `state_token` belongs to.
    pub fn take(&mut self, state_token: &str) -> Option<Pending> {
        let hash = token_hash(state_token);
        let at = self.0.iter().position(|p| p.state_hash == hash)?;
        Some(self.0.remove(at))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The cookie's value: sealed, at most [`MAX_COOKIE`] bytes (the
    /// oldest sign-ins dropped until it fits).
    pub fn seal(mut self, vault: &Vault) -> Result<String, Error> {
        loop {
            let json = serde_json::to_string(&self.0)
                .map_err(|e| Error::Internal(format!("cannot write the login cookie: {e}")))?;
            let sealed = vault.seal(&format!("{PURPOSE}{json}"))?;
            if sealed.len() <= MAX_COOKIE || self.0.is_empty() {
                return Ok(sealed);
            }
            self.0.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_base64(&crate::vault::random_key()).expect("vault")
    }

    fn pending(n: usize, next: &str, expires_at: i64) -> (String, Pending) {
        let state = format!("state-{n}");
        let p = Pending {
            state_hash: token_hash(&state),
            tenant_id: "t".repeat(64),
            app_id: "a".repeat(64),
            verifier: super::super::random_token(),
            next_path: next.to_string(),
            nonce_hash: Some(token_hash("nonce")),
            expires_at,
        };
        (state, p)
    }

    #[test]
    fn a_sign_in_comes_back_once_and_only_with_its_state() {
        let vault = vault();
        let mut list = Pendings::default();
        let (first, p1) = pending(1, "/a", i64::MAX);
        let (second, p2) = pending(2, "/b", i64::MAX);
        list.add(p1.clone());
        list.add(p2.clone());
        let cookie = list.seal(&vault).expect("seal");
        let mut opened = Pendings::open(&vault, Some(&cookie), 0);
        assert_eq!(opened.take("state-3"), None);
        assert_eq!(opened.take(&second), Some(p2));
        assert_eq!(opened.take(&second), None);
        assert_eq!(opened.take(&first), Some(p1));
    }

    #[test]
    fn an_expired_tampered_or_foreign_cookie_holds_nothing() {
        let vault = vault();
        let mut list = Pendings::default();
        let (state, p) = pending(1, "/", 1_000);
        list.add(p);
        let cookie = list.seal(&vault).expect("seal");
        assert_eq!(Pendings::open(&vault, Some(&cookie), 1_001).take(&state), None);
        assert!(Pendings::open(&vault, Some(&cookie), 1_000).take(&state).is_some());
        let mut tampered = cookie.clone().into_bytes();
        tampered[20] ^= 1;
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert!(Pendings::open(&vault, Some(&tampered), 0).is_empty());
        // Sealed with another master key, or another of our sealed values.
        assert!(Pendings::open(&self::vault(), Some(&cookie), 0).is_empty());
        let other = vault.seal("[]").expect("seal");
        assert!(Pendings::open(&vault, Some(&other), 0).is_empty());
    }

    #[test]
    fn the_cookie_keeps_the_newest_sign_ins_and_stays_under_4_kb() {
        let vault = vault();
        let mut list = Pendings::default();
        let long_next = format!("/{}", "n".repeat(2047));
        for n in 0..MAX_PENDING + 3 {
            list.add(pending(n, &long_next, i64::MAX).1);
        }
        assert_eq!(list.len(), MAX_PENDING);
        let cookie = list.seal(&vault).expect("seal");
        assert!(cookie.len() <= MAX_COOKIE, "{}", cookie.len());
        let mut opened = Pendings::open(&vault, Some(&cookie), 0);
        let newest = format!("state-{}", MAX_PENDING + 2);
        assert!(opened.take(&newest).is_some(), "the newest sign-in is kept");

        let mut short = Pendings::default();
        for n in 0..MAX_PENDING {
            short.add(pending(n, "/some/page?x=1", i64::MAX).1);
        }
        let cookie = short.seal(&vault).expect("seal");
        assert!(cookie.len() <= MAX_COOKIE, "{}", cookie.len());
        assert_eq!(Pendings::open(&vault, Some(&cookie), 0).len(), MAX_PENDING);
    }
}
