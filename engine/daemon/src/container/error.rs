//! Why a container operation failed; the server maps each kind to Docker's status code.

use crate::image::ImageError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// no container by that name or id (404)
    #[error("No such container: {0}")]
    NotFound(String),
    /// no file at that path in the container (404)
    #[error("Could not find the file {path} in container {container}")]
    FileNotFound { path: String, container: String },
    /// no exec instance by that id (404)
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    /// an id prefix that several containers share (400, as Docker)
    #[error("multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    /// the container is not in a state for this (409)
    #[error("{0}")]
    Conflict(String),
    /// nothing to do: already started, already stopped (304)
    #[error("container already in that state")]
    NotModified,
    /// a request Docker would refuse as invalid (400)
    #[error("{0}")]
    BadRequest(String),
    /// the image (404 when missing)
    #[error(transparent)]
    Image(#[from] ImageError),
    /// a network (404 when missing)
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    /// starting failed: the runtime's or shim's message (500)
    #[error("{0}")]
    Start(String),
    /// the state on disk failed (500)
    #[error(transparent)]
    Store(#[from] StoreError),
    /// anything else inside the engine (500)
    #[error("{0}")]
    Internal(String),
}

impl ContainerError {
    /// Docker's 409 for an operation that needs a running container.
    pub fn not_running(id: &str) -> ContainerError {
        ContainerError::Conflict(format!("Container {id} is not running"))
    }
}

impl From<std::io::Error> for ContainerError {
    fn from(error: std::io::Error) -> Self {
        ContainerError::Internal(error.to_string())
    }
}

impl From<tokio::task::JoinError> for ContainerError {
    fn from(error: tokio::task::JoinError) -> Self {
        ContainerError::Internal(format!("engine task failed: {error}"))
    }
}
