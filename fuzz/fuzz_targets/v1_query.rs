//! A V1 lifecycle call's query string: every activity's parser answers a
//! result (a command or a result code), never a panic.
#![no_main]

use koogate::lifecycle::request::parse_v1;
use koogate::marketplace::fields::Fields;
use libfuzzer_sys::fuzz_target;

const ACTIVITIES: &[&str] = &[
    "newInstance",
    "queryInstance",
    "refreshInstance",
    "expireInstance",
    "releaseInstance",
    "upgrade",
    "unknownActivity",
];

fuzz_target!(|query: &[u8]| {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let fields = Fields::from_params(&params);
    let decrypt = |text: &str| Some(text.to_string());
    for activity in ACTIVITIES {
        let _ = parse_v1(&fields, activity, &decrypt);
    }
});
