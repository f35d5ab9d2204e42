//! `POST /build` (Docker's classic builder) and `POST /build/prune`.
//!
//! A build answers 200 and streams its progress once it has started; what goes wrong before the
//! first message (a bad query, an unreadable context, a Dockerfile that does not parse) is a
//! proper error status, as dockerd answers while nothing is flushed yet.
//!
//! The classic builder keeps no cache of its own (its cache is the images, see
//! `build::cache`), so a build-cache prune frees nothing — which is what Docker 20.10 answers
//! for it too. The request is checked as Docker's builder checks it.

use std::collections::BTreeMap;
use std::io;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::{StatusCode, header};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use super::ApiError;
use super::json::Json;
use super::params::Params;
use crate::build::{BuildError, BuildOptions, Output};
use crate::engine::Engine;

/// The filters BuildKit's cache prune reads.
const FILTERS: &[&str] = &[
    "id",
    "parent",
    "type",
    "description",
    "inuse",
    "shared",
    "private",
    "until",
    "unused-for",
];

pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/build", post(build))
        .route("/build/prune", post(prune))
}

/// The query as dockerd's `newImageBuildOptions` reads it.
fn options(params: &Params) -> Result<BuildOptions, ApiError> {
    let number = |key: &str| params.get(key).parse::<i64>().unwrap_or(0);
    // Go's decoder words for a value that is not JSON, or not the map asked for.
    // (A null member decodes as Go's zero value: no value for a build arg, "" for a label.)
    let json_map =
        |key: &str, what: &str, go_type: &str| -> Result<Option<serde_json::Map<String, Value>>, ApiError> {
            let text = params.get(key);
            if text.is_empty() {
                return Ok(None);
            }
            let refused = |message: String| ApiError::bad_request(format!("error reading {what}: {message}"));
            let value = crate::go_json::first_value(text.as_bytes()).map_err(refused)?;
            let kind = crate::go_json::kind(&value);
            let Value::Object(map) = value else {
                return Err(refused(format!(
                    "json: cannot unmarshal {kind} into Go value of type {go_type}"
                )));
            };
            for member in map.values() {
                if !(member.is_string() || member.is_null()) {
                    let kind = crate::go_json::kind(member);
                    return Err(refused(format!(
                        "json: cannot unmarshal {kind} into Go value of type string"
                    )));
                }
            }
            Ok(Some(map))
        };
    if !params.all("securityopt").is_empty() {
        return Err(ApiError::bad_request(
            "The daemon on this platform does not support setting security options on build",
        ));
    }
    let shm_size = match params.get("shmsize") {
        "" => 0,
        text => text
            .parse::<i64>()
            .map_err(|_| ApiError::internal(format!("strconv.ParseInt: parsing {text:?}: invalid syntax")))?,
    };
    let build_args: BTreeMap<String, Option<String>> =
        json_map("buildargs", "build args", "map[string]*string")?
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_owned)))
            .collect();
    let labels: BTreeMap<String, String> = json_map("labels", "labels", "map[string]string")?
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let cache_from: Vec<String> = match params.get("cachefrom") {
        "" => Vec::new(),
        text => serde_json::from_str(text).map_err(|e| ApiError::internal(e.to_string()))?,
    };
    match params.get("version") {
        "" | "1" => {}
        "2" => {
            return Err(ApiError::bad_request(
                "BuildKit (builder version 2) is not supported by berthd: build with DOCKER_BUILDKIT=0",
            ));
        }
        other => return Err(ApiError::internal(format!("invalid version \"{other}\""))),
    }
    Ok(BuildOptions {
        tags: params.all("t"),
        dockerfile: params.get("dockerfile").to_owned(),
        build_args,
        target: params.get("target").to_owned(),
        no_cache: params.bool("nocache"),
        pull: params.bool("pull"),
        // On unless `rm` is given and false; `forcerm` implies it.
        remove: params.bool("forcerm") || params.bool_or("rm", true),
        force_remove: params.bool("forcerm"),
        labels,
        quiet: params.bool("q"),
        cache_from,
        network_mode: params.get("networkmode").to_owned(),
        shm_size,
        memory: number("memory"),
        memory_swap: number("memswap"),
        cpu_shares: number("cpushares"),
        cpu_period: number("cpuperiod"),
        cpu_quota: number("cpuquota"),
        cpuset_cpus: params.get("cpusetcpus").to_owned(),
        cpuset_mems: params.get("cpusetmems").to_owned(),
        cgroup_parent: params.get("cgroupparent").to_owned(),
        extra_hosts: params.all("extrahosts"),
        platform: params.get("platform").to_owned(),
    })
}

/// The status of an error that ends a build before its stream has begun.
fn status_of(error: &BuildError) -> StatusCode {
    match error {
        BuildError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn build(State(engine): State<Engine>, params: Params, body: Body) -> Result<Response, ApiError> {
    let options = options(&params)?;
    // The context is spooled whole first: it is read twice (extracted, then summed), and a
    // client that stops sending leaves nothing behind.
    let scratch = engine.config.data_root.join("tmp");
    let spooled = tempfile::Builder::new()
        .prefix("build-context-")
        .tempfile_in(&scratch)
        .map_err(|e| ApiError::internal(format!("spool the build context: {e}")))?;
    let (file, path) = spooled.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream().map_err(io::Error::other);
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
    {
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(format!("spool the build context: {e}")))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    drop(file);

    let (output, mut messages) = Output::new(options.quiet);
    let running = tokio::spawn(async move {
        // The spooled context is removed when the build ends (`path` deletes it on drop).
        let path = path;
        crate::build::build(engine, options, &path, output).await
    });
    // Wait for the first message, or for the build to end without one: an error before any
    // message is an error status, as dockerd answers while nothing is flushed yet.
    let first = match messages.recv().await {
        Some(message) => Some(message),
        None => match running.await {
            Ok(Err(error)) => return Err(ApiError::new(status_of(&error), error.to_string())),
            Ok(Ok(_)) => None,
            Err(e) => return Err(ApiError::internal(format!("the build stopped: {e}"))),
        },
    };
    let stream = futures_util::stream::unfold((first, messages), |(pending, mut messages)| async move {
        let message = match pending {
            Some(message) => message,
            None => messages.recv().await?,
        };
        let mut line = crate::go_json::to_go_string(&message);
        // Go's stream formatter ends each message with CRLF.
        line.push_str("\r\n");
        Some((Ok::<Bytes, io::Error>(Bytes::from(line)), (None, messages)))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn prune(State(_engine): State<Engine>, params: Params) -> Result<Json<Value>, ApiError> {
    let keep_storage = params.get("keep-storage");
    if !keep_storage.is_empty() && keep_storage.parse::<i64>().is_err() {
        // dockerd's words (and its 500) for a value Go's strconv.Atoi refuses.
        return Err(ApiError::internal(format!(
            "keep-storage is in bytes and expects an integer, got {keep_storage}: strconv.Atoi: parsing {keep_storage:?}: invalid syntax"
        )));
    }
    params
        .filters()?
        .only(FILTERS)
        .map_err(|e| ApiError::bad_request(format!("failed to prune build cache: {}", e.message)))?;
    Ok(Json(json!({"CachesDeleted": null, "SpaceReclaimed": 0})))
}
