//! The vendor's app as the gate reaches it: `upstream.url` parsed once,
//! and HTTP/1.1 connections (rustls for `https`) opened and kept by each
//! worker (see [`super::pool`]). A forwarded request costs one copy of its
//! path and query; the address and `Host` are built at start and shared.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::web::{self, Bytes};
use futures_util::Stream;
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::http::uri::PathAndQuery;
use hyper::{Method, Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use crate::gate::pool::{Pool, Returning};

/// Connects to the app, in TLS when its URL is `https` (Mozilla's roots,
/// as every other outbound client of koogate). Built once; each worker's
/// client shares it.
pub type Connector = HttpsConnector<HttpConnector>;

/// The connector for the vendor's app: 3 s to connect, Nagle off (an
/// answer is not held back waiting for the next write).
pub fn connector() -> Result<Connector, rustls::Error> {
    let mut http = HttpConnector::new();
    // `https` URLs reach this connector through the TLS layer.
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(3)));
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// The client for the vendor's app, one per worker thread: a connection
/// is driven by a task on the worker that opened it, so an answer never
/// passes from thread to thread. Kept-alive connections idle for a minute
/// at most; no overall timeout (bodies stream); redirects are never
/// followed (they are the browser's).
pub struct WorkerClient {
    connector: Connector,
    upstream: Upstream,
    pool: Pool,
}

/// Why the app gave no answer.
#[derive(Debug)]
pub enum Failed {
    /// No connection could be opened (refused, timed out, TLS failed).
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The connection failed before the answer's head arrived.
    Exchange(hyper::Error),
}

impl WorkerClient {
    pub fn new(connector: Connector, upstream_url: &str) -> WorkerClient {
        WorkerClient { connector, upstream: Upstream::parse(upstream_url), pool: Pool::new() }
    }

    /// Whether `upstream.url` is set at all.
    pub fn is_set(&self) -> bool {
        !matches!(self.upstream, Upstream::Unset)
    }

    /// The `Host` the app is asked for: its host, and its port unless it
    /// is the scheme's default. Empty when `upstream.url` is not usable
    /// (nothing is sent then, see [`WorkerClient::request`]).
    pub fn app_host(&self) -> &HeaderValue {
        static NONE: HeaderValue = HeaderValue::from_static("");
        match &self.upstream {
            Upstream::At(target) => &target.host,
            _ => &NONE,
        }
    }

    /// A request to the app for `path_and_query` (as the client sent it,
    /// below the app's own path) with `headers`, which carry the app's
    /// `Host` ([`WorkerClient::app_host`], see `outgoing::for_app`);
    /// `None` when `upstream.url` is not usable.
    pub fn request(
        &self,
        method: Method,
        path_and_query: &PathAndQuery,
        headers: HeaderMap,
        body: Upload,
    ) -> Option<Request<Upload>> {
        let Upstream::At(target) = &self.upstream else { return None };
        let uri = target.uri(path_and_query)?;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Some(request)
    }

    /// Sends `request` on a kept-alive connection, or a new one.
    pub async fn send(&self, mut request: Request<Upload>) -> Result<Response<Returning>, Failed> {
        // The app may close a kept-alive connection just as it is taken; a
        // request not yet written then goes on the next one.
        while let Some(mut sender) = self.pool.checkout() {
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.pool.answered(response, sender)),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(Failed::Exchange(failed.into_error())),
                },
            }
        }
        // Boxed: opening a connection (TLS and all) is a large future, and
        // the common case above should not carry it on every request.
        let mut sender = Box::pin(self.connect()).await?;
        let response = sender.send_request(request).await.map_err(Failed::Exchange)?;
        Ok(self.pool.answered(response, sender))
    }

    /// A new connection to the app, driven by a task on this worker.
    async fn connect(&self) -> Result<SendRequest<Upload>, Failed> {
        let Upstream::At(target) = &self.upstream else {
            return Err(Failed::Connect("upstream.url is not usable".into()));
        };
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx)).await.map_err(Failed::Connect)?;
        let stream = connector.call(target.address.clone()).await.map_err(Failed::Connect)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(stream).await.map_err(Failed::Exchange)?;
        actix_web::rt::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "a connection to the app ended");
            }
        });
        self.pool.start_sweeping();
        Ok(sender)
    }
}

/// `upstream.url`, parsed once per worker.
enum Upstream {
    /// No vendor app.
    Unset,
    /// Not an `http` or `https` URL: every forward is a bad gateway.
    Unusable,
    At(Target),
}

/// Where the app listens.
struct Target {
    /// Scheme, host and port, without any user information: where to
    /// connect.
    address: Uri,
    /// The `Host` header: the host, and the port unless it is the scheme's
    /// default (as browsers send it).
    host: HeaderValue,
    /// The path the app is mounted under, without a trailing `/`.
    prefix: String,
}

impl Upstream {
    fn parse(text: &str) -> Upstream {
        let text = text.trim();
        if text.is_empty() {
            return Upstream::Unset;
        }
        Target::parse(text).map_or(Upstream::Unusable, Upstream::At)
    }
}

impl Target {
    fn parse(text: &str) -> Option<Target> {
        let uri: Uri = text.parse().ok()?;
        let scheme = uri.scheme()?.clone();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = uri.host().filter(|h| !h.is_empty())?;
        let port = uri.port_u16();
        let authority = match port {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let host_header = match port.filter(|p| *p != default_port) {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let address =
            Uri::builder().scheme(scheme).authority(authority).path_and_query("/").build().ok()?;
        Some(Target {
            address,
            host: HeaderValue::try_from(host_header).ok()?,
            prefix: uri.path().trim_end_matches('/').to_string(),
        })
    }

    /// The request target for `path_and_query` on the app, in origin form
    /// (`/path?query`, as HTTP/1.1 sends it to a server). An app at the
    /// root gets the client's own, which shares the bytes read.
    fn uri(&self, path_and_query: &PathAndQuery) -> Option<Uri> {
        if self.prefix.is_empty() {
            return Some(Uri::from(path_and_query.clone()));
        }
        let below = PathAndQuery::try_from(format!("{}{path_and_query}", self.prefix));
        Some(Uri::from(below.ok()?))
    }
}

/// A forwarded request's body: nothing, or the client's body chunk by
/// chunk as the worker reads it, never buffered whole (the connection's
/// task runs on the same worker, so it reads the client's payload itself).
pub struct Upload(Option<web::Payload>);

impl Upload {
    /// No body.
    pub fn empty() -> Upload {
        Upload(None)
    }

    /// The client's body.
    pub fn streamed(payload: web::Payload) -> Upload {
        Upload(Some(payload))
    }
}

impl Body for Upload {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match &mut self.0 {
            None => Poll::Ready(None),
            Some(payload) => Pin::new(payload).poll_next(cx).map(|chunk| {
                chunk.map(|c| c.map(Frame::data).map_err(|e| std::io::Error::other(e.to_string())))
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.0 {
            None => SizeHint::with_exact(0),
            Some(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        match Upstream::parse(url) {
            Upstream::At(target) => target,
            _ => panic!("{url} is usable"),
        }
    }

    #[test]
    fn the_app_s_address_is_built_from_its_parts() {
        let sent = |text: &'static str| PathAndQuery::from_static(text);
        let app = target("http://127.0.0.1:8081");
        assert_eq!(app.address.to_string(), "http://127.0.0.1:8081/");
        assert_eq!(app.uri(&sent("/a/b?c=d")).map(|u| u.to_string()).as_deref(), Some("/a/b?c=d"));
        assert_eq!(app.host, "127.0.0.1:8081");
        let mounted = target("https://app.example.com:443/saas/");
        assert_eq!(mounted.address.to_string(), "https://app.example.com:443/");
        assert_eq!(mounted.host, "app.example.com", "the default port is not named");
        assert_eq!(mounted.uri(&sent("/x?y")).map(|u| u.to_string()).as_deref(), Some("/saas/x?y"));
        let named = target("http://user:secret@[::1]:9000");
        assert_eq!(named.address.to_string(), "http://[::1]:9000/", "no user information");
        assert_eq!(named.host, "[::1]:9000", "no user information travels");
        for unusable in ["ftp://example.com", "not a url", "/relative", "http://"] {
            assert!(matches!(Upstream::parse(unusable), Upstream::Unusable), "{unusable}");
        }
        assert!(matches!(Upstream::parse(""), Upstream::Unset));
    }
}
