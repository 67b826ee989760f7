//! `next` and every redirect target: whatever survives is a path on this
//! site that no browser reads as another site.
#![no_main]

use koogate::sso::next::local_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(next) = std::str::from_utf8(data) else { return };
    if let Some(path) = local_path(Some(next)) {
        assert!(path.starts_with('/'), "not a path: {path:?}");
        assert!(!path.starts_with("//"), "scheme-relative: {path:?}");
        assert!(!path.contains('\\'), "backslash: {path:?}");
        assert!(path.bytes().all(|b| (0x21..=0x7e).contains(&b)), "control or space: {path:?}");
        let once: Vec<u8> = percent_decoded(path.as_bytes());
        assert!(
            !once.starts_with(b"//") && !once.contains(&b'\\'),
            "decodes to another site: {path:?}"
        );
    }
});

fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    form_urlencoded::parse(&[b"x=", bytes].concat())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default()
}
