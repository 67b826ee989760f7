//! The APIG `SDK-HMAC-SHA256` request signature the marketplace's seller
//! Open API demands (research/open-api-and-apig-signing.md §2), and the
//! usage push's extra `signature`/`ts`/`nonce` headers (§3.1).
//!
//! Pure: no clock, no I/O. The same canonical request serves the client
//! (which signs) and `koogate sim open-api` (which recomputes it from the
//! bytes that arrived), so both follow one reading of the algorithm; the
//! unit tests pin that reading to Huawei's own published example (vector A)
//! and a third-party KooGallery vector (B), not to this code.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// The algorithm name, first on the `Authorization` header and the string to sign.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// `YYYYMMDDTHHMMSSZ`, UTC.
const SDK_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// RFC 3986 unreserved characters stay, every other byte becomes `%XX`
/// upper case (§2.2): space is `%20`, never `+`.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Why a request cannot be signed (or a signature not checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the URL cannot be parsed")]
    BadUrl,
    #[error("the Authorization header is not an SDK-HMAC-SHA256 one")]
    BadAuthorization,
    #[error("X-Sdk-Date is missing or malformed")]
    BadDate,
    #[error("a signed header is missing from the request")]
    MissingSignedHeader,
}

/// What to send: the URL with its query in canonical form (what was
/// signed is what goes on the wire) and every header, the signer's own
/// (`Host`, `X-Sdk-Date`, `Authorization`) included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Signs a request. `headers` are the caller's (e.g. `Content-Type`); a
/// `Host` and an `X-Sdk-Date` are added when absent (`now` gives the date).
/// Every header given is signed, as the APIG SDKs do, so none may be
/// changed by the HTTP client afterwards.
pub fn sign(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    access_key: &str,
    secret_key: &str,
    now: DateTime<Utc>,
) -> Result<Signed, SignError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| SignError::BadUrl)?;
    let host = parsed.host_str().ok_or(SignError::BadUrl)?;
    let authority = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let mut all: Vec<(String, String)> = headers.to_vec();
    if !all.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        all.push(("Host".to_string(), authority));
    }
    if !all.iter().any(|(n, _)| n.eq_ignore_ascii_case("x-sdk-date")) {
        all.push(("X-Sdk-Date".to_string(), now.format(SDK_DATE_FORMAT).to_string()));
    }
    let sdk_date = header(&all, "x-sdk-date").unwrap_or_default().trim().to_string();
    let query = canonical_query(parsed.query().unwrap_or(""));
    let signed_names = signed_header_names(all.iter().map(|(n, _)| n.as_str()));
    let canonical = canonical_request(
        method,
        parsed.path(),
        &query,
        &all,
        &signed_names,
        &payload_hash(&all, body),
    )?;
    let signature = signature(secret_key, &sdk_date, &canonical);
    all.push((
        "Authorization".to_string(),
        format!(
            "{ALGORITHM} Access={access_key}, SignedHeaders={}, Signature={signature}",
            signed_names.join(";")
        ),
    ));
    let mut wire = parsed.clone();
    wire.set_query(if query.is_empty() { None } else { Some(&query) });
    Ok(Signed { url: wire.to_string(), headers: all })
}

/// What an `Authorization: SDK-HMAC-SHA256 …` header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`; an
    /// optional space after each comma, as APIG's own verifier allows.
    pub fn parse(value: &str) -> Result<Authorization, SignError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(SignError::BadAuthorization)?;
        let (mut access, mut signed, mut sig) = (None, None, None);
        for part in rest.split(',') {
            let part = part.strip_prefix(' ').unwrap_or(part);
            let (name, value) = part.split_once('=').ok_or(SignError::BadAuthorization)?;
            match name {
                "Access" => access = Some(value.to_string()),
                "SignedHeaders" => signed = Some(value.to_string()),
                "Signature" => sig = Some(value.to_string()),
                _ => return Err(SignError::BadAuthorization),
            }
        }
        let (Some(access_key), Some(signed), Some(signature)) = (access, signed, sig) else {
            return Err(SignError::BadAuthorization);
        };
        let signed_headers: Vec<String> = signed.split(';').map(str::to_string).collect();
        if !signed_headers.iter().any(|h| h == "x-sdk-date") {
            // Huawei: X-Sdk-Date must take part in the signature.
            return Err(SignError::BadAuthorization);
        }
        Ok(Authorization { access_key, signed_headers, signature })
    }
}

/// The signature a request that arrived should carry, recomputed from its
/// bytes: method, raw path, raw query, its headers (those the
/// `Authorization` header names) and body. The marketplace's gateway does
/// this; so does `koogate sim open-api`.
pub fn expected_signature(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    authorization: &Authorization,
    secret_key: &str,
) -> Result<String, SignError> {
    let sdk_date = header(headers, "x-sdk-date").ok_or(SignError::BadDate)?.trim().to_string();
    let canonical = canonical_request(
        method,
        raw_path,
        &canonical_query(raw_query),
        headers,
        &authorization.signed_headers,
        &payload_hash(headers, body),
    )?;
    Ok(signature(secret_key, &sdk_date, &canonical))
}

/// Reads an `X-Sdk-Date` value.
pub fn parse_sdk_date(value: &str) -> Result<DateTime<Utc>, SignError> {
    NaiveDateTime::parse_from_str(value.trim(), SDK_DATE_FORMAT)
        .map(|t| t.and_utc())
        .map_err(|_| SignError::BadDate)
}

/// The six lines of §2.1 step 3, joined by `\n`.
fn canonical_request(
    method: &str,
    raw_path: &str,
    canonical_query: &str,
    headers: &[(String, String)],
    signed_names: &[String],
    payload_hash: &str,
) -> Result<String, SignError> {
    let mut lines = String::new();
    for name in signed_names {
        let value = header(headers, name).ok_or(SignError::MissingSignedHeader)?;
        lines.push_str(name);
        lines.push(':');
        lines.push_str(value.trim());
        lines.push('\n');
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(raw_path),
        canonical_query,
        lines,
        signed_names.join(";"),
        payload_hash
    ))
}

/// Decoded, split on `/` (so an encoded `%2F` becomes a separator), each
/// segment encoded, always ending in `/`.
fn canonical_uri(raw_path: &str) -> String {
    let decoded = percent_decode_str(raw_path).decode_utf8_lossy();
    let mut uri = decoded
        .split('/')
        .map(|segment| utf8_percent_encode(segment, ENCODE).to_string())
        .collect::<Vec<_>>()
        .join("/");
    if !uri.starts_with('/') {
        uri.insert(0, '/');
    }
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Decoded pairs re-encoded, sorted by key then value; `k=` for an empty value.
fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| {
            (
                utf8_percent_encode(&k, ENCODE).to_string(),
                utf8_percent_encode(&v, ENCODE).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn signed_header_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut lower: Vec<String> = names.map(str::to_ascii_lowercase).collect();
    lower.sort();
    lower.dedup();
    lower
}

/// `X-Sdk-Content-Sha256` when the caller set one, else the body's hash.
fn payload_hash(headers: &[(String, String)], body: &[u8]) -> String {
    match header(headers, "x-sdk-content-sha256") {
        Some(value) => value.trim().to_string(),
        None => hex::encode(Sha256::digest(body)),
    }
}

fn signature(secret_key: &str, sdk_date: &str, canonical: &str) -> String {
    let string_to_sign =
        format!("{ALGORITHM}\n{sdk_date}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    hex::encode(hmac_sha256(secret_key.as_bytes(), string_to_sign.as_bytes()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The usage push's own body signature (§3.1):
/// `base64(HMAC-SHA256(KooGallery key, "ts={ts}&nonce={nonce}&body={body}"))`
/// with `ts` in Unix milliseconds. `body` must be the exact bytes sent.
pub fn usage_body_signature(
    koogallery_key: &str,
    ts_millis: i64,
    nonce: &str,
    body: &str,
) -> String {
    let message = format!("ts={ts_millis}&nonce={nonce}&body={body}");
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(koogallery_key.as_bytes(), message.as_bytes()))
}

/// The three extra headers of a usage push: `signature`, `ts`, `nonce`.
pub fn usage_headers(
    koogallery_key: &str,
    now: DateTime<Utc>,
    nonce: &str,
    body: &str,
) -> Vec<(String, String)> {
    let ts = now.timestamp_millis();
    vec![
        ("signature".to_string(), usage_body_signature(koogallery_key, ts, nonce, body)),
        ("ts".to_string(), ts.to_string()),
        ("nonce".to_string(), nonce.to_string()),
    ]
}

#[cfg(test)]
mod tests;
