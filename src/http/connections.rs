//! Open HTTP connections: the accept loop, how many may be open at once,
//! how long a client may take to send a request's headers, and their
//! graceful close on shutdown.
//!
//! Bounded so that slow or idle clients cannot exhaust the process's file
//! descriptors:
//! - hyper's header-read timeout runs from the moment a connection waits
//!   for a request head, which is both its opening and the end of the
//!   previous response on keep-alive: a client that sends half a header and
//!   stops, and an idle keep-alive connection, are both closed when it ends.
//! - at most `--max-connections` are served; past it a connection is
//!   answered 503 with `Retry-After` and closed (refusing to accept would
//!   leave it waiting in the kernel's backlog). A few spare places answer
//!   those refusals and `/healthz`, so a health check still gets its
//!   answer while the cap is held; past those too, a connection is closed
//!   at once.
//!
//! HTTP/1.1 only: the header-read timeout is an HTTP/1 mechanism, and
//! HTTP/2 in cleartext (prior knowledge) is not what browsers or load
//! balancers in front of this server speak.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, Request},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use futures::FutureExt;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{watch, OwnedSemaphorePermit, Semaphore},
};
use tower::ServiceExt;

/// Places beyond `--max-connections` that only answer 503, or `/healthz`.
const SPARE_CONNECTIONS: usize = 64;

/// A spare place's client gets this long to send its headers: a health
/// check sends them at once.
const SPARE_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// How many connections, and how slow a client may be.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` completes; then stops
/// accepting, lets every open connection finish its request in flight and
/// returns when the last one has closed.
pub async fn serve_connections(
    mut listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let spare = Arc::new(Semaphore::new(SPARE_CONNECTIONS));
    let (stopping_tx, stopping) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    loop {
        // Accepting is cancellation-safe: a connection not yet returned
        // stays in the backlog.
        let (stream, peer) = tokio::select! {
            (stream, peer) = axum::serve::Listener::accept(&mut listener) => (stream, peer),
            () = &mut stop => break,
        };
        if let Ok(permit) = Arc::clone(&open).try_acquire_owned() {
            let connection = Connection {
                header_read_timeout: limits.header_read_timeout,
                keep_alive: true,
                stopping: stopping.clone(),
                _permit: permit,
            };
            tokio::spawn(connection.serve(stream, peer, router.clone()));
        } else if let Ok(permit) = Arc::clone(&spare).try_acquire_owned() {
            let connection = Connection {
                header_read_timeout: limits.header_read_timeout.min(SPARE_HEADER_READ_TIMEOUT),
                keep_alive: false,
                stopping: stopping.clone(),
                _permit: permit,
            };
            let refusing = refuse_all_but_healthz(router.clone(), limits.max_connections);
            tokio::spawn(connection.serve(stream, peer, refusing));
        } else {
            // (debug: under a flood this would be a line per connection)
            tracing::debug!("every connection place is taken; closing a new one at once");
        }
    }
    drop(listener);
    stopping_tx.send_replace(true);
    // Every connection holds a permit until it has closed.
    let _ = open
        .acquire_many(permit_count(limits.max_connections))
        .await;
    let _ = spare.acquire_many(permit_count(SPARE_CONNECTIONS)).await;
}

fn permit_count(places: usize) -> u32 {
    u32::try_from(places).unwrap_or(u32::MAX)
}

/// The service of a connection past the cap: `/healthz` as usual,
/// anything else 503.
fn refuse_all_but_healthz(
    router: Router,
    max_connections: usize,
) -> impl tower::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone
       + Send
       + 'static {
    tower::service_fn(move |request: Request<Incoming>| {
        let router = router.clone();
        async move {
            if request.uri().path() == "/healthz" {
                return router.oneshot(request).await;
            }
            Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                format!(
                    "this server holds its limit of {max_connections} connections; retry later"
                ),
            )
                .into_response())
        }
    })
}

/// One accepted connection and its place.
struct Connection {
    header_read_timeout: Duration,
    keep_alive: bool,
    stopping: watch::Receiver<bool>,
    /// Released when the connection has closed (or been upgraded: a
    /// WebSocket then holds its own place).
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Serves `stream`; every request on it carries the client's address
    /// `peer` as `ConnectInfo` (the budget of an anonymous client).
    async fn serve<S>(mut self, stream: TcpStream, peer: SocketAddr, service: S)
    where
        S: tower::Service<Request<Incoming>, Response = Response, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .keep_alive(self.keep_alive);
        let service = tower::Layer::layer(&axum::Extension(ConnectInfo(peer)), service);
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut connection = std::pin::pin!(connection);
        let mut told_to_stop = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection closed");
                    }
                    return;
                }
                // (mapped, so that no borrow of the watch is held in the arm)
                _ = self.stopping.wait_for(|stopping| *stopping).map(|_| ()), if !told_to_stop => {
                    told_to_stop = true;
                    // Finishes the request in flight, then closes.
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
