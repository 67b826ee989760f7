//! Encrypted credentials in `appInfo` answers and V1 request fields (protocol §4):
//! `iv + BASE64(AES-CBC-PKCS7(key, iv, utf8))` with a Java-SHA1PRNG-derived key.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;
use sha1::{Digest, Sha1};

use super::WireError;

/// The marketplace's `encryptType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncryptType {
    /// `"1"`: AES-256-CBC, the default.
    #[default]
    Aes256,
    /// `"2"`: AES-128-CBC.
    Aes128,
}

impl EncryptType {
    /// The wire value, `"1"` or `"2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptType::Aes256 => "1",
            EncryptType::Aes128 => "2",
        }
    }

    /// Reads the wire value; anything but `"1"` or `"2"` is an error.
    pub fn parse(value: &str) -> Result<Self, WireError> {
        match value {
            "1" => Ok(EncryptType::Aes256),
            "2" => Ok(EncryptType::Aes128),
            _ => Err(WireError::Format("encryptType must be \"1\" or \"2\"")),
        }
    }
}

/// The AES key Java's `KeyGenerator("AES")` yields when seeded through
/// `SecureRandom("SHA1PRNG")` with the access key (lifecycle-interface §2.4):
/// 32 bytes for AES-256, 16 for AES-128.
pub fn derive_key(access_key: &str, encrypt_type: EncryptType) -> Vec<u8> {
    match encrypt_type {
        EncryptType::Aes256 => sha1prng::<32>(access_key.as_bytes()).to_vec(),
        EncryptType::Aes128 => sha1prng::<16>(access_key.as_bytes()).to_vec(),
    }
}

/// The first `N` bytes of Sun's SHA1PRNG after `setSeed(seed)`.
fn sha1prng<const N: usize>(seed: &[u8]) -> [u8; N] {
    let mut state: [u8; 20] = Sha1::digest(seed).into();
    let mut out = [0u8; N];
    let mut filled = 0;
    while filled < N {
        let block: [u8; 20] = Sha1::digest(state).into();
        let take = block.len().min(N - filled);
        out[filled..filled + take].copy_from_slice(&block[..take]);
        filled += take;
        // Java's updateState: state += block + 1, as signed bytes with carry,
        // and a forced change when the sum leaves the state as it was.
        let mut carry: i32 = 1;
        let mut changed = false;
        for (s, b) in state.iter_mut().zip(block) {
            let v = i32::from(*s as i8) + i32::from(b as i8) + carry;
            let t = v as u8;
            changed |= *s != t;
            *s = t;
            carry = v >> 8;
        }
        if !changed {
            state[0] = state[0].wrapping_add(1);
        }
    }
    out
}

type Enc256 = cbc::Encryptor<aes::Aes256>;
type Enc128 = cbc::Encryptor<aes::Aes128>;
type Dec256 = cbc::Decryptor<aes::Aes256>;
type Dec128 = cbc::Decryptor<aes::Aes128>;

fn cbc_encrypt(ak: &str, encrypt_type: EncryptType, iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    let seed = ak.as_bytes();
    match encrypt_type {
        EncryptType::Aes256 => {
            Enc256::new(&sha1prng(seed).into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
        }
        EncryptType::Aes128 => {
            Enc128::new(&sha1prng(seed).into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
        }
    }
}

/// Encrypts `plain` with a fresh random IV of 16 ASCII alphanumerics (from the OS).
pub fn encrypt(access_key: &str, encrypt_type: EncryptType, plain: &str) -> String {
    let iv: [u8; 16] = std::array::from_fn(|_| OsRng.sample(Alphanumeric));
    let iv_text: String = iv.iter().map(|&b| char::from(b)).collect();
    let cipher = cbc_encrypt(access_key, encrypt_type, &iv, plain.as_bytes());
    format!("{iv_text}{}", BASE64.encode(cipher))
}

/// Encrypts `plain` with the given IV, which must be 16 bytes (for tests and
/// reproducible vectors; production code uses [`encrypt`]).
pub fn encrypt_with_iv(
    access_key: &str,
    encrypt_type: EncryptType,
    iv: &str,
    plain: &str,
) -> Result<String, WireError> {
    let iv_bytes: &[u8; 16] =
        iv.as_bytes().try_into().map_err(|_| WireError::Format("IV must be 16 bytes"))?;
    let cipher = cbc_encrypt(access_key, encrypt_type, iv_bytes, plain.as_bytes());
    Ok(format!("{iv}{}", BASE64.encode(cipher)))
}

/// Decrypts `iv + BASE64(ciphertext)`: the first 16 bytes are the IV.
pub fn decrypt(
    access_key: &str,
    encrypt_type: EncryptType,
    value: &str,
) -> Result<String, WireError> {
    let (iv, encoded) = value
        .as_bytes()
        .split_first_chunk::<16>()
        .ok_or(WireError::Format("encrypted value shorter than its IV"))?;
    let cipher = BASE64.decode(encoded).map_err(|_| WireError::Base64)?;
    let seed = access_key.as_bytes();
    let plain =
        match encrypt_type {
            EncryptType::Aes256 => Dec256::new(&sha1prng(seed).into(), iv.into())
                .decrypt_padded_vec_mut::<Pkcs7>(&cipher),
            EncryptType::Aes128 => Dec128::new(&sha1prng(seed).into(), iv.into())
                .decrypt_padded_vec_mut::<Pkcs7>(&cipher),
        }
        .map_err(|_| WireError::Crypto("AES-CBC decryption failed (wrong key or bad padding)"))?;
    String::from_utf8(plain).map_err(|_| WireError::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_reproduce() {
        let v = crate::marketplace::vectors();
        let (ak, section) = (v["access_key"].as_str().unwrap(), &v["appinfo_aes"]);
        for (t, hex_key) in
            [(EncryptType::Aes256, "key_256_hex"), (EncryptType::Aes128, "key_128_hex")]
        {
            assert_eq!(hex::encode(derive_key(ak, t)), section[hex_key].as_str().unwrap());
        }
        for case in section["cases"].as_array().unwrap() {
            let field = |name: &str| case[name].as_str().unwrap();
            let t = EncryptType::parse(field("encryptType")).unwrap();
            let (iv, plain, value) = (field("iv"), field("plain"), field("value"));
            assert_eq!(encrypt_with_iv(ak, t, iv, plain).unwrap(), value);
            assert_eq!(decrypt(ak, t, value).unwrap(), plain);
        }
    }

    #[test]
    fn random_iv_round_trip() {
        for t in [EncryptType::Aes256, EncryptType::Aes128] {
            let value = encrypt("key", t, "pässword");
            assert!(value[..16].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(decrypt("key", t, &value).unwrap(), "pässword");
            assert_eq!(EncryptType::parse(t.as_str()).unwrap(), t);
            assert_ne!(encrypt("key", t, "x"), encrypt("key", t, "x"));
        }
    }

    #[test]
    fn rejects_bad_input() {
        let t = EncryptType::Aes256;
        let iv = "AbCdEf0123456789";
        let partial_block = format!("{iv}{}", BASE64.encode([0u8; 15]));
        let padded_not_utf8 = cbc_encrypt("k", t, b"AbCdEf0123456789", &[0xff, 0xfe]);
        let not_utf8 = format!("{iv}{}", BASE64.encode(padded_not_utf8));
        for (value, expected) in [
            ("short", "Format"),
            ("AbCdEf0123456789!!!", "Base64"),
            (iv, "Crypto"),
            (&partial_block, "Crypto"),
            (&not_utf8, "Utf8"),
        ] {
            let err = decrypt("k", t, value).unwrap_err();
            assert!(format!("{err:?}").starts_with(expected), "{value}: {err:?}");
        }
        assert!(matches!(encrypt_with_iv("k", t, "short", "x"), Err(WireError::Format(_))));
        assert!(matches!(EncryptType::parse("3"), Err(WireError::Format(_))));
    }
}
