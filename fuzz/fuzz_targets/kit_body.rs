//! A Kit V2 sync body: read for each of the five calls, and as a Kit V1
//! form body, without a panic.
#![no_main]

use koogate::marketplace::fields::Fields;
use koogate::marketplace::signature::kit_v1_params;
use koogate::sync::request::{parse, CALLS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(fields) = Fields::from_json(body) {
        for call in CALLS {
            let _ = parse(call, &fields);
        }
    }
    if let Ok(params) = kit_v1_params(body) {
        let fields = Fields::from_params(&params);
        for call in CALLS {
            let _ = parse(call, &fields);
        }
    }
});
