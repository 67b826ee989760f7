//! The front: koogate's listener. Every connection is served by hyper's
//! HTTP/1.1 server on the worker that accepted it. A request for the
//! vendor's app from a signed-in browser, without a body, is forwarded
//! right here ([`gate`]); every other request is handed to koogate's own
//! server, actix-web with all of koogate's routes and middleware, over an
//! in-memory connection on the same worker ([`hand_off`]).
//!
//! A connection that opens with a request only programs make (the
//! marketplace's calls, the read API, health checks and scrapes, see
//! [`own_paths::is_for_programs`]) carries no browser's traffic: it is
//! given whole to koogate's own server, with no hand-off on the way.
//!
//! Why two servers: the gate's common case is most of the traffic a
//! vendor's users make, and actix-web's request path cost the gate a
//! fifth of its throughput against nginx (`bench/gate.sh`), where hyper's
//! server keeps up with nginx. Everything else (the marketplace, sign-in,
//! the admin site, refusals and sign-in redirects) stays in one place,
//! written once, as before.
//!
//! [`own_paths::is_for_programs`]: crate::own_paths::is_for_programs

mod answer;
mod deadline;
mod gate;
mod hand_off;
mod stop;

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_server::Server;
use actix_service::boxed::BoxService;
use actix_service::{Service, ServiceFactory};
use actix_web::web;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

pub use answer::Answer;
use deadline::{Answered, HeadDeadline};
pub use hand_off::Own;
pub use stop::Stop;

/// A worker's two own servers: one for what the front hands it, one for
/// whole connections.
pub struct OwnServers {
    pub linked: Own<tokio::io::DuplexStream>,
    pub direct: Own<actix_rt::net::TcpStream>,
}

/// What a worker's front and its own servers share: its client for the
/// app, its memory of callers, its view of the stop. Each worker has its
/// own: its connections run on its thread only.
#[derive(Clone)]
pub struct WorkerShared {
    pub client: web::Data<WorkerClient>,
    pub callers: web::Data<GateCache>,
    pub stop: Stop,
}

use crate::gate::cache::GateCache;
use crate::gate::start::LastStart;
use crate::gate::upstream::WorkerClient;
use crate::state::AppState;

/// How long a client has to send a request's head, and how long an idle
/// kept-alive connection stays open (as actix-web's defaults were).
pub const HEAD_WITHIN: Duration = Duration::from_secs(5);

/// The largest request head a connection may hold.
const HEAD_AT_MOST: usize = 64 * 1024;

/// Serves `listener`: one front per worker, `own` making each worker's
/// koogate servers (given what they share with the front). `stopping` turning true
/// closes idle connections and lets answers in flight finish.
pub fn server<F>(
    listener: std::net::TcpListener,
    state: web::Data<AppState>,
    own: F,
    stopping: watch::Receiver<bool>,
) -> std::io::Result<Server>
where
    F: Fn(&WorkerShared) -> OwnServers + Send + Clone + 'static,
{
    Server::build()
        .shutdown_timeout(10)
        // The process stops on its own signals (`startup`), which first
        // tell every connection to finish.
        .disable_signals()
        .listen("koogate", listener, move || {
            let (state, own, stopping) = (state.clone(), own.clone(), stopping.clone());
            actix_service::fn_factory(move || {
                let client = web::Data::new(WorkerClient::new(
                    state.upstream_connector.clone(),
                    &state.settings.upstream.url,
                ));
                let (state, own, stopping) = (state.clone(), own.clone(), stopping.clone());
                // On the worker's thread, where its connections will run.
                async move {
                    let stop = Stop::follow(stopping);
                    let callers = web::Data::new(GateCache::default());
                    let shared = WorkerShared { client, callers, stop };
                    let own = own(&shared);
                    let direct = own.direct.new_service(()).await?;
                    let own = hand_off::Koogate::start(own.linked).await?;
                    let worker = Rc::new(Worker { state, shared, own, direct });
                    Ok::<_, ()>(actix_service::fn_service(move |stream| {
                        let worker = worker.clone();
                        async move {
                            worker.serve(stream).await;
                            Ok::<_, Infallible>(())
                        }
                    }))
                }
            })
        })
        .map(|builder| builder.run())
}

/// What one worker thread serves with.
struct Worker {
    state: web::Data<AppState>,
    shared: WorkerShared,
    own: hand_off::Koogate,
    direct: BoxService<(actix_rt::net::TcpStream, Option<SocketAddr>), (), ()>,
}

/// One client connection.
struct Connection {
    worker: Rc<Worker>,
    peer: Option<SocketAddr>,
    /// The in-memory connection to koogate's own server, opened with the
    /// first request that needs it.
    own: RefCell<Option<hand_off::Link>>,
    deadline: Rc<HeadDeadline>,
    /// What the app was told with the last request forwarded.
    last_start: LastStart,
}

impl Worker {
    async fn serve(self: Rc<Self>, stream: actix_rt::net::TcpStream) {
        let deadline = Rc::new(HeadDeadline::from(Instant::now()));
        let peer = stream.peer_addr().ok();
        let _ = stream.set_nodelay(true);
        match self.opens_for_programs(&stream).await {
            // Nothing within the time a request head has: closed.
            None => return,
            Some(true) => {
                let _ = self.direct.call((stream, peer)).await;
                return;
            }
            Some(false) => {}
        }
        let stop = self.shared.stop.clone();
        let connection = Rc::new(Connection {
            worker: self,
            peer,
            own: RefCell::new(None),
            deadline: deadline.clone(),
            last_start: LastStart::default(),
        });
        let service = hyper::service::service_fn(move |request| connection.clone().answer(request));
        let served = hyper::server::conn::http1::Builder::new()
            // A request head larger than this is answered 431 (without a
            // limit hyper reads up to 400 KiB of one, which many slow
            // clients could each make it hold).
            .max_header_size(HEAD_AT_MOST)
            // Heads are timed by `deadline`, not by hyper.
            .header_read_timeout(None)
            .serve_connection(TokioIo::new(stream), service);
        let mut served = std::pin::pin!(served);
        tokio::select! {
            _ = served.as_mut() => {}
            // Closed without an answer, as for a head that never ends.
            _ = deadline.passed() => {}
            _ = stop.requested() => {
                served.as_mut().graceful_shutdown();
                let _ = served.await;
            }
        }
    }
}

impl Worker {
    /// Whether the connection's first request, as far as it has arrived,
    /// is one only programs make; `None` when nothing arrives in time.
    /// Looks without reading: whichever server takes the connection reads
    /// it from its start. A request line not yet whole goes to the front,
    /// which serves every request.
    async fn opens_for_programs(&self, stream: &actix_rt::net::TcpStream) -> Option<bool> {
        let mut start = [0u8; 256];
        let seen = tokio::time::timeout(HEAD_WITHIN, stream.peek(&mut start)).await;
        let seen = match seen {
            Ok(Ok(seen)) if seen > 0 => seen,
            // The front answers a broken or closed connection as it does.
            Ok(_) => return Some(false),
            Err(_) => return None,
        };
        let line = start.get(..seen).unwrap_or_default();
        let mut words = line.splitn(3, |b| *b == b' ');
        let (Some(_method), Some(target), Some(_rest)) = (words.next(), words.next(), words.next())
        else {
            return Some(false);
        };
        let path = target.split(|b| *b == b'?').next().unwrap_or_default();
        Some(std::str::from_utf8(path).is_ok_and(|path| {
            !path.contains('%')
                && crate::own_paths::is_for_programs(path, &self.state.settings.marketplace.path)
        }))
    }
}

impl Connection {
    async fn answer(
        self: Rc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Answered<Answer>>, Infallible> {
        self.deadline.head_arrived();
        let answered = self.answer_now(request).await;
        let deadline = self.deadline.clone();
        Ok(answered.map(|body| Answered { body, deadline }))
    }

    async fn answer_now(&self, request: Request<Incoming>) -> Response<Answer> {
        let worker = &self.worker;
        if let Some(answered) =
            gate::forward(&worker.state, &worker.shared, self.peer, &self.last_start, &request)
                .await
        {
            return answered;
        }
        let path = request.uri().path().to_string();
        let link = self.own.borrow_mut().take();
        // Boxed: the common case above should not carry this future's
        // size on every request.
        match Box::pin(worker.own.send(link, self.peer, request)).await {
            Ok((response, link)) => {
                *self.own.borrow_mut() = Some(link);
                response.map(Answer::Own)
            }
            Err(err) => {
                tracing::error!(error = %err, "koogate's own server did not answer");
                let unavailable = crate::error::Error::Unavailable("koogate is restarting");
                answer::own(&unavailable, &path, &worker.state)
            }
        }
    }
}
