//! What the event log keeps of a request: sensitive fields masked.

use serde_json::{Map, Value};

/// Request fields never kept in clear: keys, tokens, secrets, personal data.
const SENSITIVE: &[&str] = &[
    "authToken",
    "signature",
    "password",
    "clientSecret",
    "mobilePhone",
    "mobile",
    "email",
    "customerName",
    "userName",
    "name",
    "workPlace",
];

/// The request as the event log keeps it: a JSON body with sensitive
/// fields masked at any depth; an unparsable body only by its size.
pub fn redact_body(body: &[u8]) -> String {
    match crate::marketplace::exact_json::parse_slice(body) {
        Ok(mut value) => {
            mask(&mut value);
            value.to_string()
        }
        Err(_) => format!("{{\"unparsable\":true,\"bytes\":{}}}", body.len()),
    }
}

/// Query parameters as a redacted JSON object (V1 calls).
pub fn redact_params(params: &[(String, String)]) -> String {
    let mut object = Map::new();
    for (name, value) in params {
        object.entry(name.clone()).or_insert_with(|| Value::String(value.clone()));
    }
    let mut value = Value::Object(object);
    mask(&mut value);
    value.to_string()
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if SENSITIVE.contains(&key.as_str()) && !inner.is_null() {
                    *inner = Value::String("***".to_string());
                } else {
                    mask(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        // Kit lists may arrive as strings holding JSON (spec §6).
        Value::String(text) if text.starts_with('[') || text.starts_with('{') => {
            if let Ok(mut inner) = crate::marketplace::exact_json::parse(text) {
                mask(&mut inner);
                *text = inner.to_string();
            }
        }
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
    fn unparsable_bodies_are_kept_only_by_size() {
        assert_eq!(redact_body(b"{not json"), "{\"unparsable\":true,\"bytes\":9}");
    }
}
