//! Lists the marketplace sends as JSON or as a string holding JSON
//! (`userList`, `orgInfoList`, `productInfo`), and `saasExtendParams` in
//! any encoding: the readers give the same objects both ways.
#![no_main]

use koogate::marketplace::exact_json;
use koogate::marketplace::fields::{decode_extend_params, objects};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let as_string = Value::String(text.to_string());
    let from_string = objects(&as_string, true);
    // A JSON string is itself "a list sent as a string" one level down
    // (`"[]"`): only a list or an object read directly compares with the
    // same text sent as a string (found by this target).
    if let Some(value) = exact_json::parse(text).ok().filter(|v| !v.is_string()) {
        assert_eq!(objects(&value, true), from_string, "a list read differently as a string");
        assert_eq!(objects(&value, false), objects(&as_string, false));
    }
    let _ = decode_extend_params(text);
});
