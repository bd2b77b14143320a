//! `/metrics` in the Prometheus (OpenMetrics) text format: HTTP requests by
//! route and status with latencies, and the node's own counters (ingest
//! outcomes, gossip and sync traffic, peers) read when scraped.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::server::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The gateway's own metrics.
pub(crate) struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.25 ms to ~8 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.000_25, 2.0, 16,
            ))
        });
        registry.register(
            "kith_http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "kith_http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
        }
    }
}

/// Middleware: counts and times every request under its route template
/// (`/api/v1/events/{id}`, never the concrete path, so ids do not become labels).
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let start = Instant::now();
    let response = next.run(req).await;
    let m = &state.metrics;
    m.latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// The text exposition.
pub(crate) async fn render(state: &AppState) -> Response {
    let mut out = String::new();
    {
        let registry = state
            .metrics
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if prometheus_client::encoding::text::encode_registry(&mut out, &registry).is_err() {
            return crate::error::ApiError::internal("metrics encoding").into_response();
        }
    }
    let node = &state.node;
    let stats = node.ingest().stats().snapshot();
    let _ = writeln!(
        out,
        "# HELP kith_ingest_events Events through the ingest pipeline by outcome or refusal code."
    );
    let _ = writeln!(out, "# TYPE kith_ingest_events counter");
    const TRAFFIC: [&str; 7] = [
        "gossip_received",
        "gossip_bytes_received",
        "published",
        "sync_sessions",
        "sync_bytes",
        "fetch_bytes_received",
        "sync_events_fetched",
    ];
    for (what, n) in stats.iter().filter(|(k, _)| !TRAFFIC.contains(k)) {
        let _ = writeln!(out, "kith_ingest_events_total{{outcome=\"{what}\"}} {n}");
    }
    for name in TRAFFIC {
        let n = stats.get(name).copied().unwrap_or(0);
        let _ = writeln!(out, "# TYPE kith_{name} counter");
        let _ = writeln!(out, "kith_{name}_total {n}");
    }
    let peers = node.connected_peers().await.len();
    let _ = writeln!(out, "# HELP kith_peers Peers with an open connection.");
    let _ = writeln!(out, "# TYPE kith_peers gauge\nkith_peers {peers}");
    let _ = writeln!(out, "# HELP kith_accounts Hosted accounts.");
    let _ = writeln!(
        out,
        "# TYPE kith_accounts gauge\nkith_accounts {}",
        state.accounts.count()
    );
    let _ = writeln!(
        out,
        "# HELP kith_ws_connections Open WebSocket connections."
    );
    let _ = writeln!(
        out,
        "# TYPE kith_ws_connections gauge\nkith_ws_connections {}",
        state.live.open.load(std::sync::atomic::Ordering::Relaxed)
    );
    let caches = state.views.figures();
    type Field = fn(&crate::views::CacheFigures) -> u64;
    let families: [(&str, &str, &str, &str, Field); 4] = [
        (
            "cache_entries",
            "",
            "gauge",
            "Entries in a read cache.",
            |c| c.entries as u64,
        ),
        (
            "cache_bytes",
            "",
            "gauge",
            "Bytes held by a read cache.",
            |c| c.bytes as u64,
        ),
        ("cache_hits", "_total", "counter", "Read cache hits.", |c| {
            c.hits
        }),
        (
            "cache_misses",
            "_total",
            "counter",
            "Read cache misses.",
            |c| c.misses,
        ),
    ];
    for (name, suffix, kind, help, field) in families {
        let _ = writeln!(out, "# HELP kith_{name} {help}");
        let _ = writeln!(out, "# TYPE kith_{name} {kind}");
        for c in &caches {
            let _ = writeln!(
                out,
                "kith_{name}{suffix}{{cache=\"{}\"}} {}",
                c.name,
                field(c)
            );
        }
    }
    let _ = writeln!(out, "# EOF");
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
