//! Request signatures (V2 lifecycle, V2 Kit, V1 authToken) and the response
//! `Body-Sign` header (protocol §3.1–§3.4).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use super::canonical::{canonical, compact, top_level_entries, trimmed, Flavour};
use super::WireError;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn kit_mac(ak: &str, nonce: &str, timestamp: &str, payload: &[u8]) -> [u8; 32] {
    let key = ak.as_bytes();
    hmac_sha256(key, &[key, nonce.as_bytes(), timestamp.as_bytes(), payload])
}

/// The classic lifecycle formula is the Kit formula over the lower-case hex
/// of the body's own HMAC (§3.1).
fn lifecycle_mac(ak: &str, nonce: &str, timestamp: &str, payload: &[u8]) -> [u8; 32] {
    let inner = hex::encode(hmac_sha256(ak.as_bytes(), &[payload]));
    kit_mac(ak, nonce, timestamp, inner.as_bytes())
}

/// Lifecycle V2 signature (§3.1):
/// `HEX(HMAC_SHA256(ak, ak + nonce + timestamp + lowerhex(HMAC_SHA256(ak, payload))))`, upper case.
pub fn lifecycle_v2_signature(ak: &str, nonce: &str, timestamp: &str, payload: &[u8]) -> String {
    hex::encode_upper(lifecycle_mac(ak, nonce, timestamp, payload))
}

/// Kit V2 `x-sign` (§3.2), also the 2025 lifecycle formula (§3.1):
/// `HEX(HMAC_SHA256(ak, ak + nonce + timestamp + payload))`, upper case.
pub fn kit_signature(ak: &str, nonce: &str, timestamp: &str, payload: &[u8]) -> String {
    hex::encode_upper(kit_mac(ak, nonce, timestamp, payload))
}

/// A presented hex signature as bytes; `None` unless exactly 64 hex digits.
/// Whether a Kit V2 `x-sign` could be a signature at all (64 hex digits):
/// what is not is refused before its body is read.
pub fn kit_v2_signature_shaped(presented: &str) -> bool {
    decode_hex_signature(presented).is_some()
}

fn decode_hex_signature(presented: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(presented, &mut bytes).ok()?;
    Some(bytes)
}

/// Index of the first key for which `matches` holds, having tried every key.
fn first_match(keys: &[String], mut matches: impl FnMut(&str) -> Choice) -> Option<usize> {
    let mut found = None;
    for (i, key) in keys.iter().enumerate() {
        let ok = bool::from(matches(key));
        if ok && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// Verifies a lifecycle V2 `signature` query parameter; returns the index of
/// the key that verified.
///
/// Until a live call pins the formula (§3.1, §8), four candidates are accepted
/// per key: the classic and the 2025 formula, each over the canonical
/// Lifecycle body and over the raw bytes (only the raw bytes when the body is
/// not a JSON object).
///
/// # Security
/// Every candidate of every key is computed and compared in constant time on
/// bytes (hex case does not matter); a value that is not 64 hex digits fails.
/// Timestamp tolerance and nonce replay are the caller's checks.
pub fn verify_lifecycle_v2(
    keys: &[String],
    nonce: &str,
    timestamp: &str,
    raw_body: &[u8],
    presented: &str,
) -> Option<usize> {
    let presented = decode_hex_signature(presented)?;
    let canonical = canonical(raw_body, Flavour::Lifecycle).ok();
    let mut payloads: Vec<&[u8]> = canonical.iter().map(|c| c.as_bytes()).collect();
    payloads.push(raw_body);
    first_match(keys, |key| {
        let mut ok = Choice::from(0);
        for payload in &payloads {
            ok |= lifecycle_mac(key, nonce, timestamp, payload).ct_eq(&presented);
            ok |= kit_mac(key, nonce, timestamp, payload).ct_eq(&presented);
        }
        ok
    })
}

/// Verifies a Kit V2 `x-sign` header over the canonical Kit body, then over
/// the raw bytes (§3); returns the index of the key that verified.
///
/// # Security
/// Every candidate of every key is computed and compared in constant time on
/// bytes (hex case does not matter); a value that is not 64 hex digits fails.
/// Timestamp tolerance and nonce replay are the caller's checks.
pub fn verify_kit_v2(
    keys: &[String],
    nonce: &str,
    timestamp: &str,
    raw_body: &[u8],
    presented: &str,
) -> Option<usize> {
    let presented = decode_hex_signature(presented)?;
    let canonical = canonical(raw_body, Flavour::Kit).ok();
    let mut payloads: Vec<&[u8]> = canonical.iter().map(|c| c.as_bytes()).collect();
    payloads.push(raw_body);
    first_match(keys, |key| {
        let mut ok = Choice::from(0);
        for payload in &payloads {
            ok |= kit_mac(key, nonce, timestamp, payload).ct_eq(&presented);
        }
        ok
    })
}

fn v1_mac(ak: &str, params: &[(String, String)]) -> [u8; 32] {
    // Java TreeMap over ASCII names = byte order; the first value of a name wins
    // (lifecycle-interface §2.1 step 4).
    let mut sorted: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, value) in params {
        if name != "authToken" {
            sorted.entry(name.as_str()).or_insert(value.as_str());
        }
    }
    let time_stamp = sorted.get("timeStamp").copied().unwrap_or("");
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let key = format!("{ak}{time_stamp}");
    hmac_sha256(key.as_bytes(), &[joined.join("&").as_bytes()])
}

/// V1 `authToken` (§3.3): `BASE64(HMAC_SHA256(ak + timeStamp, sorted name=value joined by &))`
/// over every parameter except `authToken`. Values must already be URL-decoded.
pub fn v1_auth_token(ak: &str, params: &[(String, String)]) -> String {
    BASE64.encode(v1_mac(ak, params))
}

/// Verifies a V1 `authToken` (query parameter or Kit V1 header); returns the
/// index of the key that verified.
///
/// # Security
/// Compares the decoded 32 bytes in constant time for every key. V1 carries
/// no nonce: the `timeStamp` window is the caller's check (§3.3).
pub fn verify_v1(keys: &[String], params: &[(String, String)], presented: &str) -> Option<usize> {
    let presented: [u8; 32] = BASE64.decode(presented).ok()?.try_into().ok()?;
    first_match(keys, |key| v1_mac(key, params).ct_eq(&presented))
}

/// The signed parameters of a Kit V1 body (§3.3): its top-level fields, a
/// string as its content, anything else as its compact JSON text; nulls dropped.
pub fn kit_v1_params(body: &[u8]) -> Result<Vec<(String, String)>, WireError> {
    let text =
        std::str::from_utf8(body).map_err(|_| WireError::Json("body is not UTF-8".into()))?;
    let mut params = Vec::new();
    for (name, value) in top_level_entries(text)? {
        let raw = trimmed(value);
        let value = match raw.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(raw).map_err(|e| WireError::json(&e))?,
            Some(b'{' | b'[') => compact(value)?,
            _ => raw.to_string(),
        };
        params.push((name, value));
    }
    Ok(params)
}

/// The `Body-Sign` header value for a response body (§3.4):
/// `sign_type="HMAC-SHA256", signature="<BASE64(HMAC_SHA256(ak, body))>"`.
/// Sign the exact bytes that are sent.
pub fn body_sign_header(ak: &str, body: &[u8]) -> String {
    let signature = BASE64.encode(hmac_sha256(ak.as_bytes(), &[body]));
    format!("sign_type=\"HMAC-SHA256\", signature=\"{signature}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn s(v: &Value) -> &str {
        v.as_str().unwrap()
    }

    /// `keys` with `real` placed at each position among two wrong keys.
    fn key_orders(real: &str) -> Vec<(Vec<String>, usize)> {
        (0..3)
            .map(|pos| {
                let mut keys = vec!["wrong-1".to_string(), "wrong-2".to_string()];
                keys.insert(pos, real.to_string());
                (keys, pos)
            })
            .collect()
    }

    #[test]
    fn lifecycle_v2_vectors() {
        let v = crate::marketplace::vectors();
        let ak = s(&v["access_key"]);
        for case in v["v2_lifecycle_signature"]["cases"].as_array().unwrap() {
            let (nonce, ts, body) = (s(&case["nonce"]), s(&case["timestamp"]), s(&case["body"]));
            let canonical = s(&case["canonical"]).as_bytes();
            let inner = hex::encode(hmac_sha256(ak.as_bytes(), &[canonical]));
            assert_eq!(inner, s(&case["body_hmac_hex"]));
            let (classic, v2025) = (s(&case["signature"]), s(&case["signature_2025_formula"]));
            assert_eq!(lifecycle_v2_signature(ak, nonce, ts, canonical), classic);
            assert_eq!(kit_signature(ak, nonce, ts, canonical), v2025);
            let verify = |keys: &[String], ts: &str, body: &str, sig: &str| {
                verify_lifecycle_v2(keys, nonce, ts, body.as_bytes(), sig)
            };
            let changed = body.replacen("activity", "activitz", 1);
            let wrong = ["wrong".to_string(), format!("{ak}x")];
            for sig in [classic, &classic.to_lowercase(), v2025] {
                for (keys, pos) in key_orders(ak) {
                    assert_eq!(verify(&keys, ts, body, sig), Some(pos));
                }
                assert_eq!(verify(&[ak.into()], ts, &changed, sig), None);
                assert_eq!(verify(&wrong, ts, body, sig), None);
                assert_eq!(verify(&[ak.into()], "1716363778802", body, sig), None);
            }
        }
    }

    #[test]
    fn lifecycle_v2_accepts_raw_body_signatures() {
        let keys = ["k".to_string()];
        let verify = |body: &[u8], sig: &str| verify_lifecycle_v2(&keys, "n", "1", body, sig);
        let body = b"{ \"b\":1, \"a\":2 }";
        assert_eq!(verify(body, &lifecycle_v2_signature("k", "n", "1", body)), Some(0));
        assert_eq!(verify(body, &kit_signature("k", "n", "1", body)), Some(0));
        // Not JSON: only the raw bytes can verify.
        let sig = lifecycle_v2_signature("k", "n", "1", b"not json");
        assert_eq!(verify(b"not json", &sig), Some(0));
        for bad in [&sig[..63], &format!("{sig}00"), &"G".repeat(64)] {
            assert_eq!(verify(b"not json", bad), None);
        }
        assert_eq!(verify_lifecycle_v2(&[], "n", "1", b"not json", &sig), None);
    }

    #[test]
    fn kit_v2_vectors() {
        let v = crate::marketplace::vectors();
        let ak = s(&v["kit_access_key"]);
        for case in v["v2_kit_signature"]["cases"].as_array().unwrap() {
            let (nonce, ts, body) = (s(&case["nonce"]), s(&case["timestamp"]), s(&case["body"]));
            let x_sign = s(&case["x_sign"]);
            assert_eq!(kit_signature(ak, nonce, ts, s(&case["canonical"]).as_bytes()), x_sign);
            let verify = |keys: &[String], body: &str, sig: &str| {
                verify_kit_v2(keys, nonce, ts, body.as_bytes(), sig)
            };
            let changed = body.replacen("instanceId", "instanceIe", 1);
            for sig in [x_sign, &x_sign.to_lowercase()] {
                for (keys, pos) in key_orders(ak) {
                    assert_eq!(verify(&keys, body, sig), Some(pos));
                }
                assert_eq!(verify(&[ak.into()], &changed, sig), None);
                assert_eq!(verify(&[s(&v["access_key"]).into()], body, sig), None);
            }
        }
    }

    #[test]
    fn v1_vectors() {
        let v = crate::marketplace::vectors();
        let ak = s(&v["access_key"]);
        for case in v["v1_authtoken"]["cases"].as_array().unwrap() {
            let params: Vec<(String, String)> = case["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), s(v).to_string()))
                .rev() // the order of the parameters must not matter
                .collect();
            let token = s(&case["authToken"]);
            assert_eq!(v1_auth_token(ak, &params), token);
            // authToken itself is not signed; a later duplicate is ignored.
            let mut with_extra = params.clone();
            with_extra.push(("authToken".into(), token.into()));
            with_extra.push(("testFlag".into(), "9".into()));
            assert_eq!(v1_auth_token(ak, &with_extra), token);
            for (keys, pos) in key_orders(ak) {
                assert_eq!(verify_v1(&keys, &with_extra, token), Some(pos));
            }
            let mut changed = params.clone();
            changed[0].1.push('x');
            assert_eq!(verify_v1(&[ak.into()], &changed, token), None);
            assert_eq!(verify_v1(&["wrong".into()], &params, token), None);
            assert_eq!(verify_v1(&[ak.into()], &params, "not base64!"), None);
        }
    }

    #[test]
    fn kit_v1_params_stringify_values() {
        let body = br#"{"flag":1,"amount":12.50,"ok":true,"gone":null,"name":"\u5f20/x","userList":[ {"a" : 1.0} ]}"#;
        let expected = [
            ("flag", "1"),
            ("amount", "12.50"),
            ("ok", "true"),
            ("name", "张/x"),
            ("userList", r#"[{"a":1.0}]"#),
        ];
        let got = kit_v1_params(body).unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, expected);
        assert!(matches!(kit_v1_params(b"[]"), Err(WireError::NotAnObject)));
    }

    #[test]
    fn body_sign_vectors() {
        let v = crate::marketplace::vectors();
        let ak = s(&v["access_key"]);
        for case in v["body_sign"]["cases"].as_array().unwrap() {
            assert_eq!(body_sign_header(ak, s(&case["body"]).as_bytes()), s(&case["header"]));
        }
    }
}
