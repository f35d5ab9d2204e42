//! The Engine API server: HTTP/1.1 over a UNIX socket. Each handler only turns a request into an
//! engine call and its result into Docker's JSON; the engine does the work.

mod build;
mod containers;
mod error;
mod events;
mod explain;
mod hijack;
mod images;
mod json;
mod networks;
mod params;
mod registry;
mod swarm;
mod system;
mod volumes;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use http::{StatusCode, Uri};
use tokio::net::UnixListener;
use tower::{Layer as _, ServiceExt as _};

pub use error::ApiError;

use crate::engine::Engine;

/// The newest API version served; `/v1.41/…` and unversioned paths answer alike.
pub const API_VERSION: &str = "1.41";
/// The oldest API version a client may ask for.
pub const MIN_API_VERSION: &str = "1.12";

/// All routes; with `metrics`, each matched request is counted and timed by its route.
pub fn router(engine: Engine, metrics: Option<crate::metrics::RequestMetrics>) -> Router {
    let routes = Router::new()
        .merge(system::routes())
        .merge(images::routes())
        .merge(containers::routes())
        .merge(events::routes())
        .merge(explain::routes())
        .merge(volumes::routes())
        .merge(registry::routes())
        .merge(networks::routes())
        .merge(swarm::routes())
        .merge(build::routes());
    let routes = match metrics {
        Some(metrics) => routes.route_layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::requests::record,
        )),
        None => routes,
    };
    routes
        .fallback(not_found)
        // A known path with a method it does not take is no page either, to Docker.
        .method_not_allowed_fallback(not_found)
        .with_state(engine)
}

/// Docker's answer to a path it doesn't serve.
async fn not_found() -> ApiError {
    ApiError::page_not_found()
}

/// The largest JSON request body read: far above any real request (a create with every field
/// is a few kilobytes), far below what would weigh on the daemon.
pub const JSON_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Read a whole JSON request body (at most [`JSON_BODY_LIMIT`] bytes), refused in Go's words as
/// dockerd's decoder refuses it.
pub async fn body_json<T: serde::de::DeserializeOwned>(body: axum::body::Body) -> Result<T, ApiError> {
    let value = match body_json_value(body).await? {
        // Go decodes `null` into a struct as nothing at all: the zero value.
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        value => crate::go_json::without_nulls(value),
    };
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// The first JSON value of a request body (what Go's `json.Decoder` reads).
pub async fn body_json_value(body: axum::body::Body) -> Result<serde_json::Value, ApiError> {
    use http_body_util::BodyExt;
    let bytes = http_body_util::Limited::new(body, JSON_BODY_LIMIT)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::bad_request(format!(
                    "invalid JSON: the request body is larger than {} MiB",
                    JSON_BODY_LIMIT >> 20
                ))
            } else {
                ApiError::bad_request(e.to_string())
            }
        })?
        .to_bytes();
    match crate::go_json::check_syntax(&bytes) {
        Err(crate::go_json::SyntaxError::Empty) => {
            Err(ApiError::bad_request("got EOF while reading request body"))
        }
        Err(crate::go_json::SyntaxError::Invalid(message)) => Err(ApiError::bad_request(message)),
        Ok(_) => crate::go_json::first_value(&bytes).map_err(ApiError::bad_request),
    }
}

/// A streamed response body fed by a channel (logs, events, explain): the body ends when the
/// sender is dropped, and the producer sees `closed()` when the client goes away.
pub fn channel_body(mut receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> axum::body::Body {
    let stream = futures_util::stream::poll_fn(move |cx| {
        receiver.poll_recv(cx).map(|c| c.map(Ok::<_, std::io::Error>))
    });
    axum::body::Body::from_stream(stream)
}

/// How long a client may take to send a request's headers: a connection that never finishes
/// one is closed, not kept.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests in flight; streams that never end (events, `logs -f`,
/// a slow upload) are cut after it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// At most this many connections at once: a share of the descriptors the process may open
/// (each connection holds one), leaving the rest to containers' shims, layers and logs.
fn connection_cap() -> usize {
    let files = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    (files / 2).clamp(64, 4096) as usize
}

/// Serve the API on `listener` until `shutdown` resolves: HTTP/1.1 with upgrades (attach and
/// exec hijack their connection), headers within [`HEADER_TIMEOUT`], at most
/// [`connection_cap`] connections, a handler's panic answered 500 (see [`catch_panic`]).
pub async fn serve(
    listener: UnixListener,
    engine: Engine,
    metrics: Option<crate::metrics::RequestMetrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = tower::util::MapRequestLayer::new(strip_version).layer(router(engine, metrics));
    let app = tower_http::catch_panic::CatchPanicLayer::custom(catch_panic).layer(app);
    let service = tower::service_fn(move |request: Request| {
        let mut app = app.clone();
        async move {
            let mut response = match unsupported_version(request.uri()) {
                Some(error) => error.into_response(),
                None => {
                    use tower::Service;
                    app.call(request).await?.map(axum::body::Body::new)
                }
            };
            add_engine_headers(response.headers_mut());
            Ok::<_, Infallible>(response)
        }
    });
    let service = hyper_util::service::TowerToHyperService::new(
        service
            .map_request(|request: http::Request<hyper::body::Incoming>| request.map(axum::body::Body::new)),
    );
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(connection_cap()));
    // Told to every connection at shutdown: finish the request in flight, take no other.
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap what finished, so the set holds only connections still open.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, most likely: let connections finish, then go on.
                    tracing::warn!("accept on the API socket: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service.clone())
            .with_upgrades();
        let mut stop = stop.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let stopped = tokio::select! {
                _ = connection.as_mut() => false,
                told = stop.wait_for(|stopping| *stopping) => told.is_ok(),
            };
            if stopped {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
            drop(permit);
        });
    }
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::info!(
            "shutdown: cut the requests still open after {} s",
            SHUTDOWN_GRACE.as_secs()
        );
        connections.abort_all();
    }
    Ok(())
}

/// A handler that panicked: Docker's error shape, status 500, and the daemon goes on. (The
/// panic itself was logged by the panic hook.)
fn catch_panic(payload: Box<dyn std::any::Any + Send + 'static>) -> http::Response<axum::body::Body> {
    let what = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    ApiError::internal(format!("internal error: {what}")).into_response()
}

/// The headers dockerd puts on every answer: which API and OS answered, and the server's name.
fn add_engine_headers(headers: &mut http::HeaderMap) {
    use http::HeaderValue;
    headers.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Ostype", HeaderValue::from_static("linux"));
    headers.insert(
        http::header::SERVER,
        HeaderValue::from_static(concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
}

/// `/v1.41/images/json` → `/images/json`.
fn strip_version(mut request: Request) -> Request {
    let path = request.uri().path();
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some((version, tail)) = rest.split_once('/') {
            if is_version(version) {
                let mut new = format!("/{tail}");
                if let Some(query) = request.uri().query() {
                    new.push('?');
                    new.push_str(query);
                }
                if let Ok(uri) = new.parse() {
                    *request.uri_mut() = uri;
                }
            }
        }
    }
    request
}

fn is_version(s: &str) -> bool {
    matches!(s.split_once('.'), Some((a, b)) if !a.is_empty() && !b.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()))
}

/// Docker refuses clients asking for a newer API than it serves, with this message.
fn unsupported_version(uri: &Uri) -> Option<ApiError> {
    let version = uri.path().strip_prefix("/v")?.split('/').next()?;
    if !is_version(version) {
        return None;
    }
    let parse = |v: &str| {
        v.split_once('.')
            .map(|(a, b)| (a.parse::<u32>().unwrap_or(0), b.parse::<u32>().unwrap_or(0)))
    };
    let (asked, max, min) = (parse(version)?, parse(API_VERSION)?, parse(MIN_API_VERSION)?);
    if asked > max {
        return Some(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("client version {version} is too new. Maximum supported API version is {API_VERSION}"),
        ));
    }
    if asked < min {
        return Some(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stripped_from_paths() {
        let request = Request::builder()
            .uri("/v1.41/images/json?all=1")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(strip_version(request).uri(), "/images/json?all=1");
        let request = Request::builder()
            .uri("/version")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(strip_version(request).uri(), "/version");
        let request = Request::builder()
            .uri("/volumes/v1.0")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(strip_version(request).uri(), "/volumes/v1.0");
    }

    #[test]
    fn newer_clients_are_refused_like_docker_does() {
        let error = unsupported_version(&"/v1.99/info".parse().unwrap()).unwrap();
        assert_eq!(
            error.message,
            "client version 1.99 is too new. Maximum supported API version is 1.41"
        );
        assert!(unsupported_version(&"/v1.24/info".parse().unwrap()).is_none());
        assert!(unsupported_version(&"/info".parse().unwrap()).is_none());
    }

    #[tokio::test]
    async fn a_handler_that_panics_answers_500_and_the_server_goes_on() {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/boom",
                axum::routing::get(|| async {
                    if true {
                        panic!("hostile input");
                    }
                    "never"
                }),
            )
            .route("/fine", axum::routing::get(|| async { "fine" }));
        let app = tower_http::catch_panic::CatchPanicLayer::custom(catch_panic).layer(app);
        let get = |path: &str| {
            Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let response = app.clone().oneshot(get("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"message": "internal error: hostile input"})
        );
        let response = app.oneshot(get("/fine")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
