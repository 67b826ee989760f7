//! The `clientSecret` of applicationSync: BASE64 of RSA-OAEP under the ISV's
//! public key, with an undocumented OAEP digest (protocol §4).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rand::rngs::OsRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, RsaPrivateKey};
use sha1::Sha1;
use sha2::Sha256;

use super::WireError;

/// Reads the ISV private key from PEM, PKCS#8 (`BEGIN PRIVATE KEY`) or
/// PKCS#1 (`BEGIN RSA PRIVATE KEY`).
pub fn load_private_key_pem(pem: &str) -> Result<RsaPrivateKey, WireError> {
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| WireError::Crypto("not a PKCS#8 or PKCS#1 RSA private key in PEM"))
}

/// The OAEP digests the marketplace may have used, in the order tried:
/// SHA-256/MGF1-SHA-1 first, as Huawei's own V2 sample decrypts (and Java's
/// `OAEPWithSHA-256AndMGF1Padding` does), then SHA-1/MGF1-SHA-1 and
/// SHA-256/MGF1-SHA-256 (protocol §4). Each failed try costs a private-key
/// operation, so the likely one goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepDigest {
    Sha256Mgf1Sha1,
    Sha1,
    Sha256,
}

pub const OAEP_ORDER: [OaepDigest; 3] =
    [OaepDigest::Sha256Mgf1Sha1, OaepDigest::Sha1, OaepDigest::Sha256];

impl OaepDigest {
    fn padding(self) -> Oaep {
        match self {
            OaepDigest::Sha256Mgf1Sha1 => Oaep::new_with_mgf_hash::<Sha256, Sha1>(),
            OaepDigest::Sha1 => Oaep::new::<Sha1>(),
            OaepDigest::Sha256 => Oaep::new::<Sha256>(),
        }
    }
}

/// Decrypts a `clientSecret` with the first of [`OAEP_ORDER`] that
/// decrypts; its output must be UTF-8. CPU-heavy: a request handler calls
/// [`decrypt_client_secret_off_worker`] instead.
///
/// # Security
/// Call it only on requests whose signature has verified: RSA decryption of
/// attacker-chosen ciphertexts is a padding-oracle and timing target (blinded
/// here, but the crate's decryption is not fully constant time).
pub fn decrypt_client_secret(private_key: &RsaPrivateKey, b64: &str) -> Result<String, WireError> {
    decrypt_with_digest(private_key, b64).map(|(plain, _)| plain)
}

fn decrypt_with_digest(
    private_key: &RsaPrivateKey,
    b64: &str,
) -> Result<(String, OaepDigest), WireError> {
    let cipher = BASE64.decode(b64.trim()).map_err(|_| WireError::Base64)?;
    for digest in OAEP_ORDER {
        if let Ok(plain) = private_key.decrypt_blinded(&mut OsRng, digest.padding(), &cipher) {
            return String::from_utf8(plain).map(|p| (p, digest)).map_err(|_| WireError::Utf8);
        }
    }
    Err(WireError::Crypto("RSA-OAEP decryption failed"))
}

/// [`decrypt_client_secret`] on tokio's blocking pool, so up to three
/// private-key operations do not stall the request worker (and the other
/// requests it serves). Call it outside any transaction. `Err` of the outer
/// result: the blocking task itself failed (a fault, not a bad secret).
pub async fn decrypt_client_secret_off_worker(
    private_key: &RsaPrivateKey,
    b64: &str,
) -> Result<Result<String, WireError>, tokio::task::JoinError> {
    let (key, b64) = (private_key.clone(), b64.to_string());
    tokio::task::spawn_blocking(move || decrypt_client_secret(&key, &b64)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPrivateKey;

    #[test]
    fn vectors_decrypt() {
        let key = load_private_key_pem(&crate::marketplace::test_private_key_pem()).unwrap();
        let v = crate::marketplace::vectors();
        let cases = v["client_secret_rsa_oaep"]["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 3);
        for case in cases {
            let secret = case["clientSecret"].as_str().unwrap();
            let (plain, digest) = decrypt_with_digest(&key, secret).unwrap();
            assert_eq!(plain, case["plain"].as_str().unwrap(), "{}", case["variant"]);
            let expected = match case["variant"].as_str().unwrap() {
                "sha1" => OaepDigest::Sha1,
                "sha256-mgf1sha1" => OaepDigest::Sha256Mgf1Sha1,
                "sha256" => OaepDigest::Sha256,
                other => panic!("unknown variant {other}"),
            };
            assert_eq!(digest, expected, "{}", case["variant"]);
            let mut bytes = BASE64.decode(secret).unwrap();
            bytes[100] ^= 0x01;
            let corrupted = BASE64.encode(bytes);
            assert!(matches!(decrypt_client_secret(&key, &corrupted), Err(WireError::Crypto(_))));
        }
        assert!(matches!(decrypt_client_secret(&key, "%%%"), Err(WireError::Base64)));
    }

    #[test]
    fn loads_pkcs1_and_rejects_garbage() {
        let key = load_private_key_pem(&crate::marketplace::test_private_key_pem()).unwrap();
        let pkcs1 = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert_eq!(load_private_key_pem(&pkcs1).unwrap(), key);
        assert!(matches!(load_private_key_pem("not a key"), Err(WireError::Crypto(_))));
    }

    #[test]
    fn huawei_samples_digest_is_tried_first() {
        assert_eq!(OAEP_ORDER[0], OaepDigest::Sha256Mgf1Sha1);
        let mut all = OAEP_ORDER.to_vec();
        all.dedup();
        assert_eq!(all.len(), 3, "each digest once");
    }

    /// On a single-threaded runtime a decryption on the worker would stop
    /// every other task until it ends; off the worker a ticking task keeps
    /// ticking while it runs.
    #[tokio::test(flavor = "current_thread")]
    async fn decryption_leaves_the_worker_free() {
        let key = load_private_key_pem(&crate::marketplace::test_private_key_pem()).unwrap();
        let v = crate::marketplace::vectors();
        let secret = v["client_secret_rsa_oaep"]["cases"][2]["clientSecret"].as_str().unwrap();
        let mut bytes = BASE64.decode(secret).unwrap();
        bytes[100] ^= 0x01;
        // Fails all three digests: the longest a decryption takes.
        let corrupted = BASE64.encode(bytes);
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
        tokio::task::yield_now().await;
        let before = ticks.load(std::sync::atomic::Ordering::Relaxed);
        for _ in 0..3 {
            let result = decrypt_client_secret_off_worker(&key, &corrupted).await.unwrap();
            assert!(matches!(result, Err(WireError::Crypto(_))));
        }
        let during = ticks.load(std::sync::atomic::Ordering::Relaxed) - before;
        ticker.abort();
        assert!(during > 3, "the worker ran other tasks only {during} times");
    }
}
