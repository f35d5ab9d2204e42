//! Docker Engine API v1.41 JSON shapes, field for field, so berthd's answers and Docker's match.
//!
//! Names follow the API's schema names (`ImageSummary`, `ContainerConfig`); serde renames give the
//! exact JSON keys. Where Go prints `null` for an empty slice or map, the field is an `Option`.

mod config;
mod container;
mod error;
mod host_config;
mod image;
mod network;
mod stats;
mod system;
mod volume;

pub use config::{ContainerConfig, HealthConfig, StrSlice};
pub use container::{
    ContainerChange, ContainerCreateRequest, ContainerInspect, ContainerState, ContainerSummary,
    ContainerTopResponse, ContainerWaitResponse, EndpointIpamConfig, EndpointSettings, EventActor,
    EventMessage, ExecConfig, ExecInspect, ExecStartConfig, Health, HealthcheckResult, IdResponse,
    MountPoint, NetworkSettings, NetworkingConfig, Port, ProcessConfig, SummaryHostConfig,
    SummaryNetworkSettings, WaitError,
};
pub use error::ErrorResponse;
pub use host_config::{
    BindOptions, DeviceMapping, DriverConfig, HostConfig, LogConfig, Mount, PortBinding, PortMap,
    RestartPolicy, TmpfsOptions, Ulimit, VolumeOptions,
};
pub use image::{
    BuildInfo, ErrorDetail, GraphDriverData, ImageDeleteResponseItem, ImageHistoryResponseItem, ImageInspect,
    ImageMetadata, ImagePruneResponse, ImageRootFs, ImageSummary, ProgressDetail,
};
pub use network::{
    ConfigReference, Ipam, IpamConfig, Network, NetworkConnectRequest, NetworkContainer,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkPruneResponse,
};
pub use stats::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats, StatsJson,
    StorageStats, ThrottlingData,
};
pub use system::DiskUsage;
pub use volume::{Volume, VolumeCreateOptions, VolumeListResponse, VolumePruneResponse, VolumeUsageData};

/// A JSON object with string keys and empty-object values, as Go's `map[string]struct{}`
/// (`ExposedPorts`, `Volumes`).
pub type EmptyObjectSet = std::collections::BTreeMap<String, EmptyObject>;

/// Go's `struct{}`: serializes as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmptyObject {}
