//! Requests the front does not answer go to koogate's own server (all of
//! its routes and middleware, actix-web) on the same worker, over an
//! in-memory connection opened for the client's connection and kept with
//! it. The own server learns the client's address from the front, so
//! everything it does with an address (trusted proxies, forwarding, the
//! sign-in and refusal records) sees the client, not the front.

use std::net::SocketAddr;
use std::rc::Rc;

use actix_service::boxed::{BoxService, BoxServiceFactory};
use actix_service::{Service, ServiceFactory};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;

/// Makes a worker's own server for connections of type `T`, given with
/// the client's address.
pub type Own<T> = BoxServiceFactory<(), (T, Option<SocketAddr>), (), (), ()>;

/// What the own server is given here: one in-memory connection and the
/// client's address.
type Accepted = (DuplexStream, Option<SocketAddr>);

/// How much either side of an in-memory connection holds unread.
const BUFFER: usize = 64 * 1024;

/// A worker's own server.
pub struct Koogate(Rc<BoxService<Accepted, (), ()>>);

/// One client connection's connection to the own server.
pub struct Link(SendRequest<Incoming>);

impl Koogate {
    pub async fn start(own: Own<DuplexStream>) -> Result<Koogate, ()> {
        Ok(Koogate(Rc::new(own.new_service(()).await?)))
    }

    /// Sends `request` from the client at `peer` on `link`, or on a new
    /// connection when there is none or the own server closed it; gives
    /// back the answer and the connection to keep.
    pub async fn send(
        &self,
        link: Option<Link>,
        peer: Option<SocketAddr>,
        mut request: Request<Incoming>,
    ) -> Result<(Response<Incoming>, Link), hyper::Error> {
        if let Some(Link(mut sender)) = link {
            if sender.ready().await.is_ok() {
                match sender.try_send_request(request).await {
                    Ok(response) => return Ok((response, Link(sender))),
                    // Closed just as it was taken: the request was not
                    // written, so it goes on a new connection.
                    Err(mut failed) => match failed.take_message() {
                        Some(unsent) => request = unsent,
                        None => return Err(failed.into_error()),
                    },
                }
            }
        }
        let (near, far) = tokio::io::duplex(BUFFER);
        let own = self.0.clone();
        actix_rt::spawn(async move {
            let _ = own.call((far, peer)).await;
        });
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            // The own server's header names go on to the client as it
            // wrote them: the marketplace's checker reads `Body-Sign` in
            // that case.
            .preserve_header_case(true)
            .handshake(TokioIo::new(near))
            .await?;
        actix_rt::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "a connection to koogate's own server ended");
            }
        });
        let response = sender.send_request(request).await?;
        Ok((response, Link(sender)))
    }
}
