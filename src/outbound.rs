//! The one HTTP client for tenants' auth centres (discovery, keys, token,
//! userinfo, whatever dialect): every answer capped in size and time, and
//! no request to an address inside the network koogate runs in.
//!
//! # Security
//! A tenant's `domainName` comes from the marketplace and an OpenID
//! provider's metadata names further URLs; either could point at
//! koogate's own network (SSRF) or answer without end. So:
//! - addresses are checked when the connection is made: a resolver that
//!   drops loopback, private, link-local, CGNAT, unspecified, multicast
//!   and IPv6 ULA addresses (also inside IPv4-mapped and NAT64 forms), so a
//!   name that resolves elsewhere later (DNS rebinding) is checked again;
//!   a literal IP in the URL, which no resolver sees, is checked before
//!   sending. `sso.allow_private_auth_centres` turns this off (tests, sim);
//! - an answer larger than [`MAX_ANSWER_BYTES`] is cut off and refused;
//! - each request, body included, ends within [`TOTAL_TIMEOUT`];
//! - redirects are never followed: an auth centre answers, it does not
//!   send us on.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The largest answer read from an auth centre.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The longest one request (connecting, sending, reading the answer) takes.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why an outbound request gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the auth centre's address is not allowed ({0}); see sso.allow_private_auth_centres")]
    AddressNotAllowed(String),
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("no complete answer within {} s", TOTAL_TIMEOUT.as_secs())]
    TimedOut,
    #[error("the request failed: {0}")]
    Failed(String),
}

/// A whole answer, read within the caps.
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// The client every auth-centre request goes through (see the module).
pub struct AuthCentreHttp {
    client: reqwest::Client,
    allow_private: bool,
}

impl AuthCentreHttp {
    pub fn new(allow_private: bool) -> Result<AuthCentreHttp, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(AuthCentreHttp { client: builder.build()?, allow_private })
    }

    /// A `GET` to shape (headers, bearer) and [`Request::send`].
    pub fn get(&self, url: &str) -> Request<'_> {
        Request { http: self, builder: self.client.get(url) }
    }

    /// A `POST` to shape (form, headers) and [`Request::send`].
    pub fn post(&self, url: &str) -> Request<'_> {
        Request { http: self, builder: self.client.post(url) }
    }

    /// Sends `request` and reads its answer within the caps.
    pub async fn execute(&self, request: reqwest::Request) -> Result<Answer, OutboundError> {
        if !self.allow_private {
            if let Some(ip) = literal_ip(request.url()) {
                if !is_public(ip) {
                    return Err(OutboundError::AddressNotAllowed(ip.to_string()));
                }
            }
        }
        match tokio::time::timeout(TOTAL_TIMEOUT, self.read(request)).await {
            Ok(answer) => answer,
            Err(_) => Err(OutboundError::TimedOut),
        }
    }

    async fn read(&self, request: reqwest::Request) -> Result<Answer, OutboundError> {
        let mut response = self.client.execute(request).await.map_err(failed)?;
        if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            return Err(OutboundError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status: response.status(), headers: response.headers().clone(), body })
    }
}

/// A request being shaped; nothing leaves until [`Request::send`].
pub struct Request<'a> {
    http: &'a AuthCentreHttp,
    builder: reqwest::RequestBuilder,
}

impl Request<'_> {
    pub fn header(self, name: &str, value: &str) -> Self {
        Request { http: self.http, builder: self.builder.header(name, value) }
    }

    pub fn bearer_auth(self, token: &str) -> Self {
        Request { http: self.http, builder: self.builder.bearer_auth(token) }
    }

    pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> Self {
        Request { http: self.http, builder: self.builder.query(query) }
    }

    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        Request { http: self.http, builder: self.builder.form(form) }
    }

    pub async fn send(self) -> Result<Answer, OutboundError> {
        let request = self.builder.build().map_err(failed)?;
        self.http.execute(request).await
    }
}

/// The crates' error text without the URL (it may carry a code or token).
fn failed(err: reqwest::Error) -> OutboundError {
    if is_not_allowed(&err) {
        return OutboundError::AddressNotAllowed("the name resolves only to such addresses".into());
    }
    if err.is_timeout() {
        return OutboundError::TimedOut;
    }
    OutboundError::Failed(err.without_url().to_string())
}

fn is_not_allowed(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.is::<NotPublic>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The oauth2 and openidconnect crates send their requests through here.
impl<'c> oauth2::AsyncHttpClient<'c> for AuthCentreHttp {
    type Error = oauth2::HttpClientError<OutboundError>;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| Box::new(OutboundError::Failed(e.without_url().to_string())))?;
            let answer = self.execute(request).await.map_err(Box::new)?;
            let mut builder = oauth2::http::Response::builder().status(answer.status);
            for (name, value) in &answer.headers {
                builder = builder.header(name, value);
            }
            builder.body(answer.body).map_err(oauth2::HttpClientError::Http)
        })
    }
}

/// The host of `url` when it is an IP address rather than a name.
fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Resolves names as the system does, keeping only public addresses.
struct PublicOnly;

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to no public address")]
struct NotPublic(String);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(NotPublic(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Whether an auth centre may live at `ip` without
/// `sso.allow_private_auth_centres`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    let ietf = a == 192 && b == 0 && ip.octets()[2] == 0;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    let reserved = a >= 240;
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || cgnat
        || this_network
        || ietf
        || benchmarking
        || reserved)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    let unique_local = segments[0] & 0xfe00 == 0xfc00;
    let link_local = segments[0] & 0xffc0 == 0xfe80;
    // The deprecated IPv4-compatible form (::a.b.c.d) and site-local.
    let compatible = segments[..6] == [0; 6];
    let site_local = segments[0] & 0xffc0 == 0xfec0;
    let documentation = segments[0] == 0x2001 && segments[1] == 0x0db8;
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || compatible
        || site_local
        || documentation)
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn inside_addresses_are_refused_and_public_ones_kept() {
        let inside = [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.254",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "ff02::1",
        ];
        for ip in inside {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
        let public = [
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ];
        for ip in public {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }
}
