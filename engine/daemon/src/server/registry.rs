//! Registry routes: pull (`POST /images/create?fromImage=…`, routed here from `images`), push
//! (`POST /images/{name}/push`) and `POST /auth`.
//!
//! Pull and push answer with Docker's JSON progress stream. An error before the first message
//! is an ordinary error status (a 404 for a manifest the registry does not have); once the
//! stream has begun, it ends with an `{"errorDetail":…,"error":…}` message, as Docker's does.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

use super::ApiError;
use super::json::Json;
use super::params::Params;
use crate::digest::Digest;
use crate::engine::Engine;
use crate::image::manifest::Platform;
use crate::reference::Reference;
use crate::registry::{
    AuthConfig, Progress, ProgressEvent, PullRequest, PushRequest, RegistryError, error_message,
};

pub fn routes() -> Router<Engine> {
    Router::new().route("/auth", post(auth))
}

/// The status Docker answers a registry error with (before any progress was sent).
fn registry_status(error: &RegistryError) -> StatusCode {
    match error.root() {
        RegistryError::Reference(_) | RegistryError::BadRequest(_) => StatusCode::BAD_REQUEST,
        RegistryError::ManifestUnknown { .. }
        | RegistryError::AccessDenied { .. }
        | RegistryError::NoMatchingPlatform(_)
        | RegistryError::NotLocal(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> ApiError {
        ApiError::new(registry_status(&error), error.to_string())
    }
}

/// The credentials a client sent (`X-Registry-Auth`); none means anonymous.
fn credentials(headers: &HeaderMap) -> Result<AuthConfig, ApiError> {
    let value = headers
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Ok(AuthConfig::from_header(value)?)
}

/// `POST /images/create?fromImage=busybox&tag=latest` (a `tag` may be a digest; no tag pulls
/// every tag), with `platform` and `X-Registry-Auth`.
pub async fn pull(engine: Engine, params: &Params, headers: &HeaderMap) -> Result<Response, ApiError> {
    // As dockerd: `pull -a` may send `name:`, and the trailing colon is dropped.
    let from_image = params.get("fromImage");
    let from_image = from_image.strip_suffix(':').unwrap_or(from_image);
    let mut reference = Reference::parse_normalized(from_image).map_err(RegistryError::from)?;
    let tag = params.get("tag");
    if !tag.is_empty() {
        reference = match tag.parse::<Digest>() {
            Ok(digest) => reference.with_digest(digest),
            Err(_) => reference.with_tag(tag).map_err(RegistryError::from)?,
        };
    }
    let platform = match params.get("platform") {
        "" => None,
        text => Some(Platform::parse(text).map_err(ApiError::bad_request)?),
    };
    let request = PullRequest {
        reference,
        platform,
        auth: credentials(headers)?,
    };
    let (progress, events) = Progress::channel();
    tokio::spawn(async move {
        if let Err(error) = engine.registry.pull(request, &progress).await {
            progress.fail(error);
        }
    });
    stream_progress(events).await
}

/// `POST /images/{name}/push?tag=…` with `X-Registry-Auth`.
pub async fn push(
    engine: Engine,
    name: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let mut reference = Reference::parse_normalized(name).map_err(RegistryError::from)?;
    let tag = params.get("tag");
    if !tag.is_empty() {
        reference = reference.with_tag(tag).map_err(RegistryError::from)?;
    }
    let request = PushRequest {
        reference,
        auth: credentials(headers)?,
    };
    let (progress, events) = Progress::channel();
    tokio::spawn(async move {
        if let Err(error) = engine.registry.push(request, &progress).await {
            progress.fail(error);
        }
    });
    stream_progress(events).await
}

/// `POST /auth`: check credentials with the registry; berthd keeps nothing.
async fn auth(State(engine): State<Engine>, body: Body) -> Result<Response, ApiError> {
    let config: AuthConfig = super::body_json(body).await?;
    let outcome = engine.registry.login(&config).await?;
    Ok(Json(json!({"IdentityToken": outcome.identity_token, "Status": outcome.status})).into_response())
}

/// Answer with the progress stream, or with an error status if it failed before saying anything.
async fn stream_progress(mut events: UnboundedReceiver<ProgressEvent>) -> Result<Response, ApiError> {
    let first = match events.recv().await {
        Some(ProgressEvent::Failed(error)) => return Err(error.into()),
        Some(ProgressEvent::Message(message)) => Some(message),
        None => None,
    };
    let line = |message: &berth_api::types::BuildInfo| {
        let mut bytes = serde_json::to_vec(message).expect("messages serialize");
        bytes.push(b'\n');
        Ok::<Bytes, std::io::Error>(Bytes::from(bytes))
    };
    let head = first.map(|message| line(&message));
    let rest = futures_util::stream::unfold(events, move |mut events| async move {
        let item = match events.recv().await? {
            ProgressEvent::Message(message) => line(&message),
            ProgressEvent::Failed(error) => line(&error_message(error.to_string())),
        };
        Some((item, events))
    });
    let body = futures_util::StreamExt::chain(futures_util::stream::iter(head), rest);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}
