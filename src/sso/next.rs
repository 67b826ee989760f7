//! The one rule for where koogate may send a browser after a sign-in (or
//! any other redirect it builds from a request): a path on this site.
//!
//! # Security
//! Browsers strip TAB, CR and LF from URLs and read `\` as `/`, so
//! `/\t/evil.example` or `/\evil.example` become `//evil.example`, another
//! site. Anything that is not plain visible ASCII is refused, as is any
//! form that decodes (once or more) to a slash, a backslash or a control
//! character: an app or proxy further on may decode it again.

/// The longest `next` kept; a longer one is not a path a link carries.
const MAX_LEN: usize = 2048;

/// How many rounds of percent-decoding are looked through.
const DECODE_ROUNDS: usize = 3;

/// `next` if it is a path on this site, else `None` (the caller's default).
pub fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?;
    is_local_path(next).then(|| next.to_string())
}

/// Whether `next` is a same-origin absolute path: `/x`, never `//host`,
/// `/\host`, `https://…`, nor anything with spaces, controls or non-ASCII.
pub fn is_local_path(next: &str) -> bool {
    let bytes = next.as_bytes();
    if bytes.first() != Some(&b'/') || bytes.len() > MAX_LEN {
        return false;
    }
    if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) || next.contains('\\') {
        return false;
    }
    if matches!(bytes.get(1), Some(b'/')) {
        return false;
    }
    let mut text = next.as_bytes().to_vec();
    for _ in 0..DECODE_ROUNDS {
        if !text.contains(&b'%') {
            break;
        }
        let decoded = percent_decode(&text);
        if decoded.iter().any(|b| *b < 0x20 || *b == 0x7f || *b == b'\\')
            || decoded.len() > 1 && decoded.starts_with(b"//")
            || hides_a_slash(&text)
        {
            return false;
        }
        text = decoded;
    }
    true
}

/// `%2F` or `%5C` anywhere: an encoded separator is never part of a link
/// koogate builds, and some servers decode it into a real one.
fn hides_a_slash(text: &[u8]) -> bool {
    text.windows(3).any(|w| {
        w[0] == b'%' && w[1] == b'2' && (w[2] == b'f' || w[2] == b'F')
            || w[0] == b'%' && w[1] == b'5' && (w[2] == b'c' || w[2] == b'C')
    })
}

/// `%XX` decoded; a `%` not followed by two hex digits stays as it is.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let pair = (text.get(i + 1).copied().and_then(hex), text.get(i + 2).copied().and_then(hex));
        match (text[i], pair) {
            (b'%', (Some(high), Some(low))) => {
                out.push(high * 16 + low);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_a_path_on_this_site_survives() {
        for good in ["/", "/reports/42?tab=people", "/a%20b", "/admin/events?page=2#x"] {
            assert!(is_local_path(good), "{good}");
        }
        for bad in [
            "",
            "reports",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/\n/x",
            "/%0a/x",
            "/%0d%0aSet-Cookie:x=y",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%252F/evil.example",
            "/%2509/evil.example",
            "https://evil.example",
            "/ x",
            "/caf\u{e9}",
            "/\u{7f}",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }
}
