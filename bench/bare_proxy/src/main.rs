//! `bare_proxy LISTEN UPSTREAM`: forwards every request to UPSTREAM over
//! kept-alive HTTP/1.1 connections, and does nothing else (no session, no
//! header rewriting beyond `Host`). Shaped like koogate's gate: one
//! single-threaded runtime per core, each with its own listener
//! (SO_REUSEPORT) and its own list of connections to the upstream.

use std::cell::RefCell;
use std::error::Error;
use std::net::SocketAddr;
use std::rc::Rc;

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

type Pool = Rc<RefCell<Vec<SendRequest<Incoming>>>>;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args.next().ok_or("LISTEN missing")?.parse()?;
    let upstream: SocketAddr = args.next().ok_or("UPSTREAM missing")?.parse()?;
    let cores = std::thread::available_parallelism()?.get();
    let threads: Vec<_> =
        (0..cores).map(|_| std::thread::spawn(move || serve(listen, upstream))).collect();
    for thread in threads {
        thread.join().map_err(|_| "a worker panicked")?.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn serve(listen: SocketAddr, upstream: SocketAddr) -> Result<(), Box<dyn Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&listen.into())?;
        socket.listen(1024)?;
        let listener = tokio::net::TcpListener::from_std(socket.into())?;
        let host = HeaderValue::from_str(&upstream.to_string())?;
        let pool: Pool = Rc::new(RefCell::new(Vec::new()));
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let (pool, host) = (pool.clone(), host.clone());
            tokio::task::spawn_local(async move {
                let service = hyper::service::service_fn(move |request| {
                    forward(pool.clone(), upstream, host.clone(), request)
                });
                let connection = TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(connection, service)
                    .await;
            });
        }
    })
}

async fn forward(
    pool: Pool,
    upstream: SocketAddr,
    host: HeaderValue,
    mut request: Request<Incoming>,
) -> Result<Response<Incoming>, Box<dyn Error + Send + Sync>> {
    let mut sender = loop {
        let kept = pool.borrow_mut().pop();
        match kept {
            // Waits for the connection to finish its previous answer.
            Some(mut sender) => {
                if sender.ready().await.is_ok() {
                    break sender;
                }
            }
            None => {
                let stream = tokio::net::TcpStream::connect(upstream).await?;
                stream.set_nodelay(true)?;
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::task::spawn_local(connection);
                break sender;
            }
        }
    };
    request.headers_mut().insert(HOST, host);
    let response = sender.send_request(request).await?;
    // Back at once: the next request waits on `ready` above until this
    // answer's body is through (bodies here are a few bytes).
    pool.borrow_mut().push(sender);
    Ok(response)
}
