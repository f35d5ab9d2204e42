//! The API's requests as metrics: a count by method, route (the path template, `/containers/{id}/json`,
//! so ids do not make a series each) and status, and a latency histogram by method and route.
//! Recorded by a layer on the API router; the time is until the handler answered (a stream's
//! body may flow long after).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// The request metrics, shared by the API layer and the endpoint.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
}

/// 0.5 ms to about 33 s, four times wider each.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 4.0, 9))
}

impl Default for RequestMetrics {
    fn default() -> Self {
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let mut registry = Registry::default();
        registry.register(
            "berth_api_requests",
            "Engine API requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "berth_api_request_duration_seconds",
            "Time to answer an Engine API request, by method and route",
            latency.clone(),
        );
        RequestMetrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
            }),
        }
    }
}

impl RequestMetrics {
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let by_route: Labels = vec![("method", method.to_owned()), ("path", route.to_owned())];
        let mut by_status = by_route.clone();
        by_status.push(("status", status.to_string()));
        self.inner.requests.get_or_create(&by_status).inc();
        self.inner.latency.get_or_create(&by_route).observe(seconds);
    }
}

/// The layer's function: time the request, then count it under its route.
pub async fn record(State(metrics): State<RequestMetrics>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    // Only routes that matched get here (a route layer), so the template is always known.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_not_by_id() {
        let metrics = RequestMetrics::default();
        metrics.record("GET", "/containers/{id}/json", 200, 0.001);
        metrics.record("GET", "/containers/{id}/json", 200, 0.002);
        metrics.record("GET", "/containers/{id}/json", 404, 0.001);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, metrics.registry()).unwrap();
        assert!(
            text.contains(
                r#"berth_api_requests_total{method="GET",path="/containers/{id}/json",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"status="404"} 1"#), "{text}");
        assert!(
            text.contains(
                r#"berth_api_request_duration_seconds_count{method="GET",path="/containers/{id}/json"} 3"#
            ),
            "{text}"
        );
    }
}
