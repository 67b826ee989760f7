//! What the event log keeps of a request: only fields known to be safe
//! in clear, everything else masked.

use serde_json::{Map, Value};

/// Request fields kept in clear: identifiers, codes, flags, times and
/// amounts of the marketplace protocol, none of them personal or secret.
/// Any other field (a phone, an ID card number, a name, a token, a field
/// the marketplace adds tomorrow) is masked: an allow-list, because a
/// deny-list misses what nobody thought of. Objects and lists are walked
/// whatever their name; only their scalars are judged.
const SAFE: &[&str] = &[
    "action",
    "activity",
    "amount",
    "appId",
    "bandWidth",
    "businessId",
    "chargingMode",
    "clientId",
    "createTime",
    "currentSyncTime",
    "customerId",
    "diskSize",
    "domainName",
    "enable",
    "expireTime",
    "flag",
    "instanceId",
    "instanceIds",
    "instanceStatus",
    "linearValue",
    "operator",
    "orderAmount",
    "orderId",
    "orderLineId",
    "orgCode",
    "parentCode",
    "periodNumber",
    "periodType",
    "productId",
    "role",
    "scene",
    "skuCode",
    "status",
    "tenantCode",
    "tenantId",
    "testFlag",
    "timeStamp",
    "trialFlag",
];

/// What a masked scalar becomes.
const MASK: &str = "***";

/// The request as the event log keeps it: a JSON body with every field
/// not known safe masked at any depth; an unparsable body only by its size.
pub fn redact_body(body: &[u8]) -> String {
    match crate::marketplace::exact_json::parse_slice(body) {
        Ok(mut value) => {
            mask(&mut value, false);
            value.to_string()
        }
        Err(_) => format!("{{\"unparsable\":true,\"bytes\":{}}}", body.len()),
    }
}

/// How many first bytes of a refused call's body the event log shows.
const HEAD_BYTES: usize = 64;

/// How many first bytes of a refused call's body its hash covers: enough
/// to match a capture, without hashing 8 MiB again for every forgery.
const HASHED_BYTES: usize = 64 * 1024;

/// What the event log keeps of a call refused before it authenticated:
/// its size, a SHA-256 of its first 64 KiB to match it with a capture,
/// and the shape of its
/// first bytes with every letter and digit masked. The body is never
/// parsed: a forged call must cost almost nothing, however large.
pub fn refused_body(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let head: String = String::from_utf8_lossy(&body[..body.len().min(HEAD_BYTES)])
        .chars()
        .map(|c| if c.is_alphanumeric() { '*' } else { c })
        .collect();
    serde_json::json!({
        "refused": true,
        "bytes": body.len(),
        "sha256_first_64k": hex::encode(Sha256::digest(&body[..body.len().min(HASHED_BYTES)])),
        "head": head,
    })
    .to_string()
}

/// The record of a call refused before its body was read: only the size
/// it announced (`Content-Length`), if any.
pub fn unread_body_record(announced: Option<u64>) -> String {
    serde_json::json!({ "refused": true, "unread": true, "announced_bytes": announced }).to_string()
}

/// Query parameters as a redacted JSON object (V1 calls).
pub fn redact_params(params: &[(String, String)]) -> String {
    let mut object = Map::new();
    for (name, value) in params {
        object.entry(name.clone()).or_insert_with(|| Value::String(value.clone()));
    }
    let mut value = Value::Object(object);
    mask(&mut value, false);
    value.to_string()
}

/// Masks `value`, held under a key that is `safe` or not.
fn mask(value: &mut Value, safe: bool) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                mask(inner, SAFE.contains(&key.as_str()));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask(item, safe)),
        Value::String(text) => {
            // Kit lists may arrive as strings holding JSON (spec §6), with
            // or without leading spaces: walked like the JSON they hold.
            let trimmed = text.trim_start();
            if trimmed.starts_with('[') || trimmed.starts_with('{') {
                if let Ok(mut inner) = crate::marketplace::exact_json::parse(trimmed) {
                    mask(&mut inner, safe);
                    *text = inner.to_string();
                    return;
                }
            }
            if !safe {
                *text = MASK.to_string();
            }
        }
        Value::Number(_) | Value::Bool(_) if !safe => *value = Value::String(MASK.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_fields_and_tokens_are_masked_at_any_depth() {
        let body = br#"{"activity":"newInstance","buyerInfo":{"customerId":"c1","mobilePhone":"18652996659","email":"a@b.c","userName":"bob"},"orderId":"O1"}"#;
        let kept = redact_body(body);
        assert!(kept.contains("\"customerId\":\"c1\""));
        assert!(kept.contains("\"orderId\":\"O1\""));
        for secret in ["18652996659", "a@b.c", "bob"] {
            assert!(!kept.contains(secret), "{secret} leaked into {kept}");
        }
    }

    #[test]
    fn query_parameters_keep_their_first_value_and_lose_the_token() {
        let params = vec![
            ("activity".to_string(), "newInstance".to_string()),
            ("authToken".to_string(), "abc+def=".to_string()),
            ("activity".to_string(), "other".to_string()),
        ];
        let kept = redact_params(&params);
        assert!(kept.contains("\"activity\":\"newInstance\""));
        assert!(!kept.contains("abc+def="));
    }

    #[test]
    fn lists_sent_as_strings_are_masked_too() {
        let body = br#"{"userList":"[{\"userName\":\"zs\",\"mobile\":\"13800000000\",\"extension\":{\"email\":\"a@b.c\"}}]"}"#;
        let kept = redact_body(body);
        assert!(!kept.contains("13800000000") && !kept.contains("a@b.c"), "{kept}");
    }

    #[test]
    fn fields_nobody_listed_are_masked_and_space_prefixed_lists_are_walked() {
        let body = br#"{"orderId":"O1","phone":"139","x":{"idCard":"110"},"userList":"  [{\"role\":\"admin\",\"phone\":\"137\"}]"}"#;
        let kept = redact_body(body);
        assert!(kept.contains("\"orderId\":\"O1\""), "{kept}");
        assert!(kept.contains("admin"), "{kept}");
        for secret in ["139", "110", "137"] {
            assert!(!kept.contains(secret), "{secret} leaked into {kept}");
        }
    }

    #[test]
    fn unparsable_bodies_are_kept_only_by_size() {
        assert_eq!(redact_body(b"{not json"), "{\"unparsable\":true,\"bytes\":9}");
    }
}
