//! The vendor's app as the gate reaches it: `upstream.url` parsed once,
//! and a pooled HTTP/1.1 client (hyper, rustls for `https`) per worker.
//! A forwarded request costs one copy of its path and query; the scheme,
//! authority and `Host` are built at start and shared.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::web::{self, Bytes};
use futures_util::StreamExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::{Method, Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

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

/// The client for the vendor's app, one per worker thread: a client's
/// connections are driven by the runtime that opened them, so one client
/// shared by actix's single-threaded workers would pass every response
/// from thread to thread. Keep-alive connections idle for a minute at
/// most; no overall timeout (bodies stream); redirects are never followed
/// (they are the browser's).
pub struct WorkerClient {
    client: Client<Connector, Upload>,
    upstream: Upstream,
}

impl WorkerClient {
    pub fn new(connector: Connector, upstream_url: &str) -> WorkerClient {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_timer(TokioTimer::new())
            .build(connector);
        WorkerClient { client, upstream: Upstream::parse(upstream_url) }
    }

    /// Whether `upstream.url` is set at all.
    pub fn is_set(&self) -> bool {
        !matches!(self.upstream, Upstream::Unset)
    }

    /// A request to the app for `path_and_query` (as the client sent it,
    /// below the app's own path) with `headers` and the app's `Host`;
    /// `None` when `upstream.url` is not usable.
    pub fn request(
        &self,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        body: Upload,
    ) -> Option<Request<Upload>> {
        let Upstream::At(target) = &self.upstream else { return None };
        let uri = target.uri(path_and_query)?;
        headers.insert(hyper::header::HOST, target.host.clone());
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Some(request)
    }

    /// Sends `request` on a pooled connection.
    pub async fn send(
        &self,
        request: Request<Upload>,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        self.client.request(request).await
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
    scheme: Scheme,
    /// Host and port, without any user information.
    authority: Authority,
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
        Some(Target {
            scheme,
            authority: Authority::try_from(authority).ok()?,
            host: HeaderValue::try_from(host_header).ok()?,
            prefix: uri.path().trim_end_matches('/').to_string(),
        })
    }

    /// The app's address for `path_and_query`.
    fn uri(&self, path_and_query: &str) -> Option<Uri> {
        let path_and_query = if self.prefix.is_empty() {
            PathAndQuery::try_from(path_and_query)
        } else {
            PathAndQuery::try_from(format!("{}{path_and_query}", self.prefix))
        };
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query.ok()?)
            .build()
            .ok()
    }
}

/// A forwarded request's body: nothing, or the client's body chunk by
/// chunk as the worker reads it (see [`Upload::streamed`]).
pub struct Upload(Option<tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>>);

impl Upload {
    /// No body.
    pub fn empty() -> Upload {
        Upload(None)
    }

    /// The client's body, without buffering it: the actix payload is read
    /// on this worker and handed over a channel to the connection's task
    /// (which may run elsewhere and needs a `Send` body).
    pub fn streamed(mut payload: web::Payload) -> Upload {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
        actix_web::rt::spawn(async move {
            while let Some(chunk) = payload.next().await {
                let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
                let failed = item.is_err();
                if sender.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        Upload(Some(receiver))
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
            Some(receiver) => receiver.poll_recv(cx).map(|item| item.map(|r| r.map(Frame::data))),
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
        let app = target("http://127.0.0.1:8081");
        assert_eq!(
            app.uri("/a/b?c=d").map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:8081/a/b?c=d")
        );
        assert_eq!(app.host, "127.0.0.1:8081");
        let mounted = target("https://app.example.com:443/saas/");
        assert_eq!(mounted.host, "app.example.com", "the default port is not named");
        assert_eq!(
            mounted.uri("/x?y").map(|u| u.to_string()).as_deref(),
            Some("https://app.example.com:443/saas/x?y")
        );
        let named = target("http://user:secret@[::1]:9000");
        assert_eq!(named.host, "[::1]:9000", "no user information travels");
        for unusable in ["ftp://example.com", "not a url", "/relative", "http://"] {
            assert!(matches!(Upstream::parse(unusable), Upstream::Unusable), "{unusable}");
        }
        assert!(matches!(Upstream::parse(""), Upstream::Unset));
    }
}
