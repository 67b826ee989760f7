//! The top-level fields of a marketplace call, validated one by one:
//! lenient about how a scalar is written (the marketplace's Java side reads
//! numbers and booleans as strings), strict about presence and length.

use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::marketplace::exact_json;
use crate::marketplace::timestamp::to_contract_time;

/// Identifier fields are at most 64 characters (spec §2).
pub const ID_LEN: usize = 64;

/// The top-level fields of a call, whatever their transport.
pub struct Fields {
    map: Map<String, Value>,
}

impl From<Map<String, Value>> for Fields {
    fn from(map: Map<String, Value>) -> Self {
        Fields { map }
    }
}

impl Fields {
    /// A V2 body: a JSON object, its numbers kept as written.
    pub fn from_json(body: &[u8]) -> Result<Fields, Error> {
        match exact_json::parse_slice(body) {
            Ok(Value::Object(map)) if map_holds_nul(&map) => Err(nul_refused()),
            Ok(Value::Object(map)) => Ok(Fields { map }),
            Ok(_) => Err(Error::invalid("the body is not a JSON object")),
            Err(_) => Err(Error::invalid("the body is not valid JSON")),
        }
    }

    /// V1 query parameters (first value of a name wins).
    pub fn from_params(params: &[(String, String)]) -> Fields {
        let mut map = Map::new();
        for (name, value) in params {
            map.entry(name.clone()).or_insert_with(|| Value::String(value.clone()));
        }
        Fields { map }
    }

    /// A scalar field as a string; numbers and booleans keep their JSON
    /// text (the marketplace's Java side reads every field as a string).
    pub fn optional(&self, name: &str, max_len: usize) -> Result<Option<String>, Error> {
        let text = match self.map.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(Error::invalid(format!("{name} must be a string"))),
        };
        if text.is_empty() {
            return Ok(None);
        }
        if text.contains('\0') {
            return Err(nul_refused());
        }
        if text.chars().count() > max_len {
            return Err(Error::invalid(format!("{name} is longer than {max_len} characters")));
        }
        Ok(Some(text))
    }

    pub fn required(&self, name: &str, max_len: usize) -> Result<String, Error> {
        self.optional(name, max_len)?.ok_or_else(|| Error::invalid(format!("{name} is missing")))
    }

    pub fn id(&self, name: &str) -> Result<String, Error> {
        self.required(name, ID_LEN)
    }

    pub fn optional_id(&self, name: &str) -> Result<Option<String>, Error> {
        self.optional(name, ID_LEN)
    }

    pub fn activity(&self) -> Result<String, Error> {
        self.required("activity", 32)
    }

    /// `testFlag`: "1" debug call, "0" or absent real.
    pub fn test_flag(&self) -> Result<bool, Error> {
        flag(self.optional("testFlag", 2)?.as_deref(), "testFlag")
    }

    /// A V2 time field in either width (14 or 17 digits, UTC), as the
    /// contract's `yyyyMMddHHmmss`.
    pub fn expire_time(&self, name: &str, required: bool) -> Result<Option<String>, Error> {
        let value = self.optional(name, 20)?;
        match value {
            None if required => Err(Error::invalid(format!("{name} is missing"))),
            None => Ok(None),
            Some(v) => match to_contract_time(&v) {
                Some(time) => Ok(Some(time)),
                None => Err(Error::invalid(format!(
                    "{name} is not yyyyMMddHHmmss or yyyyMMddHHmmssSSS"
                ))),
            },
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
}

/// A NUL can never be stored (PostgreSQL text refuses it; SQLite would
/// keep it and cut it short elsewhere): the call can never succeed, so it
/// is a bad request (`000002`) on every database, never a retry.
fn nul_refused() -> Error {
    Error::invalid("a field holds a NUL character")
}

/// True when a NUL is in any string or key, at any depth.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map_holds_nul(map),
        _ => false,
    }
}

fn map_holds_nul(map: &Map<String, Value>) -> bool {
    map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v))
}

/// A 0/1 flag (`testFlag`, `trialFlag`).
pub fn flag(value: Option<&str>, name: &str) -> Result<bool, Error> {
    match value {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(_) => Err(Error::invalid(format!("{name} must be 0 or 1"))),
    }
}

/// Objects sent as a JSON array of objects, or as a string holding one
/// (spec §5-6: `productInfo`, `userList`, `orgInfoList`). With
/// `single_allowed`, one object on its own (or a string holding one) is a
/// list of one, as `productInfo` arrives. `None` when it is none of these.
pub fn objects(value: &Value, single_allowed: bool) -> Option<Vec<Map<String, Value>>> {
    let parsed;
    let value = match value {
        Value::String(text) => {
            parsed = exact_json::parse(text).ok()?;
            &parsed
        }
        other => other,
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => Some(map.clone()),
                _ => None,
            })
            .collect(),
        Value::Object(map) if single_allowed => Some(vec![map.clone()]),
        _ => None,
    }
}

/// V1 `saasExtendParams` = urlencode(base64(JSON)), seen URL-encoded once
/// and twice on the wire (spec §5). The query parser has undone one level;
/// base64 never holds `%`, so `%XX` is decoded until none is left, then the
/// base64 (padded or not, split over lines or not) and the JSON inside.
/// `None` when that does not give JSON.
pub fn decode_extend_params(encoded: &str) -> Option<Value> {
    let mut text = encoded.trim().to_string();
    // Each round shortens the text, so this ends; 8 levels is plenty.
    for _ in 0..8 {
        match percent_decoded(&text) {
            Some(decoded) => text = decoded,
            None => break,
        }
    }
    // A `+` sent without percent-encoding arrives as a space.
    let base64: String = text
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    let bytes = LENIENT_BASE64.decode(base64.trim_end_matches('=')).ok()?;
    exact_json::parse_slice(&bytes).ok()
}

/// Standard base64 with or without its `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// `text` with every `%XX` decoded, or `None` when it holds none (or the
/// result is not UTF-8).
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut found = false;
    let mut i = 0;
    while i < bytes.len() {
        // from_str_radix would take a sign: only two hex digits count.
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                found = true;
                i += 3;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    if !found {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn url_encoded(text: &str) -> String {
        form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    /// A JSON object as the marketplace writes product and user items:
    /// strings, integers and fractions with trailing zeros.
    fn item() -> impl Strategy<Value = Map<String, Value>> {
        let scalar = prop_oneof![
            "[a-zA-Z0-9 _.-]{0,12}".prop_map(|s| json!(s)),
            any::<i64>().prop_map(|n| json!(n)),
            (0u32..100_000, 0u32..100).prop_map(|(a, b)| {
                serde_json::from_str::<Value>(&format!("{a}.{b:02}")).expect("number")
            }),
        ];
        proptest::collection::btree_map("[a-zA-Z]{1,10}", scalar, 0..5)
            .prop_map(|m| m.into_iter().collect())
    }

    /// Found by the `list_as_string` fuzz target: one level of "list sent
    /// as a string" is read, never two. A string holding a string holding
    /// a list is not a shape the marketplace sends.
    #[test]
    fn a_list_sent_as_a_string_twice_is_not_read() {
        let once = Value::String("[]".to_string());
        let twice = Value::String("\"[]\"".to_string());
        assert_eq!(objects(&once, false), Some(vec![]));
        assert_eq!(objects(&twice, false), None);
        assert_eq!(objects(&twice, true), None);
    }

    proptest! {
        /// A list reads the same as an array and as a string holding that
        /// array; one object reads as a list of one where that is allowed.
        #[test]
        fn lists_read_the_same_in_every_shape(items in proptest::collection::vec(item(), 0..4)) {
            let array = Value::Array(items.iter().cloned().map(Value::Object).collect());
            let as_string = Value::String(array.to_string());
            prop_assert_eq!(objects(&array, false), Some(items.clone()));
            prop_assert_eq!(objects(&as_string, false), Some(items.clone()));
            prop_assert_eq!(objects(&array, true), Some(items.clone()));
            prop_assert_eq!(objects(&as_string, true), Some(items));
        }

        #[test]
        fn product_info_reads_the_same_as_object_array_or_string(product in item()) {
            let object = Value::Object(product.clone());
            let shapes = [
                object.clone(),
                json!([object.clone()]),
                Value::String(object.to_string()),
                Value::String(json!([object.clone()]).to_string()),
            ];
            for shape in shapes {
                prop_assert_eq!(objects(&shape, true), Some(vec![product.clone()]), "{}", shape);
            }
            prop_assert_eq!(objects(&object, false), None, "a lone object is not a list");
        }

        /// saasExtendParams: padded or not, URL-encoded zero, one or two
        /// more times (the query parser undid one), gives the same JSON.
        #[test]
        fn extend_params_decode_the_same_in_every_encoding(
            params in proptest::collection::vec(("[a-zA-Z]{1,12}", "[ -~\u{4e00}-\u{4e20}]{0,16}"), 0..4)
        ) {
            let value = Value::Array(
                params.iter().map(|(n, v)| json!({"name": n, "value": v})).collect(),
            );
            let text = value.to_string();
            for base64 in [STANDARD.encode(&text), STANDARD_NO_PAD.encode(&text)] {
                let once = url_encoded(&base64);
                let twice = url_encoded(&once);
                // A `+` left unencoded reaches koogate as a space.
                let spaced = base64.replace('+', " ");
                for encoded in [&base64, &once, &twice, &spaced] {
                    prop_assert_eq!(decode_extend_params(encoded), Some(value.clone()), "{}", encoded);
                }
            }
        }
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let fields = Fields::from_json(br#"{"orderAmount":12.50,"periodNumber":-3.000,"n":1}"#)
            .expect("json");
        assert_eq!(fields.optional("orderAmount", 20).unwrap().as_deref(), Some("12.50"));
        assert_eq!(fields.optional("periodNumber", 20).unwrap().as_deref(), Some("-3.000"));
        assert_eq!(fields.optional("n", 20).unwrap().as_deref(), Some("1"));
        let list = objects(&json!(r#"[{"linearValue":20.50}]"#), false).expect("a list");
        assert_eq!(list[0]["linearValue"], "20.50", "inside a string too");
    }

    #[test]
    fn unreadable_shapes_are_none() {
        assert_eq!(objects(&json!("not json"), true), None);
        assert_eq!(objects(&json!([1, 2]), false), None);
        assert_eq!(objects(&json!(7), true), None);
        assert_eq!(decode_extend_params("%%%"), None);
        assert_eq!(decode_extend_params("%2B%2B"), None, "base64 of no JSON");
        assert_eq!(decode_extend_params(""), None);
    }

    #[test]
    fn percent_decoding_takes_only_two_hex_digits() {
        assert_eq!(percent_decoded("a%2Bb").as_deref(), Some("a+b"));
        assert_eq!(percent_decoded("%+1"), None);
        assert_eq!(percent_decoded("%4"), None);
        assert_eq!(percent_decoded("%%41").as_deref(), Some("%A"));
    }

    #[test]
    fn flags_are_read_from_numbers_and_strings() {
        let fields = Fields::from_json(br#"{"a":1,"b":"1","c":0,"d":"0","e":2}"#).expect("json");
        for (name, expected) in [("a", true), ("b", true), ("c", false), ("d", false)] {
            let value = fields.optional(name, 2).unwrap();
            assert_eq!(flag(value.as_deref(), name).unwrap(), expected, "{name}");
        }
        assert!(flag(fields.optional("e", 2).unwrap().as_deref(), "e").is_err());
    }
}
