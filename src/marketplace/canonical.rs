//! Canonical JSON of a request body, byte for byte as Huawei's Java sample
//! produces it with Jackson (protocol §3, "Canonical body").
//!
//! serde_json is used without `arbitrary_precision`, so number text is kept by
//! reading every value as a [`RawValue`] and recursing into objects and arrays.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::WireError;

/// Deepest nesting we canonicalise. Each level re-parses its own text, so the
/// limit bounds the work an unauthenticated body can cause; marketplace bodies
/// nest 3 or 4 levels. A deeper body is not canonical and is checked raw.
pub(crate) const MAX_DEPTH: usize = 32;

/// Which channel's canonical form to produce (protocol §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Lifecycle V2: the sample binds `Map<String,String>`, so top-level
    /// numbers keep their JSON text as strings and booleans become strings.
    Lifecycle,
    /// Kit V2: values keep their JSON types; fractions print as Java doubles.
    Kit,
}

/// Canonical form of `body`: top-level nulls dropped, top-level keys sorted in
/// Java `TreeMap` (UTF-16) order, compact, Jackson string escaping.
///
/// Nested values keep their order and their nulls; duplicate keys keep the
/// last value at the first position (Jackson's `LinkedHashMap::put`). Nested
/// values print the same in both flavours (Jackson's untyped binding).
pub fn canonical(body: &[u8], flavour: Flavour) -> Result<String, WireError> {
    let text =
        std::str::from_utf8(body).map_err(|_| WireError::Json("body is not UTF-8".into()))?;
    let mut entries = top_level_entries(text)?;
    entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let mut out = String::with_capacity(text.len());
    out.push('{');
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, key);
        out.push(':');
        let raw = trimmed(value);
        match (flavour, raw.as_bytes().first()) {
            // Map<String,String>: Jackson's StringDeserializer takes the token
            // text, so `12.50` stays "12.50" and `true` becomes "true".
            (Flavour::Lifecycle, Some(b't' | b'f' | b'-' | b'0'..=b'9')) => {
                out.push('"');
                out.push_str(raw);
                out.push('"');
            }
            _ => write_value(&mut out, value, 1)?,
        }
    }
    out.push('}');
    Ok(out)
}

/// Top-level entries of a JSON object, duplicates resolved, nulls dropped.
pub(crate) fn top_level_entries(text: &str) -> Result<Vec<(String, &RawValue)>, WireError> {
    let mut entries = parse_object(text)?;
    entries.retain(|(_, v)| trimmed(v) != "null");
    Ok(entries)
}

/// Compact Jackson text of one value (used for Kit V1 nested parameters).
pub(crate) fn compact(value: &RawValue) -> Result<String, WireError> {
    let mut out = String::new();
    write_value(&mut out, value, 1)?;
    Ok(out)
}

/// The raw text of a value without surrounding JSON whitespace.
pub(crate) fn trimmed(value: &RawValue) -> &str {
    value.get().trim_matches([' ', '\t', '\n', '\r'])
}

pub(crate) fn parse_object(text: &str) -> Result<Vec<(String, &RawValue)>, WireError> {
    let start = text.trim_start_matches([' ', '\t', '\n', '\r']);
    if !start.starts_with('{') {
        // Tell "valid JSON, wrong type" from "not JSON at all".
        return match serde_json::from_str::<&RawValue>(text) {
            Ok(_) => Err(WireError::NotAnObject),
            Err(e) => Err(WireError::json(&e)),
        };
    }
    let entries: Entries = serde_json::from_str(text).map_err(|e| WireError::json(&e))?;
    Ok(entries.0)
}

/// An object as an ordered list of entries with their raw values.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(String, &'de RawValue)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: &'de RawValue = map.next_value()?;
            match index.get(&key).and_then(|&i| entries.get_mut(i)) {
                Some(slot) => slot.1 = value,
                None => {
                    index.insert(key.clone(), entries.len());
                    entries.push((key, value));
                }
            }
        }
        Ok(Entries(entries))
    }
}

fn write_value(out: &mut String, value: &RawValue, depth: usize) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::Json("nesting too deep".into()));
    }
    let raw = trimmed(value);
    match raw.as_bytes().first() {
        Some(b'{') => {
            out.push('{');
            for (i, (key, item)) in parse_object(raw)?.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item, depth + 1)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> =
                serde_json::from_str(raw).map_err(|e| WireError::json(&e))?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Some(b'"') => {
            let s: String = serde_json::from_str(raw).map_err(|e| WireError::json(&e))?;
            write_string(out, &s);
        }
        Some(b't' | b'f' | b'n') => out.push_str(raw),
        Some(_) => write_number(out, raw)?,
        None => return Err(WireError::Json("empty value".into())),
    }
    Ok(())
}

/// Jackson reads integers as int/long/BigInteger and prints them as written,
/// everything else as a `double` printed by `Double.toString`.
fn write_number(out: &mut String, raw: &str) -> Result<(), WireError> {
    if !raw.contains(['.', 'e', 'E']) {
        // `-0` is read as the int 0.
        out.push_str(if raw == "-0" { "0" } else { raw });
        return Ok(());
    }
    let value: f64 = raw.parse().map_err(|_| WireError::Json("invalid number".into()))?;
    if value.is_finite() {
        out.push_str(&java_double(value));
    } else {
        // QUOTE_NON_NUMERIC_NUMBERS is on by default: 1e400 -> "Infinity".
        out.push_str(if value > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" });
    }
    Ok(())
}

/// Java's `Double.toString` of a finite value (JDK 19+ shortest digits):
/// plain notation with at least one fraction digit for 1e-3 <= |x| < 1e7,
/// otherwise `d.dddE±n`.
pub(crate) fn java_double(value: f64) -> String {
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.2345e-5".
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut s = String::from(sign);
    if (0..7).contains(&exponent) {
        let int_len = exponent as usize + 1;
        if digits.len() <= int_len {
            s.push_str(&digits);
            s.push_str(&"0".repeat(int_len - digits.len()));
            s.push_str(".0");
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    } else if (-3..0).contains(&exponent) {
        s.push_str("0.");
        s.push_str(&"0".repeat((-exponent - 1) as usize));
        s.push_str(&digits);
    } else {
        s.push_str(&digits[..1]);
        s.push('.');
        s.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        s.push('E');
        s.push_str(&exponent.to_string());
    }
    s
}

/// Jackson's default string escaping: only `"`, `\` and control characters;
/// non-ASCII and `/` stay as they are; `\u00XX` with upper-case hex.
///
/// Runs between escapes are copied whole: a Kit body reaches 8 MiB, and
/// char by char this was most of the cost of checking its signature. The
/// bytes escaped are all ASCII, which never occurs inside a multi-byte
/// UTF-8 sequence, so every cut is at a char boundary.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(s.len() + 2);
    out.push('"');
    let mut copied = 0;
    let bytes = s.as_bytes();
    let mut at = 0;
    while let Some(found) = next_escape(bytes, at) {
        at = found + 1;
        let byte = bytes[found];
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        out.push_str(&s[copied..found]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        } else {
            out.push_str(short);
        }
        copied = found + 1;
    }
    out.push_str(&s[copied..]);
    out.push('"');
}

/// Where the next byte Jackson escapes is, from `from` on: eight bytes at
/// a time while none of them is one (the usual SWAR tests for a zero byte
/// and for a byte below 0x20, as serde_json's own reader does).
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    let rest = bytes.get(from..)?;
    let mut skipped = 0;
    for chunk in rest.chunks_exact(8) {
        let Ok(eight) = <[u8; 8]>::try_from(chunk) else { break };
        let word = u64::from_le_bytes(eight);
        let hit = zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
        if hit != 0 {
            break;
        }
        skipped += 8;
    }
    rest[skipped..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| from + skipped + p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vectors_reproduce() {
        let v = crate::marketplace::vectors();
        let sections =
            [("v2_lifecycle_signature", Flavour::Lifecycle), ("v2_kit_signature", Flavour::Kit)];
        for (section, flavour) in sections {
            for case in v[section]["cases"].as_array().unwrap() {
                let body = case["body"].as_str().unwrap();
                let expected = case["canonical"].as_str().unwrap();
                assert_eq!(canonical(body.as_bytes(), flavour).unwrap(), expected, "{body}");
            }
        }
    }

    fn check(body: &str, lifecycle: &str, kit: &str) {
        assert_eq!(canonical(body.as_bytes(), Flavour::Lifecycle).unwrap(), lifecycle);
        assert_eq!(canonical(body.as_bytes(), Flavour::Kit).unwrap(), kit);
    }

    #[test]
    fn hand_derived_cases() {
        check(r#"{"a":1.50}"#, r#"{"a":"1.50"}"#, r#"{"a":1.5}"#);
        check(r#"{"t":true,"n":-0}"#, r#"{"n":"-0","t":"true"}"#, r#"{"n":0,"t":true}"#);
        // Nested values print alike in both flavours.
        let nested = r#"{"o":{"k":[1,2.5,"Infinity"]}}"#;
        check(r#"{"o": {"k": [1, 2.50, 1e400]}}"#, nested, nested);
        // Jackson escaping: upper-case \u00XX, `/` and non-ASCII as they are.
        let escaped = "{\"a\":\"x\\u0001\\u001Fy\\t\\\"\\\\/z中\\b\\f\\n\\r\u{7f}\"}";
        check(r#"{"a":"x\u0001\u001fy\t\"\\\/z\u4e2d\b\f\n\r\u007f"}"#, escaped, escaped);
        // Top-level nulls go, nested ones stay; duplicates: last value, first place.
        let nulls = r#"{"a":{"y":null,"x":1}}"#;
        check(r#"{"b":null,"a":{"y":null,"x":1}}"#, nulls, nulls);
        check(r#"{"a":1,"a":null}"#, "{}", "{}");
        let dups = r#"{"o":{"x":3,"y":2}}"#;
        check(r#"{"o":{"x":1,"y":2,"x":3}}"#, dups, dups);
        // U+1F600 is D83D DE00 in UTF-16, below U+E000 (byte order says otherwise).
        let sorted = "{\"B\":\"3\",\"a\":\"4\",\"\u{1f600}\":\"2\",\"\u{e000}\":\"1\"}";
        check("{\"\u{e000}\":\"1\",\"\u{1f600}\":\"2\",\"B\":\"3\",\"a\":\"4\"}", sorted, sorted);
    }

    #[test]
    fn rejects_non_objects_and_bad_json() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
        for body in [&b"[1]"[..], b" \"s\"", b"{\"a\":", b"{} x", b"\xff", deep.as_bytes()] {
            let not_object = matches!(body, b"[1]" | b" \"s\"");
            match canonical(body, Flavour::Kit) {
                Err(WireError::NotAnObject) => assert!(not_object),
                Err(WireError::Json(_)) => assert!(!not_object),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn java_double_table() {
        for (value, java) in [
            (1.5, "1.5"),
            (100.0, "100.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e7, "1.0E7"),
            (9999999.0, "9999999.0"),
            (12345678.9, "1.23456789E7"),
            (0.001, "0.001"),
            (1e-4, "1.0E-4"),
            (-0.00012, "-1.2E-4"),
            (123.456, "123.456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e300, "1.0E300"),
        ] {
            assert_eq!(java_double(value), java);
        }
    }

    /// JSON text of a random value, with its own spacing.
    fn json_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_flat_map(|x| prop_oneof![
                Just(x.to_string()),
                Just(format!("{x:e}")),
                Just(format!("{x:.3}"))
            ]),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[ {} ]", v.join(" , "))),
                prop::collection::vec(("[a-z]{1,3}", inner), 0..4).prop_map(|v| {
                    let items: Vec<String> =
                        v.iter().map(|(k, x)| format!("\"{k}\" : {x}")).collect();
                    format!("{{ {} }}", items.join(",\n"))
                }),
            ]
        })
    }

    fn object(entries: &[(String, String)], ws: &str) -> String {
        let items: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{ws}{}{ws}:{ws}{v}{ws}", serde_json::to_string(k).unwrap()))
            .collect();
        format!("{ws}{{{}}}{ws}", items.join(","))
    }

    /// Jackson's escaping one char at a time: what `write_string` must
    /// equal, however it skips ahead.
    fn escaped_char_by_char(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest! {
        #[test]
        fn strings_are_escaped_as_jackson_does(
            s in prop_oneof![any::<String>(), "[a-z\"\\\\\u{0}-\u{1f}中é]{0,40}"],
        ) {
            let mut out = String::new();
            write_string(&mut out, &s);
            prop_assert_eq!(out, escaped_char_by_char(&s));
        }

        #[test]
        fn idempotent_and_order_insensitive(
            map in prop::collection::btree_map(any::<String>(), json_value(), 0..6),
            ws in prop_oneof![Just(""), Just(" "), Just("\n\t ")],
            seed in any::<u64>(),
        ) {
            let entries: Vec<(String, String)> = map.into_iter().collect();
            let mut shuffled = entries.clone();
            // Deterministic rotation + reversal: a different order for most seeds.
            let len = shuffled.len().max(1);
            shuffled.rotate_left((seed as usize) % len);
            if seed % 2 == 0 {
                shuffled.reverse();
            }
            for flavour in [Flavour::Lifecycle, Flavour::Kit] {
                let once = canonical(object(&entries, "").as_bytes(), flavour).unwrap();
                let twice = canonical(once.as_bytes(), flavour).unwrap();
                prop_assert_eq!(&twice, &once);
                let other = canonical(object(&shuffled, ws).as_bytes(), flavour).unwrap();
                prop_assert_eq!(&other, &once);
            }
        }
    }
}
