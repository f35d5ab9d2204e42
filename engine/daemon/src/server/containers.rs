//! `/containers/…`, `/exec/…` and `/commit` routes.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_api::detach_keys::{DEFAULT_DETACH_KEYS, detach_key_bytes};
use berth_api::types::{
    ContainerCreateRequest, ContainerWaitResponse, ExecConfig, ExecStartConfig, HostConfig, IdResponse,
};
use http::{StatusCode, header};

use super::hijack::{Detach, RAW_STREAM, reply_and_close, splice_when_ready, stdout_frame};
use super::json::Json;
use super::params::Params;
use super::{ApiError, body_json};
use crate::container::{ContainerError, ExtractRequest, ListOptions, LogOptions, WaitCondition};
use crate::engine::Engine;
use crate::image::CommitOptions;

pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/containers/create", post(create))
        .route("/containers/json", get(list))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}/stats", get(stats))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/changes", get(changes))
        .route(
            "/containers/{id}/archive",
            get(archive_get).head(archive_head).put(archive_put),
        )
        .route("/containers/{id}/export", get(export))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/update", post(update))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}", axum::routing::delete(remove))
        // A legacy link's name has a slash (`web/db`), as docker/cli sends it for `rm --link`.
        .route(
            "/containers/{id}/{link}",
            axum::routing::delete(remove_by_link_name),
        )
        .route("/containers/{id}/exec", post(exec_create))
        .route("/exec/{id}/start", post(exec_start))
        .route("/exec/{id}/resize", post(exec_resize))
        .route("/exec/{id}/json", get(exec_inspect))
        .route("/commit", post(commit))
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A start or stop that had nothing to do: Docker answers 304.
fn done_or_not_modified(result: Result<(), crate::container::ContainerError>) -> Result<Response, ApiError> {
    match result {
        Ok(()) => Ok(no_content()),
        Err(crate::container::ContainerError::NotModified) => Ok(StatusCode::NOT_MODIFIED.into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn create(State(engine): State<Engine>, params: Params, body: Body) -> Result<Response, ApiError> {
    let request: ContainerCreateRequest = body_json(body).await?;
    let created = engine
        .containers
        .create(Some(params.get("name")), request)
        .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filters = params.filters()?;
    filters.only(&[
        "id", "name", "label", "status", "exited", "ancestor", "before", "since", "volume", "network",
        "health", "is-task", "publish", "expose",
    ])?;
    for status in filters.values("status") {
        if ![
            "created",
            "restarting",
            "running",
            "removing",
            "paused",
            "exited",
            "dead",
        ]
        .contains(&status.as_str())
        {
            return Err(ApiError::bad_request(format!("Invalid filter 'status={status}'")));
        }
    }
    for health in filters.values("health") {
        if !["starting", "healthy", "unhealthy", "none"].contains(&health.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Unrecognised filter value for health: {health}"
            )));
        }
    }
    let exited = filters
        .values("exited")
        .iter()
        .map(|e| {
            e.parse()
                .map_err(|_| ApiError::bad_request(format!("Invalid filter 'exited={e}'")))
        })
        .collect::<Result<_, _>>()?;
    let limit = params
        .get("limit")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| n as usize);
    let options = ListOptions {
        all: params.bool("all"),
        limit,
        ids: filters.values("id").to_vec(),
        names: filters.values("name").to_vec(),
        labels: filters.values("label").to_vec(),
        statuses: filters.values("status").to_vec(),
        healths: filters.values("health").to_vec(),
        exited,
        ancestors: filters.values("ancestor").to_vec(),
        before: filters.values("before").first().cloned(),
        since: filters.values("since").first().cloned(),
        size: params.bool("size"),
    };
    // Sizes walk the writable layers: off the async threads.
    let containers = engine.containers.clone();
    let rows = tokio::task::spawn_blocking(move || containers.list(&options))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(rows).into_response())
}

async fn prune(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filter = params.filters()?.prune(&["label", "label!", "until"])?;
    let pruned = engine.containers.prune(&filter).await;
    engine.events.publish_prune("container", pruned.reclaimed);
    let deleted = Some(pruned.ids).filter(|ids| !ids.is_empty());
    Ok(
        Json(serde_json::json!({"ContainersDeleted": deleted, "SpaceReclaimed": pruned.reclaimed}))
            .into_response(),
    )
}

async fn inspect(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    if params.bool("size") {
        let containers = engine.containers.clone();
        let inspect = tokio::task::spawn_blocking(move || containers.inspect_with_size(&id))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
        return Ok(Json(inspect).into_response());
    }
    Ok(Json(engine.containers.inspect(&id)?).into_response())
}

async fn top(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    Ok(Json(engine.containers.top(&id, params.get("ps_args")).await?).into_response())
}

async fn stats(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    use crate::stats::Reply;
    let stream = params.bool_or("stream", true);
    let one_shot = params.bool_or("one-shot", false);
    Ok(match engine.stats.container(&id, stream, one_shot).await? {
        Reply::Once(json) => Json(json).into_response(),
        // Go's server sniffs a JSON stream as text, as dockerd sends it.
        Reply::Stream(lines) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            super::channel_body(lines),
        )
            .into_response(),
    })
}

async fn changes(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(engine.containers.changes(&id).await?).into_response())
}

/// The `path` of an archive request (Docker's words, its missing space too).
fn archive_path(params: &Params) -> Result<String, ApiError> {
    match params.get("path") {
        "" => Err(ApiError::bad_request("bad parameter: pathcannot be empty")),
        path => Ok(path.to_owned()),
    }
}

/// The header Docker's clients read a path's stat from.
const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

async fn archive_head(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let path = archive_path(&params)?;
    let stat = engine.containers.stat_path(&id, &path).await?;
    Ok(([(PATH_STAT_HEADER, stat.header_value())], StatusCode::OK).into_response())
}

async fn archive_get(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
    headers: http::HeaderMap,
) -> Result<Response, ApiError> {
    let path = archive_path(&params)?;
    let archive = engine.containers.archive_path(&id, &path).await?;
    let stat = archive.stat.header_value();
    let gzip = headers.get(header::ACCEPT_ENCODING).is_some_and(|v| v == "gzip");
    let mut response = stream_tar(gzip, move |out| archive.write_to(out).map(drop));
    response
        .headers_mut()
        .insert(PATH_STAT_HEADER, stat.parse().expect("base64 is a header value"));
    Ok(response)
}

async fn archive_put(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let path = archive_path(&params)?;
    let request = ExtractRequest {
        no_overwrite_dir_non_dir: params.bool("noOverwriteDirNonDir"),
        copy_uid_gid: params.bool("copyUIDGID"),
    };
    let tar = super::images::body_reader(body);
    engine.containers.extract_to_dir(&id, &path, request, tar).await?;
    Ok(StatusCode::OK.into_response())
}

async fn export(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let export = engine.containers.export(&id).await?;
    // Docker never compresses an export.
    Ok(stream_tar(false, move |out| export.write_to(out).map(drop)))
}

/// A tar written by `write` on a blocking thread, streamed as it is written (gzipped when the
/// client asked for exactly `gzip`, as Docker's `writeCompressedResponse`). An error midway
/// ends the stream early: the client sees a truncated tar, as with Docker.
fn stream_tar(
    gzip: bool,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static,
) -> Response {
    use std::io::Write as _;
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let channel = super::images::ChannelWriter(sender.clone());
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, channel);
        let result = if gzip {
            let mut encoder = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
            write(&mut encoder).and_then(|()| encoder.finish().map(drop))
        } else {
            write(&mut out)
        };
        if let Err(e) = result.and_then(|()| out.flush()) {
            tracing::warn!("writing a tar failed: {e}");
            let _ = sender.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = (
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(stream),
    )
        .into_response();
    if gzip {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, http::HeaderValue::from_static("gzip"));
    }
    response
}

async fn start(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    done_or_not_modified(engine.containers.start(&id).await)
}

fn timeout(params: &Params) -> Result<Option<i64>, ApiError> {
    match params.get("t") {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for t: {t}"))),
    }
}

async fn stop(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    done_or_not_modified(engine.containers.stop(&id, timeout(&params)?).await)
}

async fn restart(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    engine.containers.restart(&id, timeout(&params)?).await?;
    Ok(no_content())
}

async fn kill(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    match engine.containers.kill(&id, Some(params.get("signal"))).await {
        Ok(()) => {}
        // A bad signal name is refused before the container is looked at.
        Err(error @ ContainerError::BadRequest(_)) => return Err(error.into()),
        Err(error) => {
            // Docker words every other kill failure this way, "No such container" included.
            let mut error = ApiError::from(error);
            error.message = format!("Cannot kill container: {id}: {}", error.message);
            return Err(error);
        }
    }
    Ok(no_content())
}

async fn pause(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    engine.containers.pause(&id).await?;
    Ok(no_content())
}

async fn unpause(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    engine.containers.unpause(&id).await?;
    Ok(no_content())
}

async fn update(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    // The body is Docker's `UpdateConfig`: the resources and the restart policy, which carry
    // HostConfig's names; the rest of a HostConfig in it is ignored, as by dockerd.
    let request: HostConfig = body_json(body).await?;
    let warnings = engine.containers.update(&id, request).await?;
    // Go encodes an empty warning list as null.
    let warnings = (!warnings.is_empty()).then_some(warnings);
    Ok(Json(serde_json::json!({ "Warnings": warnings })).into_response())
}

async fn rename(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    engine.containers.rename(&id, params.get("name")).await?;
    Ok(no_content())
}

fn size(params: &Params) -> Result<(u16, u16), ApiError> {
    let parse = |key: &str| {
        params
            .get(key)
            .parse::<u16>()
            .map_err(|_| ApiError::bad_request(format!("invalid {key} value")))
    };
    Ok((parse("w")?, parse("h")?))
}

async fn resize(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let (width, height) = size(&params)?;
    engine.containers.resize(&id, width, height).await?;
    Ok(StatusCode::OK.into_response())
}

async fn attach(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
    request: Request,
) -> Result<Response, ApiError> {
    let (stdin, stdout, stderr) = (params.bool("stdin"), params.bool("stdout"), params.bool("stderr"));
    let keys = match params.get("detachKeys") {
        "" => DEFAULT_DETACH_KEYS.to_vec(),
        given => detach_key_bytes(given)
            .map_err(|_| ApiError::bad_request(format!("Invalid detach keys ({given}) provided")))?,
    };
    let (tty, stream) = engine.containers.attach(&id, stdin, stdout, stderr)?;
    // Only a terminal's input is watched for the keys, as by dockerd.
    let detach = (tty && stdin).then(|| Detach {
        keys,
        on_detach: Box::new(move || engine.containers.detached(&id)),
    });
    Ok(splice_when_ready(request, stream, detach, async {}))
}

async fn wait(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let condition = WaitCondition::parse(params.get("condition"))?;
    // Listening starts now, before the answer's headers go out: the client may start the
    // container as soon as it sees them.
    let waiter = engine.containers.wait(&id, condition)?;
    let body = futures_util::stream::once(async move {
        let status_code = waiter.done().await;
        let mut json = serde_json::to_vec(&ContainerWaitResponse {
            status_code,
            error: None,
        })
        .expect("serializes");
        json.push(b'\n');
        Ok::<_, std::io::Error>(bytes::Bytes::from(json))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn remove(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    if params.bool("link") {
        engine.containers.remove_link(&id).await?;
        return Ok(no_content());
    }
    // A link name (`web/db`, sent with its slash encoded) names the linked container.
    let id = if id.contains('/') {
        engine.containers.linked_by(&id)?.id.clone()
    } else {
        id
    };
    engine
        .containers
        .remove(&id, params.bool("force"), params.bool("v"))
        .await?;
    Ok(no_content())
}

async fn remove_by_link_name(
    State(engine): State<Engine>,
    Path((parent, alias)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    remove(State(engine), Path(format!("{parent}/{alias}")), params).await
}

async fn logs(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let unix = |key: &str| -> Result<Option<f64>, ApiError> {
        match params.get(key) {
            "" | "0" => Ok(None),
            v => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid {key} value: {v}"))),
        }
    };
    let tail = match params.get("tail") {
        "" | "all" => None,
        n => Some(
            n.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid tail value: {n}")))?
                .max(0) as usize,
        ),
    };
    let options = LogOptions {
        stdout: params.bool("stdout"),
        stderr: params.bool("stderr"),
        follow: params.bool("follow"),
        timestamps: params.bool("timestamps"),
        tail,
        since: unix("since")?,
        until: unix("until")?,
    };
    let (_tty, chunks) = engine.containers.logs(&id, options)?;
    Ok(([(header::CONTENT_TYPE, RAW_STREAM)], super::channel_body(chunks)).into_response())
}

async fn exec_create(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let config: ExecConfig = body_json(body).await?;
    let exec_id = engine.containers.exec_create(&id, config)?;
    Ok((
        StatusCode::CREATED,
        Json(IdResponse {
            id: exec_id,
            warnings: Vec::new(),
        }),
    )
        .into_response())
}

async fn exec_start(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let config = exec_start_config(super::body_json_value(body).await?)?;
    let started = match engine.containers.exec_start(&id, config.detach).await {
        Ok(started) => started,
        // As Docker: an attached exec that could not start is still answered 101, and the
        // error is written to its stdout (its exit code, 126, is in exec inspect).
        Err(ContainerError::Start(message)) if !config.detach => {
            let tty = engine
                .containers
                .exec_inspect(&id)
                .map(|e| e.process_config.tty)
                .unwrap_or(config.tty);
            let text = format!("{message}\r\n").into_bytes();
            let bytes = if tty { text } else { stdout_frame(&text) };
            return Ok(reply_and_close(Request::from_parts(parts, Body::empty()), bytes));
        }
        Err(error) => return Err(error.into()),
    };
    let (Some(stream), Some(launch)) = (started.stream, started.launch) else {
        return Ok(StatusCode::OK.into_response());
    };
    let request = Request::from_parts(parts, Body::empty());
    let tty = started.tty;
    // The process starts once the client has its answer; if it cannot, the client reads why,
    // as from dockerd.
    let stream = async move {
        match launch.run().await {
            Ok(()) => Ok(stream),
            Err(ContainerError::Start(message)) => {
                drop(stream);
                let text = format!("{message}\r\n").into_bytes();
                message_stream(if tty { text } else { stdout_frame(&text) })
            }
            Err(error) => Err(error),
        }
    };
    let detach = started.detach_keys.map(|keys| {
        let (containers, id) = (engine.containers.clone(), id.clone());
        Detach {
            keys,
            on_detach: Box::new(move || containers.exec_detached(&id)),
        }
    });
    let containers = engine.containers.clone();
    Ok(splice_when_ready(request, stream, detach, async move {
        let _ = containers.exec_wait(&id).await;
    }))
}

/// A stream that carries `bytes` and ends: what a client reads when its exec could not start.
fn message_stream(bytes: Vec<u8>) -> Result<std::os::unix::net::UnixStream, ContainerError> {
    use std::io::Write;
    let (mut writer, reader) = std::os::unix::net::UnixStream::pair()?;
    writer.write_all(&bytes)?;
    Ok(reader)
}

/// `ExecStartCheck` as Go decodes it: field names in any case, `null` as nothing, and a value
/// of the wrong kind refused in Go's words (never run with defaults instead).
fn exec_start_config(body: serde_json::Value) -> Result<ExecStartConfig, ApiError> {
    let mut config = ExecStartConfig::default();
    let fields = match body {
        serde_json::Value::Null => return Ok(config),
        serde_json::Value::Object(fields) => fields,
        other => {
            return Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type types.ExecStartCheck",
                crate::go_json::kind(&other)
            )));
        }
    };
    for (key, value) in &fields {
        let (name, field) = match key.to_ascii_lowercase().as_str() {
            "detach" => ("Detach", &mut config.detach),
            "tty" => ("Tty", &mut config.tty),
            _ => continue,
        };
        match value {
            serde_json::Value::Bool(b) => *field = *b,
            serde_json::Value::Null => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "json: cannot unmarshal {} into Go struct field ExecStartCheck.{name} of type bool",
                    crate::go_json::kind(other)
                )));
            }
        }
    }
    Ok(config)
}

async fn exec_resize(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let (width, height) = size(&params)?;
    engine.containers.exec_resize(&id, width, height).await?;
    Ok(StatusCode::OK.into_response())
}

async fn exec_inspect(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(engine.containers.exec_inspect(&id)?).into_response())
}

async fn commit(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let options = CommitOptions {
        repo: params.get("repo").to_owned(),
        tag: params.get("tag").to_owned(),
        author: params.get("author").to_owned(),
        comment: params.get("comment").to_owned(),
        changes: params.all("changes"),
    };
    let id = engine.containers.commit(params.get("container"), options).await?;
    Ok((
        StatusCode::CREATED,
        Json(IdResponse {
            id: id.to_string(),
            warnings: Vec::new(),
        }),
    )
        .into_response())
}
