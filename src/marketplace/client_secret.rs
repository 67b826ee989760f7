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

/// Decrypts a `clientSecret`: tries OAEP with SHA-1/MGF1-SHA-1, SHA-256/MGF1-SHA-1
/// (Java's `OAEPWithSHA-256AndMGF1Padding`) and SHA-256/MGF1-SHA-256; the first
/// that decrypts wins, and its output must be UTF-8.
///
/// # Security
/// Call it only on requests whose signature has verified: RSA decryption of
/// attacker-chosen ciphertexts is a padding-oracle and timing target (blinded
/// here, but the crate's decryption is not fully constant time).
pub fn decrypt_client_secret(private_key: &RsaPrivateKey, b64: &str) -> Result<String, WireError> {
    let cipher = BASE64.decode(b64.trim()).map_err(|_| WireError::Base64)?;
    let paddings =
        [Oaep::new::<Sha1>(), Oaep::new_with_mgf_hash::<Sha256, Sha1>(), Oaep::new::<Sha256>()];
    for padding in paddings {
        if let Ok(plain) = private_key.decrypt_blinded(&mut OsRng, padding, &cipher) {
            return String::from_utf8(plain).map_err(|_| WireError::Utf8);
        }
    }
    Err(WireError::Crypto("RSA-OAEP decryption failed"))
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
            let plain = decrypt_client_secret(&key, secret).unwrap();
            assert_eq!(plain, case["plain"].as_str().unwrap(), "{}", case["variant"]);
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
}
