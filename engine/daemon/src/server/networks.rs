//! `/networks/…` routes.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_api::types::{
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest, NetworkPruneResponse,
};
use http::StatusCode;

use super::json::Json;
use super::params::Params;
use super::{ApiError, body_json};
use crate::engine::Engine;
use crate::image::label_matches;
use crate::network::NetworkError;

pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

/// The status Docker answers a network error with.
pub fn status_of(error: &NetworkError) -> StatusCode {
    match error {
        NetworkError::NotFound(_) | NetworkError::Driver(_) | NetworkError::NoDefaultPool6 => {
            StatusCode::NOT_FOUND
        }
        NetworkError::Ambiguous(..)
        | NetworkError::AmbiguousName(..)
        | NetworkError::Invalid(_)
        | NetworkError::Port(_) => StatusCode::BAD_REQUEST,
        NetworkError::NameTaken(_) => StatusCode::CONFLICT,
        NetworkError::Address(crate::network::ipam::IpamError::OutsideSubnet(_)) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        NetworkError::ActiveEndpoints { .. }
        | NetworkError::Predefined(_)
        | NetworkError::Forbidden(_)
        | NetworkError::Address(_) => StatusCode::FORBIDDEN,
        NetworkError::PortBind { .. }
        | NetworkError::Unusable(_)
        | NetworkError::Gateway { .. }
        | NetworkError::Kernel { .. }
        | NetworkError::Firewall(_)
        | NetworkError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<NetworkError> for ApiError {
    fn from(error: NetworkError) -> ApiError {
        ApiError::new(status_of(&error), error.to_string())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, NetworkError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(work).await??)
}

/// Publish a network event with Docker's attributes (name, type, and the container if any).
fn event(engine: &Engine, action: &str, network: &Network, container: Option<&str>) {
    engine.events.publish_network(action, network, container);
}

async fn create(State(engine): State<Engine>, body: Body) -> Result<Response, ApiError> {
    let request: NetworkCreateRequest = body_json(body).await?;
    let networks = engine.networks.clone();
    let created = blocking(move || networks.create(request)).await?;
    if let Ok(network) = engine.networks.inspect(&created.id) {
        event(&engine, "create", &network, None);
    }
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filters = params.filters()?;
    filters.only(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
    let dangling = filters.bool("dangling")?;
    for kind in filters.values("type") {
        if kind != "custom" && kind != "builtin" {
            return Err(ApiError::bad_request(format!("invalid filter: 'type'='{kind}'")));
        }
    }
    let mut networks = engine.networks.list();
    networks.retain(|n| {
        let builtin = matches!(n.name.as_str(), "bridge" | "host" | "none");
        dangling.is_none_or(|d| d == (n.containers.is_empty() && !builtin))
            && filters.values("driver").iter().all(|d| d == &n.driver)
            && filters
                .values("id")
                .iter()
                .all(|id| n.id.starts_with(id.as_str()))
            && filters
                .values("name")
                .iter()
                .all(|name| n.name.contains(name.as_str()))
            && filters.values("scope").iter().all(|s| s == "local")
            && filters.values("type").iter().all(|t| (t == "builtin") == builtin)
            && filters
                .values("label")
                .iter()
                .all(|l| label_matches(Some(&n.labels), l))
    });
    // The list leaves out who is attached, as Docker's does.
    for network in &mut networks {
        network.containers.clear();
    }
    Ok(Json(networks).into_response())
}

async fn inspect(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    match engine.networks.inspect(&id) {
        // Docker's inspect words a shared name the other way round.
        Err(NetworkError::AmbiguousName(name, n)) => Err(ApiError::bad_request(format!(
            "{n} matches found based on name: network {name} is ambiguous"
        ))),
        other => Ok(Json(other?).into_response()),
    }
}

async fn remove(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let network = engine.networks.inspect(&id)?;
    let networks = engine.networks.clone();
    blocking(move || networks.remove(&id)).await?;
    event(&engine, "destroy", &network, None);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn connect(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request: NetworkConnectRequest = body_json(body).await?;
    let network = engine.networks.inspect(&id)?;
    let container = engine.containers.get(&request.container)?.id.clone();
    let containers = engine.containers.clone();
    blocking(move || containers.connect_network(&id, &request.container, request.endpoint_config)).await?;
    event(&engine, "connect", &network, Some(&container));
    Ok(StatusCode::OK.into_response())
}

async fn disconnect(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request: NetworkDisconnectRequest = body_json(body).await?;
    // Docker's answers, in its order: a forced disconnect of a container it doesn't know looks
    // for the endpoint instead, and one from a network it doesn't know finds it not connected.
    let container = match engine.containers.get(&request.container) {
        Ok(c) => c.id.clone(),
        Err(_) if request.force => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("endpoint {} not found", request.container),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let network = match engine.networks.inspect(&id) {
        Err(NetworkError::NotFound(_)) if request.force => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("container {container} is not connected to the network {id}"),
            ));
        }
        other => other?,
    };
    let containers = engine.containers.clone();
    blocking(move || containers.disconnect_network(&id, &request.container, request.force)).await?;
    event(&engine, "disconnect", &network, Some(&container));
    Ok(StatusCode::OK.into_response())
}

/// Docker's prune: every user-defined network no running container is attached to, that the
/// filters select.
async fn prune(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filter = params.filters()?.prune(&["label", "label!", "until"])?;
    let mut deleted = Vec::new();
    for network in engine.networks.list() {
        if matches!(network.name.as_str(), "bridge" | "host" | "none")
            || engine.networks.has_endpoints(&network.id)
            || !filter.selects(&network.created, Some(&network.labels))
        {
            continue;
        }
        let (networks, id) = (engine.networks.clone(), network.id.clone());
        if blocking(move || networks.remove(&id)).await.is_ok() {
            event(&engine, "destroy", &network, None);
            deleted.push(network.name);
        }
    }
    engine.events.publish_prune("network", 0);
    Ok(Json(NetworkPruneResponse {
        networks_deleted: Some(deleted).filter(|d| !d.is_empty()),
    })
    .into_response())
}
