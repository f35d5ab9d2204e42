//! The swarm-mode routes, answered as a Docker daemon that is in no swarm answers them: `503` with
//! its words, so the docker CLI, the SDKs and compose report "not a swarm manager" rather than a
//! `404` from a server that seems not to know the API. berthd has no swarm mode yet
//! (`docker info` says `LocalNodeState: inactive`); these are its whole answer until it does.

use axum::Router;
use axum::routing::{any, get, post};
use http::StatusCode;

use super::ApiError;
use super::params::Params;
use crate::engine::Engine;

/// What Docker answers a manager-only request on a node outside any swarm.
const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// What Docker answers a request that needs the node to be in a swarm at all.
const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";

pub fn routes() -> Router<Engine> {
    let mut router = Router::new()
        .route("/swarm", get(not_a_manager))
        .route("/swarm/unlockkey", get(not_a_manager))
        .route("/swarm/update", post(not_a_manager))
        .route("/swarm/init", post(not_in_a_swarm))
        .route("/swarm/join", post(not_in_a_swarm))
        .route("/swarm/leave", post(not_in_a_swarm))
        .route("/swarm/unlock", post(not_a_manager))
        .route("/services/{id}/logs", get(logs))
        .route("/tasks/{id}/logs", get(logs));
    for kind in ["nodes", "services", "tasks", "secrets", "configs"] {
        router = router
            .route(&format!("/{kind}"), get(not_a_manager))
            .route(&format!("/{kind}/create"), post(not_a_manager))
            .route(&format!("/{kind}/{{id}}"), any(not_a_manager))
            .route(&format!("/{kind}/{{id}}/update"), post(not_a_manager));
    }
    router
}

async fn not_a_manager() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_A_MANAGER)
}

async fn not_in_a_swarm() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_IN_A_SWARM)
}

/// Service and task logs: Docker checks the streams asked for before it looks for the swarm.
async fn logs(params: Params) -> ApiError {
    if !params.bool("stdout") && !params.bool("stderr") {
        return ApiError::internal("Bad parameters: you must choose at least one stream");
    }
    not_a_manager().await
}
