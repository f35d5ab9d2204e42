//! The error body every failing Engine API call returns.

use serde::{Deserialize, Serialize};

/// `{"message": "..."}`: the daemon's one-line error, which the CLI prints after
/// `Error response from daemon: `.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}
