//! The request the vendor's app receives, built from the client's: its
//! headers minus hop-by-hop ones, reserved ones (see
//! [`forwarded::is_reserved`]) and koogate's own cookies, then koogate's
//! forwarding headers and the caller's identity. One rule for both ways a
//! request reaches the gate: through the front (hyper's types) and
//! through koogate's own server (actix's types), see [`ClientHeaders`].

use std::borrow::Cow;
use std::net::IpAddr;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::gate::forwarded::{self, TrustedProxies};
use crate::gate::start::LastStart;
use crate::gate::told::Told;

/// Whether `name` (lower-case) is a header that describes one connection,
/// not the message (RFC 9110 §7.6.1), or the `Host` koogate sets anew.
/// Asked of every header of every request and answer the gate passes on:
/// a `match`, which compiles to a test of the length and at most two
/// compares, not a walk along a list.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

/// A client's request headers, as either server parsed them. Names come
/// lower-case from both parsers.
pub trait ClientHeaders {
    /// Every header, in the order received.
    fn each(&self) -> impl Iterator<Item = Sent<'_>>;

    /// The values of the header `name` (lower-case).
    fn all(&self, name: &str) -> impl Iterator<Item = &[u8]>;
}

/// One header as the client sent it.
pub struct Sent<'h> {
    pub name: &'h str,
    pub value: &'h [u8],
    /// hyper's own name and value, when hyper parsed them: passed on to
    /// the app as they are, sharing the bytes read.
    parsed: Option<(&'h HeaderName, &'h HeaderValue)>,
}

impl Sent<'_> {
    /// The header as hyper's types, to pass on.
    fn to_pass_on(&self) -> Option<(HeaderName, HeaderValue)> {
        match self.parsed {
            Some((name, value)) => Some((browser_s(name), value.clone())),
            // What the other server already checked; a failure cannot happen.
            None => Some((
                HeaderName::from_bytes(self.name.as_bytes()).ok()?,
                HeaderValue::from_bytes(self.value).ok()?,
            )),
        }
    }
}

/// `name` to pass on. A name hyper does not know is held in bytes of its
/// own, and a copy of it costs an allocation; the names every browser
/// sends that hyper does not know are kept here, written into the
/// program, and cost nothing to copy.
fn browser_s(name: &HeaderName) -> HeaderName {
    const fn named(name: &'static str) -> HeaderName {
        HeaderName::from_static(name)
    }
    match name.as_str() {
        "sec-ch-ua" => named("sec-ch-ua"),
        "sec-ch-ua-mobile" => named("sec-ch-ua-mobile"),
        "sec-ch-ua-platform" => named("sec-ch-ua-platform"),
        "sec-fetch-site" => named("sec-fetch-site"),
        "sec-fetch-mode" => named("sec-fetch-mode"),
        "sec-fetch-user" => named("sec-fetch-user"),
        "sec-fetch-dest" => named("sec-fetch-dest"),
        "priority" => named("priority"),
        "x-requested-with" => named("x-requested-with"),
        _ => name.clone(),
    }
}

impl ClientHeaders for actix_web::http::header::HeaderMap {
    fn each(&self) -> impl Iterator<Item = Sent<'_>> {
        self.iter().map(|(name, value)| Sent {
            name: name.as_str(),
            value: value.as_bytes(),
            parsed: None,
        })
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.get_all(name).map(|value| value.as_bytes())
    }
}

impl ClientHeaders for HeaderMap {
    fn each(&self) -> impl Iterator<Item = Sent<'_>> {
        self.iter().map(|(name, value)| Sent {
            name: name.as_str(),
            value: value.as_bytes(),
            parsed: Some((name, value)),
        })
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.get_all(name).iter().map(|value| value.as_bytes())
    }
}

/// A header value as text when it is visible ASCII (or tabs), as both
/// servers' `to_str` read it; `None` otherwise.
pub fn visible(value: &[u8]) -> Option<&str> {
    // Every byte is looked at, with no way out early, so that the compiler
    // checks many at once: the session cookie's value is read on every
    // request.
    let fits = value.iter().fold(true, |fits, b| fits & matches!(b, 0x20..=0x7e | b'\t'));
    if fits {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// What the gate needs to know of a request before anything else, read
/// in one pass over its headers.
pub struct Glance<'h> {
    /// The value of the session cookie.
    pub session: Option<&'h str>,
    /// Whether a body follows (`Content-Length` above zero, or any
    /// `Transfer-Encoding`, which for a request means chunked).
    pub body: bool,
    /// The `Host` asked for (the last one, when it is visible ASCII).
    pub host: Option<&'h str>,
}

/// The request's [`Glance`], its session cookie named `cookie_name`.
pub fn glance<'h>(client: &'h impl ClientHeaders, cookie_name: &str) -> Glance<'h> {
    let mut glance = Glance { session: None, body: false, host: None };
    for header in client.each() {
        match header.name {
            "cookie" if glance.session.is_none() => {
                glance.session = cookie_value(header.value, cookie_name);
            }
            "content-length" => {
                let length = visible(header.value).and_then(|v| v.trim().parse::<u64>().ok());
                glance.body |= length.is_some_and(|n| n > 0);
            }
            "transfer-encoding" => glance.body = true,
            "host" => glance.host = visible(header.value),
            _ => {}
        }
    }
    glance
}

/// The headers the app receives for a request with `client` headers from
/// `peer` for `host` (the `Host` asked for, or the request target's
/// authority; see the module), telling it who is calling (`told`), with
/// the app's own `Host` (`app_host`). `last`, a client connection's, lets
/// the request start from the previous one's identity, forwarding and
/// `Host` headers when they are the same (see [`LastStart`]).
pub fn for_app(
    client: &impl ClientHeaders,
    peer: Option<IpAddr>,
    host: Option<&str>,
    trusted: &TrustedProxies,
    told: &Told,
    app_host: &HeaderValue,
    last: Option<&LastStart>,
) -> HeaderMap {
    // Reserved names are all left out below: nothing replaces these. The
    // app's `Host` is part of the start, so that a copy of the start
    // already holds it: inserted into every request, it made the copy's
    // list of entries grow on requests that add nothing else.
    let start = || {
        let mut out = told.headers();
        out.insert(hyper::header::HOST, app_host.clone());
        forwarded::forwarding(client, peer, host, trusted, &mut out);
        out
    };
    // A trusted proxy's forwarding headers are extended with what it sent
    // on each request: its starts are made anew.
    let mut out = match last {
        Some(last) if !peer.is_some_and(|p| trusted.trusts(p)) => {
            last.for_request(told, peer, host, start)
        }
        _ => start(),
    };
    let mut connection = false;
    for header in client.each() {
        let name = header.name;
        if hop_by_hop(name) {
            connection |= name == "connection";
            continue;
        }
        if forwarded::is_reserved(name) {
            continue;
        }
        if name == "cookie" {
            match without_koogate_cookies(header.value) {
                // None of koogate's: the header goes on as it came.
                Cow::Borrowed(_) => {}
                Cow::Owned(kept) => {
                    if let Some(Ok(kept)) = (!kept.is_empty()).then(|| HeaderValue::try_from(kept))
                    {
                        out.append(hyper::header::COOKIE, kept);
                    }
                    continue;
                }
            }
        }
        if let Some((name, value)) = header.to_pass_on() {
            out.append(name, value);
        }
    }
    if connection {
        // Headers the client named as its connection's own.
        for named in client.all("connection").filter_map(visible).flat_map(|v| v.split(',')) {
            let named = named.trim();
            // What browsers send (`keep-alive`) names nothing passed on.
            if named.eq_ignore_ascii_case("keep-alive") || named.eq_ignore_ascii_case("close") {
                continue;
            }
            let named = named.to_ascii_lowercase();
            // Never koogate's own: its identity, forwarding or the app's
            // `Host` (`Connection: host` would send the app none).
            if !forwarded::is_reserved(&named) && !hop_by_hop(&named) {
                out.remove(named.as_str());
            }
        }
    }
    out
}

/// A `Cookie` header without koogate's own cookies; the header itself when
/// it holds none of them. Read as bytes: the app's own cookies may carry
/// UTF-8 (browsers send what a page set, byte for byte), and they go on
/// as they came.
fn without_koogate_cookies(cookie: &[u8]) -> Cow<'_, [u8]> {
    let koogate_s = |pair: &[u8]| {
        let name = pair.trim_ascii_start();
        name.starts_with(b"koogate_") || name.starts_with(b"__Host-koogate_")
    };
    if !cookie_pairs(cookie).any(koogate_s) {
        return Cow::Borrowed(cookie);
    }
    // Allocated only when something is kept: often only koogate's
    // session cookie was sent.
    let mut kept = Vec::new();
    // Empty pairs (a stray `;`) carry nothing and are left out too.
    let others = cookie_pairs(cookie).filter(|pair| !koogate_s(pair)).map(<[u8]>::trim_ascii);
    for pair in others.filter(|pair| !pair.is_empty()) {
        if kept.is_empty() {
            kept.reserve_exact(cookie.len());
        } else {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(pair);
    }
    Cow::Owned(kept)
}

/// The value of the cookie `name` in a `Cookie` header, read in place:
/// the gate asks for one cookie on every request and needs none of the
/// others parsed. Only that value must be visible ASCII (koogate's own
/// cookies are); the others are not looked at.
fn cookie_value<'h>(cookie: &'h [u8], name: &str) -> Option<&'h str> {
    let value = cookie_pairs(cookie)
        .find_map(|pair| pair.trim_ascii().strip_prefix(name.as_bytes())?.strip_prefix(b"="))?;
    visible(value)
}

/// The `name=value` pairs of a `Cookie` header, untrimmed. Each is found
/// by `memchr` (many bytes compared at once): the header is read up to
/// three times on every proxied request, and a browser's is long.
fn cookie_pairs(cookie: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(cookie);
    std::iter::from_fn(move || {
        let now = rest?;
        match memchr::memchr(b';', now) {
            Some(at) => {
                let (pair, after) = now.split_at(at);
                rest = after.get(1..);
                Some(pair)
            }
            None => {
                rest = None;
                Some(now)
            }
        }
    })
}

/// Whether a header of the app's answer goes on to the client: not one
/// about the connection between koogate and the app.
pub fn relayed(name: &str) -> bool {
    !hop_by_hop(name)
}

/// Leaves out of the app's answer the headers that are not relayed (the
/// few it has are looked over once; most answers have none to remove).
pub fn keep_relayed(answer: &mut HeaderMap) {
    let unrelayed: Vec<HeaderName> =
        answer.keys().filter(|name| !relayed(name.as_str())).cloned().collect();
    for name in unrelayed {
        answer.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Host` of the app the tests forward to.
    fn app() -> HeaderValue {
        HeaderValue::from_static("app.internal:8080")
    }

    #[test]
    fn koogate_cookies_stay_behind_and_the_others_go_on() {
        assert_eq!(
            &*without_koogate_cookies(b"a=1; koogate_session=s; __Host-koogate_session=t; b=2"),
            b"a=1; b=2"
        );
        assert!(matches!(without_koogate_cookies(b"a=1;b=2"), Cow::Borrowed(b"a=1;b=2")));
        let pairs: Vec<&[u8]> = cookie_pairs(b"a=1; b=2;").collect();
        assert_eq!(pairs, [&b"a=1"[..], b" b=2", b""]);
        assert_eq!(cookie_pairs(b"").collect::<Vec<_>>(), [&b""[..]]);
        assert_eq!(&*without_koogate_cookies(b";koogate_session=s;a=1;"), b"a=1");
        assert_eq!(&*without_koogate_cookies(b"koogate_session=s"), b"");
        // A cookie named like it, or the name with a space, is not it.
        assert_eq!(
            cookie_value(b"koogate_sessions=x; koogate_session=y", "koogate_session"),
            Some("y")
        );
        assert_eq!(cookie_value(b"koogate_session =x", "koogate_session"), None);
        assert_eq!(
            cookie_value("city=北京;koogate_session=z ".as_bytes(), "koogate_session"),
            Some("z")
        );
        assert_eq!(cookie_value("koogate_session=北京".as_bytes(), "koogate_session"), None);
        let mut client = HeaderMap::new();
        client.append("cookie", HeaderValue::from_static("a=1; koogate_session=abc"));
        assert_eq!(glance(&client, "koogate_session").session, Some("abc"));
        assert_eq!(glance(&client, "b").session, None);
    }

    #[test]
    fn visible_text_is_printable_ascii_and_tabs() {
        for byte in 0..=u8::MAX {
            let printable = (b' '..=b'~').contains(&byte) || byte == b'\t';
            assert_eq!(visible(&[b'a', byte, b'z']).is_some(), printable, "{byte:#x}");
        }
        assert_eq!(visible(b"gate.example.com:8080"), Some("gate.example.com:8080"));
        assert_eq!(visible("北京".as_bytes()), None);
        assert_eq!(visible(b""), Some(""));
    }

    #[test]
    fn a_browser_s_own_headers_go_on_under_their_own_names() {
        let names = [
            "sec-ch-ua",
            "sec-ch-ua-mobile",
            "sec-ch-ua-platform",
            "sec-fetch-site",
            "sec-fetch-mode",
            "sec-fetch-user",
            "sec-fetch-dest",
            "priority",
            "x-requested-with",
            "x-app-trace",
        ];
        let mut client = HeaderMap::new();
        for name in names {
            let value = HeaderValue::try_from(format!("{name} value")).expect("a value");
            client.append(HeaderName::from_bytes(name.as_bytes()).expect("a name"), value);
        }
        let told = Told::from_pairs(Vec::new());
        let out = for_app(&client, None, None, &TrustedProxies::default(), &told, &app(), None);
        for name in names {
            let sent: Vec<&[u8]> = out.get_all(name).iter().map(|v| v.as_bytes()).collect();
            assert_eq!(sent, [format!("{name} value").as_bytes()], "{name}");
        }
    }

    #[test]
    fn the_app_s_own_cookies_go_on_in_every_cookie_header_without_koogate_s() {
        let mut client = HeaderMap::new();
        client.append("cookie", HeaderValue::from_static("a=1; koogate_session=s"));
        client.append("cookie", HeaderValue::from_static("__Host-koogate_csrf=t"));
        client.append("cookie", HeaderValue::from_static("b=2"));
        let told = Told::from_pairs(Vec::new());
        let out = for_app(&client, None, None, &TrustedProxies::default(), &told, &app(), None);
        let sent: Vec<&[u8]> = out.get_all("cookie").iter().map(|v| v.as_bytes()).collect();
        assert_eq!(sent, [&b"a=1"[..], b"b=2"]);
    }

    #[test]
    fn a_body_is_announced_by_its_length_or_chunking() {
        let body = |client: &HeaderMap| glance(client, "koogate_session").body;
        let mut client = HeaderMap::new();
        assert!(!body(&client));
        client.insert("content-length", HeaderValue::from_static("0"));
        assert!(!body(&client));
        client.insert("content-length", HeaderValue::from_static("12"));
        assert!(body(&client));
        client.remove("content-length");
        client.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        assert!(body(&client));
    }

    #[test]
    fn the_app_gets_the_client_s_headers_but_not_its_connection_s() {
        let mut client = HeaderMap::new();
        for (name, value) in [
            ("host", "gate.example.com"),
            ("connection", "keep-alive, x-trace, host, x-koogate-user"),
            ("x-trace", "1"),
            ("accept", "text/html"),
            ("x-koogate-user", "mallory"),
            ("cookie", "koogate_session=s"),
        ] {
            client.append(name, HeaderValue::from_static(value));
        }
        let told = Told::from_pairs(vec![(
            HeaderName::from_static("x-koogate-user"),
            HeaderValue::from_static("alice"),
        )]);
        let host = glance(&client, "koogate_session").host;
        assert_eq!(host, Some("gate.example.com"));
        let out = for_app(&client, None, host, &TrustedProxies::default(), &told, &app(), None);
        assert_eq!(out.get("accept").map(|v| v.as_bytes()), Some(&b"text/html"[..]));
        assert_eq!(out.get_all("x-koogate-user").iter().count(), 1);
        assert_eq!(out.get("x-koogate-user").map(|v| v.as_bytes()), Some(&b"alice"[..]));
        assert_eq!(
            out.get("x-forwarded-host").map(|v| v.as_bytes()),
            Some(&b"gate.example.com"[..])
        );
        let hosts: Vec<&[u8]> = out.get_all("host").iter().map(|v| v.as_bytes()).collect();
        assert_eq!(hosts, [&b"app.internal:8080"[..]], "the app's own Host, once");
        for gone in ["connection", "x-trace", "cookie"] {
            assert!(!out.contains_key(gone), "{gone}");
        }
    }
}
