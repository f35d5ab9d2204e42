//! System-wide schemas.

use serde::{Deserialize, Serialize};

use super::{ContainerSummary, ImageSummary, Volume};

/// `GET /system/df`: what images, containers and volumes take on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    /// Bytes of every layer, each counted once however many images share it.
    pub layers_size: i64,
    pub images: Vec<ImageSummary>,
    pub containers: Vec<ContainerSummary>,
    pub volumes: Vec<Volume>,
    /// The builder's cache records; `null` when there are none (as Docker 20.10 answers).
    pub build_cache: Option<Vec<serde_json::Value>>,
    /// Bytes of the build cache (deprecated since API 1.38, still sent by Docker 20.10).
    pub builder_size: i64,
}
