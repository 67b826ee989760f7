//! Passwords of local accounts (a subscription's, the operator's): argon2id
//! hashes, and how many wrong guesses an account allows.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::Error;

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
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let checks = CHECKS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    });
    let _permit = checks
        .acquire()
        .await
        .map_err(|_| Error::Internal("the password check queue closed".to_string()))?;
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
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
