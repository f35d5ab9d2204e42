//! `/_ping`, `/version`, `/info`: what a client asks first; `/system/df`.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::{Value, json};

use super::json::Json;
use super::{API_VERSION, ApiError, MIN_API_VERSION};
use crate::engine::Engine;

pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/system/df", get(disk_usage))
}

/// The engine's version.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET|HEAD /_ping`: "OK"; clients negotiate the API version from its `API-Version` header.
async fn ping(method: Method) -> Response {
    // API-Version, OSType and Docker-Experimental come with every answer (server::add_engine_headers).
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let body = if method == Method::HEAD { "" } else { "OK" };
    (headers, body).into_response()
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `GET /version`.
async fn version() -> Json<Value> {
    let arch = crate::image::go_arch();
    let details = json!({
        "ApiVersion": API_VERSION,
        "Arch": arch,
        "BuildTime": "",
        "Experimental": "false",
        "GitCommit": "",
        "GoVersion": "",
        "KernelVersion": kernel_version(),
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
    });
    Json(json!({
        "Platform": {"Name": "Berth Engine"},
        "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
        "Version": ENGINE_VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel_version(),
        "BuildTime": "",
    }))
}

/// `GET /system/df`.
async fn disk_usage(State(engine): State<Engine>) -> Result<Json<berth_api::types::DiskUsage>, ApiError> {
    Ok(Json(
        tokio::task::spawn_blocking(move || engine.disk_usage()).await??,
    ))
}

/// `GET /info`: the system-wide facts `docker info` prints.
async fn info(State(engine): State<Engine>) -> Result<Json<Value>, ApiError> {
    use crate::container::RUNTIME;
    let images = tokio::task::spawn_blocking({
        let engine = engine.clone();
        move || engine.images.store().images.list().map(|l| l.len())
    })
    .await?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    // As dockerd counts them: running, paused, and every other state as stopped.
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    for container in engine.containers.all() {
        match container.record().state.status {
            crate::container::record::Status::Running => running += 1,
            crate::container::record::Status::Paused => paused += 1,
            _ => stopped += 1,
        }
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = nix::sys::sysinfo::sysinfo().map(|s| s.ram_total()).unwrap_or(0);
    Ok(Json(json!({
        "ID": "",
        "Containers": running + paused + stopped,
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images,
        "Driver": crate::image::DRIVER_NAME,
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "DockerRootDir": engine.config.data_root,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file"]},
        "MemoryLimit": true,
        "SwapLimit": false,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "Debug": false,
        "NFd": 0,
        "NGoroutines": 0,
        "SystemTime": crate::image::time::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "1",
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": "linux",
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": cpus,
        "MemTotal": memory,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
        "Name": host,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": ENGINE_VERSION,
        "Runtimes": {RUNTIME: {"path": RUNTIME}},
        "DefaultRuntime": RUNTIME,
        "Swarm": {"LocalNodeState": "inactive"},
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": ["name=seccomp,profile=default"],
        "Warnings": [],
    })))
}
