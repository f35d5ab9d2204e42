//! Errors as Docker answers them: a status code and `{"message": "..."}`.

use axum::response::{IntoResponse, Response};
use berth_api::types::ErrorResponse;
use http::StatusCode;

use crate::container::ContainerError;
use crate::image::ImageError;
use crate::store::StoreError;

use super::json::Json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// Docker's answer to a path it doesn't serve.
    pub fn page_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "page not found")
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, "{}", self.message);
        }
        (
            self.status,
            Json(ErrorResponse {
                message: self.message,
            }),
        )
            .into_response()
    }
}

/// The status Docker answers an image error with.
fn image_status(error: &ImageError) -> StatusCode {
    match error {
        ImageError::NotFound(_) => StatusCode::NOT_FOUND,
        ImageError::Reference(_)
        | ImageError::BadRequest(_)
        | ImageError::Change(_)
        | ImageError::Archive(_) => StatusCode::BAD_REQUEST,
        ImageError::Conflict(_) => StatusCode::CONFLICT,
        ImageError::Store(StoreError::Layer(_)) | ImageError::Store(StoreError::DigestMismatch { .. }) => {
            StatusCode::BAD_REQUEST
        }
        ImageError::Store(_) | ImageError::NewName(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ImageError::Inspect { source, .. } => image_status(source),
    }
}

impl From<ImageError> for ApiError {
    fn from(error: ImageError) -> ApiError {
        ApiError::new(image_status(&error), error.to_string())
    }
}

impl From<ContainerError> for ApiError {
    fn from(error: ContainerError) -> ApiError {
        let status = match &error {
            ContainerError::NotFound(_)
            | ContainerError::NoSuchExec(_)
            | ContainerError::FileNotFound { .. } => StatusCode::NOT_FOUND,
            ContainerError::Ambiguous(_) | ContainerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ContainerError::Conflict(_) => StatusCode::CONFLICT,
            ContainerError::NotModified => StatusCode::NOT_MODIFIED,
            ContainerError::Image(image) => image_status(image),
            ContainerError::Network(network) => super::networks::status_of(network),
            ContainerError::Start(_) | ContainerError::Store(_) | ContainerError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, error.to_string())
    }
}

impl From<crate::disk_usage::DiskUsageError> for ApiError {
    fn from(error: crate::disk_usage::DiskUsageError) -> ApiError {
        use crate::disk_usage::DiskUsageError;
        match error {
            DiskUsageError::Image(e) => e.into(),
            DiskUsageError::Container(e) => e.into(),
            DiskUsageError::Volume(e) => e.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> ApiError {
        ApiError::internal(format!("engine task failed: {error}"))
    }
}
