//! Signature headers and signed bodies from a hostile caller: the
//! verifiers never panic and never accept a value that is not the
//! signature koogate would compute.
#![no_main]

use koogate::marketplace::canonical::{canonical, Flavour};
use koogate::marketplace::signature::{
    kit_signature, lifecycle_v2_signature, verify_kit_v2, verify_lifecycle_v2,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // nonce \n timestamp \n presented signature \n body
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let nonce = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let timestamp = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let presented = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();
    let keys = vec!["fuzz-access-key-0123456789".to_string()];
    if verify_lifecycle_v2(&keys, &nonce, &timestamp, body, &presented).is_some() {
        // Either signing shape, over the raw body or its canonical form.
        let canonical = canonical(body, Flavour::Lifecycle).ok();
        let mut payloads: Vec<&[u8]> = canonical.iter().map(|c| c.as_bytes()).collect();
        payloads.push(body);
        let computed = payloads.iter().any(|payload| {
            presented.eq_ignore_ascii_case(&lifecycle_v2_signature(
                &keys[0], &nonce, &timestamp, payload,
            )) || presented
                .eq_ignore_ascii_case(&kit_signature(&keys[0], &nonce, &timestamp, payload))
        });
        assert!(computed, "accepted a signature koogate did not compute");
    }
    let _ = verify_kit_v2(&keys, &nonce, &timestamp, body, &presented);
});
