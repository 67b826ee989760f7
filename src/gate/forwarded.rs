//! What the gate tells the app about the connection (`X-Forwarded-For`,
//! `-Proto`, `-Host`), and which client headers it never passes on.
//!
//! # Security
//! The app trusts `X-Koogate-*` as koogate's word, so any client header
//! that a server could read as one (any case, `_` for `-`: oauth2-proxy's
//! CVE-2025-64484) is dropped. Forwarding headers are believed only from
//! `server.trusted_proxies`; from anyone else koogate states what it saw.

use std::net::IpAddr;

use hyper::header::{HeaderMap as OutHeaders, HeaderName, HeaderValue};
use serde::{Deserialize, Deserializer};

use crate::gate::outgoing::ClientHeaders;

/// `server.trusted_proxies`: addresses and CIDR ranges, comma-separated.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// `"10.0.0.0/8, 127.0.0.1, ::1"`; an empty text trusts nobody.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut ranges = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (address, bits) = match entry.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (entry, None),
            };
            let bad = || format!("server.trusted_proxies: {entry:?} is not an address or range");
            let address: IpAddr = address.parse().map_err(|_| bad())?;
            let width = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => bits.parse::<u8>().ok().filter(|b| *b <= width).ok_or_else(bad)?,
                None => width,
            };
            ranges.push((address, bits));
        }
        Ok(TrustedProxies(ranges))
    }

    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|(range, bits)| within(peer, *range, *bits))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TrustedProxies::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn within(peer: IpAddr, range: IpAddr, bits: u8) -> bool {
    let (peer, range, width) = match (peer, range) {
        (IpAddr::V4(p), IpAddr::V4(r)) => (u128::from(p.to_bits()), u128::from(r.to_bits()), 32),
        (IpAddr::V6(p), IpAddr::V6(r)) => (p.to_bits(), r.to_bits(), 128),
        _ => return false,
    };
    let shift = u32::from(width - bits);
    if shift >= 128 {
        return true;
    }
    peer >> shift == range >> shift
}

/// A client header the gate never forwards: one that reads as koogate's
/// own (`X-Koogate-*`), or as a forwarding header (koogate sets those).
/// Runs for every header of every proxied request, so it compares in
/// place (`_` read as `-`) rather than building a normalised copy.
pub fn is_reserved(lowercase_name: &str) -> bool {
    const PREFIX: &[u8] = b"x-koogate-";
    const FORWARDING: [&[u8]; 4] =
        [b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"];
    let name = lowercase_name.as_bytes();
    name.get(..PREFIX.len()).is_some_and(|start| reads_as(start, PREFIX))
        || FORWARDING.iter().any(|wanted| reads_as(name, wanted))
}

/// `name` equals `wanted` when each `_` in it is read as `-`.
fn reads_as(name: &[u8], wanted: &[u8]) -> bool {
    name.len() == wanted.len()
        && name.iter().zip(wanted).all(|(n, w)| if *n == b'_' { *w == b'-' } else { n == w })
}

/// The client's address: the connection's peer, or, when the peer is a
/// trusted proxy, the address that proxy says it received the request
/// from (the last `X-Forwarded-For` entry).
pub fn client_address(
    headers: &impl ClientHeaders,
    peer: Option<IpAddr>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.trusts(peer) {
        return Some(peer.to_canonical());
    }
    let told = headers
        .all("x-forwarded-for")
        .filter_map(crate::gate::outgoing::visible)
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .last()
        .and_then(|v| v.parse::<IpAddr>().ok());
    Some(told.unwrap_or(peer).to_canonical())
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Sets the forwarding headers for the app in `out`: from a trusted proxy
/// its chain is extended and its scheme and host kept; otherwise only what
/// this connection shows (its peer, plain HTTP, and `host`: the `Host`
/// asked for, or the request target's authority). Runs for every proxied
/// request: a client's own forwarding headers are not even read unless
/// its peer is trusted.
pub fn forwarding(
    headers: &impl ClientHeaders,
    peer: Option<IpAddr>,
    host: Option<&str>,
    trusted: &TrustedProxies,
    out: &mut OutHeaders,
) {
    let from_proxy = peer.is_some_and(|p| trusted.trusts(p));
    let told = |name: &str| -> Option<String> {
        if !from_proxy {
            return None;
        }
        let values: Vec<&str> = headers
            .all(name)
            .filter_map(crate::gate::outgoing::visible)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    // The client's own forwarding headers were left out: nothing to replace.
    let mut set = |name: HeaderName, value: Option<HeaderValue>| {
        if let Some(value) = value {
            out.append(name, value);
        }
    };
    let text = |value: &str| HeaderValue::from_str(value).ok();
    let peer_text = peer.map(|p| address_text(p.to_canonical()));
    match (told("x-forwarded-for"), peer_text) {
        (Some(chain), Some(peer)) => set(X_FORWARDED_FOR, text(&format!("{chain}, {peer}"))),
        (Some(only), None) | (None, Some(only)) => set(X_FORWARDED_FOR, text(&only)),
        (None, None) => {}
    }
    let proto = match told("x-forwarded-proto") {
        Some(proto) => text(&proto),
        None => Some(HeaderValue::from_static("http")),
    };
    set(X_FORWARDED_PROTO, proto);
    if let Some(host) = told("x-forwarded-host").as_deref().or(host) {
        set(X_FORWARDED_HOST, text(host));
    }
    if let Some(forwarded) = told("forwarded") {
        set(FORWARDED, text(&forwarded));
    }
}

/// An address as `Display` writes it; IPv4 (nearly every peer) without
/// the formatting machinery, which cost more than the rest of this module
/// on every request.
fn address_text(address: IpAddr) -> String {
    let IpAddr::V4(v4) = address else { return address.to_string() };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_by_prefix() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7, fd00::/8").expect("parses");
        for yes in ["10.1.2.3", "192.168.1.7", "fd12::1", "::ffff:10.0.0.1"] {
            assert!(trusted.trusts(yes.parse().expect("ip")), "{yes}");
        }
        for no in ["11.0.0.1", "192.168.1.8", "fe80::1", "127.0.0.1"] {
            assert!(!trusted.trusts(no.parse().expect("ip")), "{no}");
        }
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .expect("all")
            .trusts("8.8.8.8".parse().expect("ip")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }

    #[test]
    fn koogate_and_forwarding_names_are_reserved_in_any_spelling() {
        for name in
            ["x-koogate-user", "x_koogate_user", "x-koogate_role", "x_forwarded_for", "forwarded"]
        {
            assert!(is_reserved(name), "{name}");
        }
        assert!(!is_reserved("x-koogateway"));
        assert!(!is_reserved("x-koogate"));
        assert!(!is_reserved("x-forwarded-fo"));
        assert!(!is_reserved("accept"));
    }

    #[test]
    fn addresses_read_as_display_writes_them() {
        let mut addresses: Vec<IpAddr> = ["0.0.0.0", "127.0.0.1", "10.20.255.9", "::1", "fd00::7"]
            .iter()
            .map(|a| a.parse().expect("ip"))
            .collect();
        addresses.extend((0..=255u8).map(|n| IpAddr::from([n, 255 - n, n / 10, n % 100])));
        for address in addresses {
            assert_eq!(address_text(address), address.to_string());
        }
    }
}
