//! The process-wide Prometheus registry, and the instruments of the layers below HTTP: the
//! writer's batches and fsyncs, the quota's refusals, the user-info cache.
//!
//! They are process-wide, like the tracing subscriber: the writer thread and the chain record
//! into them without being handed anything, and a record is an atomic add (no lock, no
//! allocation on the hot path). The HTTP series register into the same registry
//! (`http::metrics`), which also serves the text.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// Latency buckets from 0.1 ms to 2.5 s, shared by every duration histogram.
pub const SECONDS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

static REGISTRY: LazyLock<Registry> =
    LazyLock::new(|| Registry::new_custom(Some("gpt_todo".into()), None).expect("a valid prefix"));

/// Registers `metric` in the one registry and hands it back. Each name is registered once, from
/// a `LazyLock`.
pub fn register<M: Collector + Clone + 'static>(metric: M) -> M {
    REGISTRY.register(Box::new(metric.clone())).expect("registered once");
    metric
}

struct Instruments {
    quota_refusals: IntCounter,
    writer_batch: Histogram,
    commit_seconds: Histogram,
    fsync_seconds: Histogram,
    userinfo_cache: IntCounterVec,
}

static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| {
    let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
        register(Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("valid metric"))
    };
    let userinfo_cache = register(
        IntCounterVec::new(
            Opts::new(
                "userinfo_cache_total",
                "Remote user-info look-ups answered from the cache (hit) or by asking (miss).",
            ),
            &["result"],
        )
        .expect("valid metric"),
    );
    // Both series exist from the start, so a rate over them is defined before the first call.
    userinfo_cache.with_label_values(&["hit"]);
    userinfo_cache.with_label_values(&["miss"]);
    Instruments {
        quota_refusals: register(
            IntCounter::new("quota_refusals_total", "API calls refused with 429 at the quota limit.")
                .expect("valid metric"),
        ),
        writer_batch: histogram(
            "writer_batch_jobs",
            "Jobs committed together in one writer transaction.",
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        ),
        commit_seconds: histogram(
            "writer_commit_seconds",
            "Time to run and commit one writer batch.",
            SECONDS.to_vec(),
        ),
        fsync_seconds: histogram("wal_fsync_seconds", "Time to fsync the write-ahead log.", SECONDS.to_vec()),
        userinfo_cache,
    }
});

pub fn quota_refused() {
    INSTRUMENTS.quota_refusals.inc();
}

/// A writer batch of `jobs` jobs that took `elapsed` to run and commit.
pub fn writer_batch(jobs: usize, elapsed: Duration) {
    INSTRUMENTS.writer_batch.observe(jobs as f64);
    INSTRUMENTS.commit_seconds.observe(elapsed.as_secs_f64());
}

pub fn wal_fsync(elapsed: Duration) {
    INSTRUMENTS.fsync_seconds.observe(elapsed.as_secs_f64());
}

pub fn userinfo_cache(hit: bool) {
    INSTRUMENTS.userinfo_cache.with_label_values(&[if hit { "hit" } else { "miss" }]).inc();
}

/// Every registered series as Prometheus text. These instruments are registered first, so a
/// scrape before any of them has recorded still lists them.
pub fn text() -> String {
    LazyLock::force(&INSTRUMENTS);
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&REGISTRY.gather(), &mut out) {
        tracing::warn!(error = %e, "encoding metrics failed");
    }
    String::from_utf8(out).unwrap_or_default()
}
