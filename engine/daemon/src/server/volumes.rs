//! `/volumes/…` routes.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_api::types::{VolumeCreateOptions, VolumeListResponse, VolumePruneResponse};
use http::StatusCode;

use super::json::Json;
use super::params::Params;
use super::{ApiError, body_json};
use crate::engine::Engine;
use crate::image::label_matches;
use crate::pattern;
use crate::volume::VolumeError;

pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).delete(remove))
}

impl From<VolumeError> for ApiError {
    fn from(error: VolumeError) -> ApiError {
        let status = match &error {
            VolumeError::NotFound(_) | VolumeError::Driver { .. } => StatusCode::NOT_FOUND,
            VolumeError::InUse { .. } => StatusCode::CONFLICT,
            VolumeError::InvalidName { .. } | VolumeError::Options { .. } => StatusCode::BAD_REQUEST,
            VolumeError::Io { .. } | VolumeError::Mount { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

async fn create(State(engine): State<Engine>, body: Body) -> Result<Response, ApiError> {
    let options: VolumeCreateOptions = body_json(body).await?;
    let volumes = engine.volumes.clone();
    let volume = tokio::task::spawn_blocking(move || {
        volumes.create(
            Some(&options.name),
            &options.driver,
            options.labels,
            options.driver_opts,
        )
    })
    .await??;
    Ok((StatusCode::CREATED, Json(volume)).into_response())
}

async fn list(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filters = params.filters()?;
    filters.only(&["dangling", "name", "label", "driver"])?;
    let dangling = filters.bool("dangling")?;
    let mut volumes = engine.volumes.list()?;
    volumes.retain(|v| {
        let unused = engine.containers.volume_users(&v.name).is_empty();
        dangling.is_none_or(|d| d == unused)
            && filters
                .values("name")
                .iter()
                .all(|n| v.name.contains(n.as_str()) || pattern::matches(n, &v.name))
            && filters
                .values("label")
                .iter()
                .all(|l| label_matches(v.labels.as_ref(), l))
            && filters.values("driver").iter().all(|d| d == &v.driver)
    });
    Ok(Json(VolumeListResponse {
        volumes: Some(volumes),
        warnings: None,
    })
    .into_response())
}

async fn inspect(State(engine): State<Engine>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(engine.volumes.inspect(&name)?).into_response())
}

async fn remove(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let users = engine.containers.volume_users(&name);
    let (volumes, force) = (engine.volumes.clone(), params.bool("force"));
    tokio::task::spawn_blocking(move || volumes.remove(&name, &users, force)).await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Docker 20.10's prune: every local volume no container uses, named or anonymous, that the
/// filters select.
async fn prune(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filter = params.filters()?.prune(&["label", "label!"])?;
    let mut deleted = Vec::new();
    let mut reclaimed = 0i64;
    for volume in engine.volumes.list()? {
        // As Docker: a volume with driver options (a mount of its own) is never pruned.
        if !engine.containers.volume_users(&volume.name).is_empty()
            || volume.options.as_ref().is_some_and(|o| !o.is_empty())
            || !filter.labels_match(volume.labels.as_ref())
        {
            continue;
        }
        let size = engine.volumes.size(&volume.name) as i64;
        let (volumes, name) = (engine.volumes.clone(), volume.name.clone());
        if tokio::task::spawn_blocking(move || volumes.remove(&name, &[], false))
            .await?
            .is_ok()
        {
            reclaimed += size;
            deleted.push(volume.name);
        }
    }
    engine.events.publish_prune("volume", reclaimed as u64);
    Ok(Json(VolumePruneResponse {
        volumes_deleted: Some(deleted),
        space_reclaimed: reclaimed,
    })
    .into_response())
}
