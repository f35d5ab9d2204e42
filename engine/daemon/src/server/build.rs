//! `POST /build/prune`: the builder's cache.
//!
//! berthd has no builder yet (issue 18 brings Docker's classic one), so its build cache is
//! always empty and a prune frees nothing — which is what Docker answers for an empty cache,
//! and what `docker system prune` asks for after the other prunes. The request is checked as
//! Docker's builder checks it, so a client's mistake is reported now as it will be then.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

use super::ApiError;
use super::json::Json;
use super::params::Params;
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
    Router::new().route("/build/prune", post(prune))
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
