//! Secrets at rest: AES-256-GCM under `security.master_key`.
//!
//! # Security
//! A sealed value is `base64(nonce(12) || ciphertext+tag)`. The nonce is
//! random per value; the key never leaves this type and its `Debug` is
//! redacted. Opening fails (never panics) on tampered or foreign data.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::Error;

#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    // HMAC keyed with the master key; each purpose derives its own key from
    // it by label, so one purpose's digests say nothing about another's.
    mac_root: Hmac<Sha256>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

impl Vault {
    /// From the configured key: 32 bytes, base64.
    pub fn from_base64(key: &str) -> Result<Vault, Error> {
        let bytes = B64
            .decode(key.trim())
            .map_err(|_| Error::Config("security.master_key is not base64".to_string()))?;
        if bytes.len() != 32 {
            return Err(Error::Config("security.master_key must be 32 bytes (base64)".to_string()));
        }
        let mac_root = hmac_sha256(&bytes);
        Ok(Vault { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)), mac_root })
    }

    /// Reads the key file beside a SQLite database, creating it (mode 0600)
    /// with a fresh random key the first time. Returns whether it was created.
    pub fn from_file_or_create(path: &Path) -> Result<(Vault, bool), Error> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            return Ok((Vault::from_base64(&text)?, false));
        }
        let encoded = random_key();
        write_private_file(path, &encoded)?;
        Ok((Vault::from_base64(&encoded)?, true))
    }

    pub fn seal(&self, plain: &str) -> Result<String, Error> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| Error::Internal("sealing failed".to_string()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, Error> {
        let bytes = B64
            .decode(sealed)
            .map_err(|_| Error::Internal("sealed value is not base64".to_string()))?;
        if bytes.len() < 12 + 16 {
            return Err(Error::Internal("sealed value is too short".to_string()));
        }
        let (nonce, body) = bytes.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), body).map_err(|_| {
            Error::Internal("sealed value does not open with this master key".to_string())
        })?;
        String::from_utf8(plain)
            .map_err(|_| Error::Internal("sealed value is not UTF-8".to_string()))
    }

    /// HMAC-SHA-256 of `data` under a key derived from the master key for
    /// `purpose` (HMAC(master, purpose)): microseconds, unlike argon2.
    pub fn keyed_digest(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut derive = self.mac_root.clone();
        derive.update(purpose.as_bytes());
        let key = derive.finalize().into_bytes();
        let mut mac = hmac_sha256(&key);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// HMAC-SHA-256 keyed with a 32-byte key. HMAC pads a key shorter than the
/// hash's 64-byte block with zeros, so the padded block is the same key, and
/// no "invalid length" error path exists.
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; 64];
    block[..key.len().min(64)].copy_from_slice(&key[..key.len().min(64)]);
    <Hmac<Sha256> as hmac::digest::KeyInit>::new(&block.into())
}

/// A fresh random key, base64 (for in-memory databases and `keygen`).
pub fn random_key() -> String {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    B64.encode(key)
}

/// Writes a file only its owner can read.
pub fn write_private_file(path: &Path, content: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::Config(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(content.as_bytes())
        .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::from_base64(&B64.encode([7u8; 32])).expect("vault")
    }

    #[test]
    fn sealed_values_open_again_and_hide_the_plaintext() {
        let v = vault();
        let sealed = v.seal("s3cret-password").expect("seal");
        assert!(!sealed.contains("s3cret"));
        assert_ne!(sealed, v.seal("s3cret-password").expect("seal"), "random nonce");
        assert_eq!(v.open(&sealed).expect("open"), "s3cret-password");
    }

    #[test]
    fn tampered_or_foreign_values_do_not_open() {
        let v = vault();
        let sealed = v.seal("x").expect("seal");
        let mut bytes = B64.decode(&sealed).expect("b64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(v.open(&B64.encode(bytes)).is_err());
        let other = Vault::from_base64(&B64.encode([8u8; 32])).expect("vault");
        assert!(other.open(&sealed).is_err());
        assert!(v.open("!!").is_err());
    }

    #[test]
    fn keyed_digests_are_hmac_under_a_key_derived_per_purpose() {
        // Expected value computed outside koogate (Python hmac/hashlib):
        // HMAC-SHA-256(HMAC-SHA-256([7;32], purpose), "data").
        let digest = vault().keyed_digest("koogate test purpose", b"data");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ecaf12d69a7a6e39fba9171b74153e28dd7404b946a0bc4fe6e0d81d79d7c948");
        assert_ne!(vault().keyed_digest("another purpose", b"data"), digest);
    }

    #[test]
    fn keys_of_the_wrong_size_are_refused() {
        assert!(Vault::from_base64(&B64.encode([1u8; 16])).is_err());
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("koogate.master.key");
        let (v1, created) = Vault::from_file_or_create(&path).expect("create");
        assert!(created);
        let sealed = v1.seal("hello").expect("seal");
        let (v2, created_again) = Vault::from_file_or_create(&path).expect("reopen");
        assert!(!created_again);
        assert_eq!(v2.open(&sealed).expect("open"), "hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
