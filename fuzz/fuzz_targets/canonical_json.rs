//! A V2 body as the marketplace might send it: the canonical forms the
//! signature is checked over never panic, and a body koogate reads keeps
//! its exact numbers when written back out and read again.
#![no_main]

use koogate::marketplace::canonical::{canonical, Flavour};
use koogate::marketplace::exact_json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = canonical(body, Flavour::Lifecycle);
    let _ = canonical(body, Flavour::Kit);
    if let Ok(value) = exact_json::parse_slice(body) {
        let written = serde_json::to_string(&value).expect("a parsed value serialises");
        let again = exact_json::parse(&written).expect("what koogate wrote reads back");
        assert_eq!(value, again, "a round trip changed the body");
    }
});
