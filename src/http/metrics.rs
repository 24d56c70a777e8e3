//! Prometheus metrics, served as text at `GET /metrics` on `--metrics-listen` (off by default):
//! the HTTP series and the file sizes here, the store's and the chain's instruments in
//! `support::metrics` (one registry for all).
//!
//! A record is an atomic add (no lock, no allocation on the hot path). File sizes are read when
//! scraped. Labels are bounded: a route is its pattern (`/api/todos/{id}`), never the raw path.
//!
//! A request's series are resolved once per route and status, on first use, and kept in a table
//! indexed by both: `with_label_values` hashes the labels and takes a lock on every call, which a
//! request should not pay. Series appear in the text once they have counted something, as before.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts};
use warp::Filter;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use crate::http::route_table::{ROUTE_TABLE, route_index};
use crate::support::metrics::{SECONDS, register};

pub struct Metrics {
    requests: IntCounterVec,
    latency: HistogramVec,
    /// `requests` and `latency` resolved, by route (the route table's index; the last is
    /// "other") and status ([`status_index`]).
    routes: Vec<RouteSeries>,
    db_bytes: IntGauge,
    wal_bytes: IntGauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let requests = register(
            IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests answered, by route and status."),
                &["route", "status"],
            )
            .expect("valid metric"),
        );
        let latency = register(
            HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request, by route.")
                    .buckets(SECONDS.to_vec()),
                &["route"],
            )
            .expect("valid metric"),
        );
        let gauge = |name: &str, help: &str| register(IntGauge::new(name, help).expect("valid metric"));
        Metrics {
            requests,
            latency,
            routes: (0..=ROUTE_TABLE.len()).map(|_| RouteSeries::default()).collect(),
            db_bytes: gauge("database_bytes", "Size of the database file."),
            wal_bytes: gauge("wal_bytes", "Size of the write-ahead log file."),
        }
    }
}

/// One route's series, each resolved the first time it is needed.
#[derive(Default)]
struct RouteSeries {
    latency: OnceLock<Histogram>,
    requests: [OnceLock<IntCounter>; STATUS_LABELS],
}

/// One answered request.
pub fn request(path: &str, status: u16, elapsed: Duration) {
    let route = route_index(path).unwrap_or(ROUTE_TABLE.len());
    let label = || route_label(route);
    let series = &METRICS.routes[route];
    let status = status_index(status);
    series.requests[status].get_or_init(|| METRICS.requests.with_label_values(&[label(), label_at(status)])).inc();
    series.latency.get_or_init(|| METRICS.latency.with_label_values(&[label()])).observe(elapsed.as_secs_f64());
}

fn route_label(index: usize) -> &'static str {
    ROUTE_TABLE.get(index).map_or("other", |(pattern, _)| *pattern)
}

/// The label of the route `path` matches.
#[cfg(test)]
fn route(path: &str) -> &'static str {
    route_label(route_index(path).unwrap_or(ROUTE_TABLE.len()))
}

/// The codes this server answers with by themselves, each its own label; any other status is
/// labelled with its class (`4xx` for a 418).
const CODES: [(u16, &str); 20] = [
    (200, "200"),
    (201, "201"),
    (204, "204"),
    (303, "303"),
    (304, "304"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (408, "408"),
    (409, "409"),
    (413, "413"),
    (415, "415"),
    (422, "422"),
    (429, "429"),
    (500, "500"),
    (501, "501"),
    (503, "503"),
    (504, "504"),
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// How many status labels there are: [`status_index`] gives one of them.
const STATUS_LABELS: usize = CODES.len() + CLASSES.len();

/// The status's label, as an index: a code of [`CODES`], else its class after them. A lookup, not a
/// `to_string()`: it runs on every request.
fn status_index(status: u16) -> usize {
    CODES.iter().position(|(code, _)| *code == status).unwrap_or_else(|| {
        CODES.len()
            + match status {
                100..=199 => 0,
                200..=299 => 1,
                300..=399 => 2,
                400..=499 => 3,
                _ => 4,
            }
    })
}

/// The label [`status_index`] stands for.
fn label_at(index: usize) -> &'static str {
    CODES.get(index).map_or_else(|| CLASSES[index - CODES.len()], |(_, label)| *label)
}

/// The status as a label.
#[cfg(test)]
fn status_label(status: u16) -> &'static str {
    label_at(status_index(status))
}

/// The text a scrape gets, with the SQLite file's sizes read now (none on PostgreSQL).
pub fn render(db_file: Option<&std::path::Path>) -> String {
    let size = |path: PathBuf| std::fs::metadata(path).map(|m| m.len() as i64).unwrap_or(0);
    if let Some(db_path) = db_file {
        METRICS.db_bytes.set(size(db_path.to_owned()));
        METRICS.wal_bytes.set(size(crate::store::sqlite::wal_path(db_path)));
    }
    crate::support::metrics::text()
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves, with the main listener's
/// deadlines and connection cap (`server::run`): the port is usually private, but a scraper that
/// hangs or a stranger who finds it must not hold connections open or use up descriptors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    db_file: Option<PathBuf>,
    limits: crate::http::server::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let route = warp::path!("metrics").and(warp::get()).map(move || {
        let mut response = Response::new(render(db_file.as_deref()).into());
        let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
        response.headers_mut().insert(header::CONTENT_TYPE, content_type);
        response
    });
    let not_found = warp::any().and_then(|| async {
        let mut response = Response::new("Only GET /metrics is served here.\n".into());
        *response.status_mut() = StatusCode::NOT_FOUND;
        Ok::<_, warp::Rejection>(response)
    });
    crate::http::server::run(listener, route.or(not_found).unify(), limits, shutdown).await;
}

/// Binds `address` for [`serve`]; a one-line error names the flag.
pub async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(address).await.map_err(|e| format!("--metrics-listen {address}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_patterns_so_labels_stay_few() {
        assert_eq!(route("/api/todos/42"), "/api/todos/{id}");
        assert_eq!(route("/api/todos/42/x"), "other");
        assert_eq!(route("/wp-admin.php"), "other");
        assert_eq!(route("/admin/users/abc"), "/admin/users/{id}");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(429), "429");
    }
}
