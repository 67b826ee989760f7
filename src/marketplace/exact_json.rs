//! JSON read without losing how the marketplace wrote its numbers.
//!
//! serde_json (without `arbitrary_precision`, which would change how every
//! `Value` number serialises, the admin templates included) reads `12.50`
//! as the float 12.5. koogate stores and re-serialises what the marketplace
//! sent, so a number whose text serde_json would print differently is kept
//! as a string of its exact text; one that prints the same stays a number.
//! The marketplace's Java side reads every field as a string anyway.

use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use super::canonical::{parse_object, trimmed, MAX_DEPTH};
use super::WireError;

/// Parses `text` as JSON, numbers kept as written (see the module comment).
pub fn parse(text: &str) -> Result<Value, WireError> {
    let raw: &RawValue = serde_json::from_str(text).map_err(|e| WireError::json(&e))?;
    value(raw, 1)
}

/// [`parse`] of bytes that must be UTF-8.
pub fn parse_slice(bytes: &[u8]) -> Result<Value, WireError> {
    let text = std::str::from_utf8(bytes).map_err(|_| WireError::Json("not UTF-8".into()))?;
    parse(text)
}

fn value(raw: &RawValue, depth: usize) -> Result<Value, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::Json("nesting too deep".into()));
    }
    let text = trimmed(raw);
    match text.as_bytes().first() {
        Some(b'{') => {
            let mut map = Map::new();
            for (key, item) in parse_object(text)? {
                map.insert(key, value(item, depth + 1)?);
            }
            Ok(Value::Object(map))
        }
        Some(b'[') => {
            let items: Vec<&RawValue> =
                serde_json::from_str(text).map_err(|e| WireError::json(&e))?;
            items
                .into_iter()
                .map(|item| value(item, depth + 1))
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        Some(b'-' | b'0'..=b'9') => {
            let number: Number = serde_json::from_str(text).map_err(|e| WireError::json(&e))?;
            if number.to_string() == text {
                Ok(Value::Number(number))
            } else {
                Ok(Value::String(text.to_string()))
            }
        }
        _ => serde_json::from_str(text).map_err(|e| WireError::json(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_keep_their_text_and_everything_else_reads_as_serde_json_does() {
        let text = r#"{"amount":12.50,"n":20,"f":12.5,"neg":-3.000,"big":12345678901234567890123,
            "e":1E3,"list":[0.10,{"x":1.0}],"s":"12.50","t":true,"z":null,"u":"\u00e9\n"}"#;
        let exact = parse(text).expect("json");
        assert_eq!(
            exact,
            json!({"amount":"12.50","n":20,"f":12.5,"neg":"-3.000","big":"12345678901234567890123",
                   "e":"1E3","list":["0.10",{"x":1.0}],"s":"12.50","t":true,"z":null,"u":"é\n"})
        );
        assert!(exact.to_string().contains(r#""amount":"12.50""#));
    }

    #[test]
    fn bad_or_too_deep_json_is_refused() {
        assert!(parse("{").is_err());
        assert!(parse("[1,]").is_err());
        assert!(parse_slice(b"\xff").is_err());
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(parse(&deep).is_err());
        assert_eq!(parse(r#"{"a":1,"a":2}"#).expect("json"), json!({"a": 2}));
    }
}
