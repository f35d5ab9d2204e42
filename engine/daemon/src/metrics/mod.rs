//! The Prometheus endpoint (`--metrics-addr`, as dockerd's): `GET /metrics` in the exposition
//! format, on a TCP address of its own, apart from the API socket.
//!
//! - [`requests`]: the API's requests by method, route and status, and their latency — a layer on
//!   the API router.
//! - [`containers`]: per-container series named and labelled as cAdvisor names them, from the same
//!   samples `docker stats` shows (the `stats` module reads them; this one only formats).
//! - here: the engine's own gauges (containers by state, images, volumes), and the server.
//!
//! The format comes from `prometheus-client`, the Prometheus project's crate: escaping of label
//! values, `# HELP`/`# TYPE`, histogram buckets and the OpenMetrics `# EOF` are easy to get
//! subtly wrong by hand, and Prometheus parses what it writes.

pub mod containers;
pub mod requests;

use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use requests::RequestMetrics;

use crate::engine::Engine;

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the endpoint serves from.
#[derive(Debug, Clone)]
struct Endpoint {
    engine: Engine,
    requests: RequestMetrics,
}

/// Serve `GET /metrics` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Engine,
    requests: RequestMetrics,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let app = Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(Endpoint { engine, requests });
    axum::serve(listener, app).await
}

/// One scrape: the engine's gauges and the request metrics, then every running container's
/// series from a fresh sample.
async fn scrape(State(endpoint): State<Endpoint>) -> Response {
    let started = Instant::now();
    let samples = endpoint.engine.stats.sample_running().await;
    let mut text = String::new();
    let written = encode_registry(&mut text, &engine_registry(&endpoint.engine))
        .and_then(|()| encode_registry(&mut text, endpoint.requests.registry()))
        .and_then(|()| encode_registry(&mut text, &containers::registry(samples)))
        .and_then(|()| encode_eof(&mut text));
    tracing::debug!("metrics scrape took {:?}", started.elapsed());
    match written {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the metrics: {e}"),
        )
            .into_response(),
    }
}

/// The engine's gauges, as they are now.
fn engine_registry(engine: &Engine) -> Registry {
    let mut registry = Registry::default();
    // dockerd's own series: containers by state.
    let states = Family::<Vec<(&'static str, &'static str)>, Gauge>::default();
    for state in ["running", "paused", "stopped"] {
        // Every state shows, at 0 when no container is in it.
        let _ = states.get_or_create(&vec![("state", state)]);
    }
    for container in engine.containers.all() {
        let state = match container.record().state.status {
            crate::container::Status::Running | crate::container::Status::Restarting => "running",
            crate::container::Status::Paused => "paused",
            _ => "stopped",
        };
        states.get_or_create(&vec![("state", state)]).inc();
    }
    registry.register(
        "engine_daemon_container_states_containers",
        "The count of containers in various states",
        states,
    );
    let images = Gauge::<i64>::default();
    images.set(engine.images.count() as i64);
    registry.register("berth_images", "Images in the store", images);
    let volumes = Gauge::<i64>::default();
    volumes.set(engine.volumes.list().map_or(0, |v| v.len()) as i64);
    registry.register("berth_volumes", "Volumes", volumes);
    registry
}
