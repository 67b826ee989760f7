//! Passwords of local accounts (a subscription's, the operator's): argon2id
//! hashes for passwords people choose, keyed digests for the ones koogate
//! generates, and how many wrong guesses an account allows.
//!
//! # Security
//! A generated password has 20 characters from 66 symbols (about 120 bits):
//! no guessing attack gets near it, so a memory-hard hash buys nothing and
//! costs a purchase tens of milliseconds inside its transaction. It is
//! stored as HMAC-SHA-256 under a key derived from the master key, which a
//! stolen database alone cannot test guesses against either. Hashes stored
//! before (argon2id PHC strings) still verify.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::vault::Vault;

/// Marks a stored keyed digest (and its version) apart from a PHC string.
const GENERATED_PREFIX: &str = "$koogate-hmac-sha256$v1$";
/// The label the digest key is derived under; a new version gets a new one.
const GENERATED_PURPOSE: &str = "koogate local-account password v1";

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

/// [`verify_password`] on the blocking pool, at most as many at once as
/// there are cores: argon2 is slow on purpose, and a burst of sign-ins
/// must neither stall the request workers nor queue unbounded work.
pub async fn verify_password_off_worker(password: &str, hash: &str) -> Result<bool, Error> {
    let (password, hash) = (password.to_string(), hash.to_string());
    off_worker(move || verify_password(&password, &hash)).await
}

/// [`hash_password`] on the blocking pool, under the same limit.
pub async fn hash_password_off_worker(password: &str) -> Result<String, Error> {
    let password = password.to_string();
    off_worker(move || hash_password(&password)).await?
}

/// Runs argon2 work on the blocking pool, at most as many at once as there
/// are cores.
async fn off_worker<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let checks = CHECKS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    });
    let _permit = checks
        .acquire()
        .await
        .map_err(|_| Error::Internal("the password check queue closed".to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Error::Internal("password check did not finish".to_string()))
}

/// Whether `password` matches an argon2 hash (PHC string); false for a
/// hash that does not parse.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// The stored form of a password koogate generated: a keyed digest, fast
/// enough for a request worker and a transaction.
pub fn hash_generated_password(vault: &Vault, password: &str) -> String {
    let digest = vault.keyed_digest(GENERATED_PURPOSE, password.as_bytes());
    format!("{GENERATED_PREFIX}{}", B64.encode(digest))
}

/// Whether `password` matches a stored keyed digest, compared in constant
/// time; `None` when `stored` is not one (an argon2id hash from before,
/// to be checked with [`verify_password`] off the request worker).
pub fn verify_generated_password(vault: &Vault, password: &str, stored: &str) -> Option<bool> {
    let encoded = stored.strip_prefix(GENERATED_PREFIX)?;
    let Ok(expected) = B64.decode(encoded) else {
        return Some(false);
    };
    let digest = vault.keyed_digest(GENERATED_PURPOSE, password.as_bytes());
    Some(bool::from(digest.as_slice().ct_eq(expected.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(byte: u8) -> Vault {
        Vault::from_base64(&B64.encode([byte; 32])).expect("vault")
    }

    #[test]
    fn generated_passwords_are_stored_as_the_keyed_digest() {
        // Expected value computed outside koogate (Python hmac/hashlib):
        // HMAC(HMAC(master=[7;32], purpose), password), base64.
        let stored = hash_generated_password(&vault(7), "Tr0ub4dor&3-horse-xyz");
        assert_eq!(stored, "$koogate-hmac-sha256$v1$Y4Pqt+e4weJvks8YilhUojGYMSoXYU5XHTa1rfZA84M=");
        assert!(!stored.contains("Tr0ub4dor"));
    }

    #[test]
    fn generated_passwords_verify_only_with_their_password_and_master_key() {
        let stored = hash_generated_password(&vault(7), "Tr0ub4dor&3-horse-xyz");
        assert_eq!(
            verify_generated_password(&vault(7), "Tr0ub4dor&3-horse-xyz", &stored),
            Some(true)
        );
        assert_eq!(
            verify_generated_password(&vault(7), "Tr0ub4dor&3-horse-xyy", &stored),
            Some(false)
        );
        assert_eq!(
            verify_generated_password(&vault(8), "Tr0ub4dor&3-horse-xyz", &stored),
            Some(false)
        );
        let mangled = "$koogate-hmac-sha256$v1$!!not base64";
        assert_eq!(
            verify_generated_password(&vault(7), "Tr0ub4dor&3-horse-xyz", mangled),
            Some(false)
        );
    }

    #[test]
    fn argon2_hashes_of_local_accounts_from_before_still_verify() {
        // A subscription provisioned by an older koogate: argon2id in the row.
        let old = hash_password("Tr0ub4dor&3-horse-xyz").expect("hash");
        assert_eq!(verify_generated_password(&vault(7), "Tr0ub4dor&3-horse-xyz", &old), None);
        assert!(verify_password("Tr0ub4dor&3-horse-xyz", &old));
        assert!(!verify_password("Tr0ub4dor&3-horse-xyy", &old));
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
