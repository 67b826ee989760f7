//! Marketplace time fields in 14 or 17 digits and V1 `timeStamp`s: a
//! time koogate reads is written back as the contract's 14 digits and
//! reads again as the same second.
#![no_main]

use koogate::marketplace::timestamp::{parse_time, parse_v1, to_contract_time, to_millis_time};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(time) = parse_time(text) {
        let contract = to_contract_time(text).expect("a read time is written");
        assert_eq!(contract.len(), 14);
        let again = parse_time(&contract).expect("the contract time reads back");
        assert_eq!(again.timestamp(), time.timestamp());
        let millis = to_millis_time(text).expect("a read time has milliseconds");
        assert_eq!(parse_time(&millis), Some(time), "milliseconds changed the time");
    }
    let _ = parse_v1(text, 8);
});
