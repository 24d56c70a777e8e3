//! Serving the routes over HTTP/1.1 with the limits a server on the open internet needs, which
//! `warp::serve` does not offer: a deadline for each request head, a close for idle keep-alive
//! connections, a 408 for a request body that stalls, and a cap on open connections below the
//! process's descriptor limit (see [`connections`]). Graceful shutdown lets in-flight requests
//! finish. Production and the tests both start here.

mod body;
mod connections;
mod deadlines;

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower_service::Service;
use warp::http::{Request, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::chain::api_error::{ApiError, json_response};
use crate::http::client_address::{PeerAddr, join_forwarded_for};
pub use body::BodyStalled;
use connections::Connections;
pub use connections::raise_open_file_limit;
use deadlines::{Clock, Watched};

/// The deadlines and the cap, from `serve`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request head must arrive within this, counted from its first byte (or from the
    /// connection's opening, for its first request).
    pub header_read: Duration,
    /// A keep-alive connection with no request in flight is closed after this.
    pub idle: Duration,
    /// A request body that sends nothing for this long ends the request with 408.
    pub body_stall: Duration,
    /// At most this many connections are open; beyond it, the oldest idle one is closed to
    /// make room, or the newcomer waits.
    pub max_connections: usize,
}

/// Accepts connections until `shutdown` resolves, then stops accepting and waits for the
/// requests in flight to finish.
pub async fn run(
    listener: TcpListener,
    routes: impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let filter = warp::service(routes);
    let connections = Connections::new(limits.max_connections);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and the like: the cap should prevent it; back off rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let clock = Arc::new(Clock::new(limits));
        let admitted = tokio::select! {
            admitted = connections.admit(clock.clone()) => admitted,
            () = &mut shutdown => break,
        };
        // The routes are cloned once per connection, not per request: a clone of the route tree
        // bumps every shared handle in it (each route's `AppState`), dozens of atomic increments
        // on cache lines that every worker thread touches. One request of a connection is served
        // at a time (HTTP/1.1), so one stall flag serves them all, lowered for each request.
        let (routes, stalled) = (RefCell::new(filter.clone()), body::Stalled::default());
        let service = hyper::service::service_fn({
            let clock = clock.clone();
            move |request: Request<Incoming>| {
                clock.request_started();
                stalled.clear();
                let mut request = request.map(body::StallLimit::wrap(limits.body_stall, stalled.clone()));
                request.extensions_mut().insert(PeerAddr(remote));
                join_forwarded_for(request.headers_mut());
                // Boxed once, so that hyper moves a pointer, not the route tree's future
                // (kilobytes), as it stores and polls the answer. Written into the box it is
                // allocated in, so that the future is not built on the stack and copied.
                let answer = Box::into_pin(Box::write(Box::new_uninit(), routes.borrow_mut().call(request)));
                let (stalled, clock) = (stalled.clone(), clock.clone());
                async move {
                    let response = match answer.await {
                        Ok(response) if stalled.get() => body_stalled(response),
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    Ok::<_, Infallible>(response.map(|body| deadlines::EndsRequest::new(body, clock)))
                }
            }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        // Deadlines are kept by `Clock`; hyper's own head timeout would also cut idle connections.
        http.header_read_timeout(None);
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(Watched::new(stream, clock.clone())), service));
        tokio::spawn(async move {
            let _admitted = admitted;
            tokio::select! {
                served = connection => if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                () = clock.expired() => tracing::debug!(%remote, "closed a slow or idle connection"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The answer to a request whose body stopped coming: whatever the handler made of the broken
/// body, the client gets 408 and the connection closes (the rest of the body is unknown).
fn body_stalled(mut response: Response) -> Response {
    if response.status() != StatusCode::REQUEST_TIMEOUT {
        response = json_response(
            StatusCode::REQUEST_TIMEOUT,
            &serde_json::json!({ "error": ApiError::RequestTimeout.to_string() }),
        );
    }
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}
