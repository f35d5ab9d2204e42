//! `/images/…` routes.

use std::io::{self, Write};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::ApiError;
use super::json::Json;
use super::params::Params;
use crate::engine::Engine;
use crate::image::{ImportOptions, ListFilters};
use berth_api::types::BuildInfo;

pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/load", post(load))
        .route("/images/get", get(save))
        .route("/images/prune", post(prune))
        // Names contain slashes (`example/app:v1`), so the name is everything up to the action.
        .route(
            "/images/{*rest}",
            get(by_name_get).post(by_name_post).delete(remove),
        )
}

/// Run blocking engine work (the store is files) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::image::ImageError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// A JSON-lines progress stream body, as Docker's `jsonmessage` writes it.
fn json_messages(messages: &[BuildInfo]) -> Response {
    let mut body = Vec::new();
    for message in messages {
        serde_json::to_writer(&mut body, message).expect("messages serialize");
        body.push(b'\n');
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn list(State(engine): State<Engine>, params: Params) -> Result<Json<impl Serialize>, ApiError> {
    let filters = params.filters()?;
    filters.only(&["dangling", "label", "reference", "before", "since"])?;
    let list_filters = ListFilters {
        all: params.bool("all"),
        dangling: filters.bool("dangling")?,
        labels: filters.values("label").to_vec(),
        references: filters.values("reference").to_vec(),
        before: filters.values("before").first().cloned(),
        since: filters.values("since").first().cloned(),
        disk_usage: false,
    };
    let users = engine.image_users();
    Ok(Json(
        blocking(move || engine.images.list(&list_filters, &users)).await?,
    ))
}

/// `POST /images/create`: `fromSrc` imports the request body; `fromImage` pulls.
async fn create(
    State(engine): State<Engine>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !params.get("fromImage").is_empty() {
        return super::registry::pull(engine, &params, &headers).await;
    }
    let source = params.get("fromSrc").to_owned();
    if source.is_empty() {
        return Err(ApiError::bad_request("fromImage or fromSrc is required"));
    }
    if source != "-" {
        return Err(ApiError::bad_request(format!(
            "cannot import from {source}: berth imports only the request body (fromSrc=-)"
        )));
    }
    let options = ImportOptions {
        repo: params.get("repo").to_owned(),
        tag: params.get("tag").to_owned(),
        message: params.get("message").to_owned(),
        changes: params.all("changes"),
        source,
    };
    if let Err(e) = engine.images.check_import(&options) {
        // Read the upload to its end first, so the client gets this answer, not a broken pipe.
        drain(body).await;
        return Err(e.into());
    }
    let mut reader = body_reader(body);
    let id =
        blocking(move || read_to_end_on_error(&mut reader, |r| engine.images.import(r, &options))).await?;
    Ok(json_messages(&[BuildInfo {
        status: Some(id.to_string()),
        ..BuildInfo::default()
    }]))
}

/// Read and drop a request body, chunk by chunk (never all of it in memory).
async fn drain(body: Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    while let Some(Ok(_)) = body.frame().await {}
}

/// Run `work` on an upload; when it fails part-way, read (and drop) the rest of the upload
/// before answering: a server that closes with unread data resets the connection, and the client
/// then reports a broken pipe instead of the error. The body limit bounds the reading.
fn read_to_end_on_error<R: io::Read, T>(
    reader: &mut R,
    work: impl FnOnce(&mut R) -> Result<T, crate::image::ImageError>,
) -> Result<T, crate::image::ImageError> {
    let result = work(reader);
    if result.is_err() {
        let _ = io::copy(reader, &mut io::sink());
    }
    result
}

/// A request body as a blocking reader (for the store, which works on files).
pub(super) fn body_reader(body: Body) -> impl io::Read + Send + 'static {
    let stream = body.into_data_stream().map_err(io::Error::other);
    SyncIoBridge::new(StreamReader::new(stream))
}

async fn load(State(engine): State<Engine>, body: Body) -> Result<Response, ApiError> {
    let mut reader = body_reader(body);
    let lines = blocking(move || read_to_end_on_error(&mut reader, |r| engine.images.load(r))).await?;
    let messages: Vec<BuildInfo> = lines
        .into_iter()
        .map(|line| BuildInfo {
            stream: Some(format!("{line}\n")),
            ..BuildInfo::default()
        })
        .collect();
    Ok(json_messages(&messages))
}

async fn save(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    stream_archive(engine, params.all("names")).await
}

/// Check every name first (an error is a proper status), then stream the tar as it is written.
async fn stream_archive(engine: Engine, names: Vec<String>) -> Result<Response, ApiError> {
    let selection = {
        let (engine, names) = (engine.clone(), names.clone());
        blocking(move || engine.images.select_for_save(&names)).await?
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let mut out = io::BufWriter::with_capacity(256 * 1024, ChannelWriter(sender.clone()));
        let result = engine
            .images
            .write_archive(&selection, &mut out)
            .map_err(|e| io::Error::other(e.to_string()));
        let result = result.and_then(|()| out.flush());
        if let Err(e) = result {
            tracing::warn!("image save failed: {e}");
            let _ = sender.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A `Write` that hands chunks to the response body.
pub(super) struct ChannelWriter(pub(super) tokio::sync::mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

async fn prune(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filters = params.filters()?;
    let accepted = ["dangling", "label", "label!", "until"];
    filters.only(&accepted)?;
    // Docker reads `dangling` before `until`.
    let all = filters.bool("dangling")? == Some(false);
    let filter = filters.prune(&accepted)?;
    Ok(Json(
        blocking(move || {
            // Users counted and images removed in one step: no create comes between.
            let _removing = engine.images.removal_guard();
            let users = engine.image_users();
            engine.images.prune(all, &filter, &users)
        })
        .await?,
    )
    .into_response())
}

async fn remove(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let (force, noprune) = (params.bool("force"), params.bool("noprune"));
    Ok(Json(
        blocking(move || {
            // Users counted and the image removed in one step: no create comes between.
            let _removing = engine.images.removal_guard();
            let users = engine.image_users();
            engine.images.remove(&name, force, !noprune, &users)
        })
        .await?,
    )
    .into_response())
}

/// `GET /images/{name}/json|history|get`.
async fn by_name_get(
    State(engine): State<Engine>,
    Path(rest): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let _ = params;
    let (name, action) = split_action(&rest)?;
    match action {
        "json" => Ok(Json(blocking(move || engine.images.inspect(&name)).await?).into_response()),
        "history" => Ok(Json(blocking(move || engine.images.history(&name)).await?).into_response()),
        "get" => stream_archive(engine, vec![name]).await,
        _ => Err(ApiError::page_not_found()),
    }
}

/// `POST /images/{name}/tag` and `POST /images/{name}/push`.
async fn by_name_post(
    State(engine): State<Engine>,
    Path(rest): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (name, action) = split_action(&rest)?;
    match action {
        "push" => super::registry::push(engine, &name, &params, &headers).await,
        "tag" => {
            let (repo, tag) = (params.get("repo").to_owned(), params.get("tag").to_owned());
            blocking(move || engine.images.tag(&name, &repo, &tag)).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        _ => Err(ApiError::page_not_found()),
    }
}

/// `example/app:v1/json` → (`example/app:v1`, `json`).
fn split_action(rest: &str) -> Result<(String, &str), ApiError> {
    rest.rsplit_once('/')
        .map(|(name, action)| (name.to_owned(), action))
        .ok_or_else(ApiError::page_not_found)
}
