//! What berthd remembers of a container, on disk so it survives a daemon restart:
//! `<data-root>/containers/<id>/config.v2.json`, written atomically on every change.

use std::path::{Path, PathBuf};

use berth_api::types::{ContainerConfig, ContainerState, Health, HostConfig, NetworkSettings};

use super::mounts::{ContainerMount, MountKind};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::store::{StoreError, replace_atomic, write_atomic};

/// How hard a record write tries to outlive a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync'd: what the user asked for (the container, its name, its configuration).
    Synced,
    /// Renamed into place only: how it runs (status, pid, addresses), which a crash ends anyway
    /// and restore rebuilds. Spares two fsyncs on each step of a container's life.
    RunState,
}

/// A container's lifecycle status, as Docker names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// A container whose process is (or is about to be) alive.
    pub fn is_running(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }

    pub fn can_start(self) -> bool {
        matches!(self, Status::Created | Status::Exited)
    }

    pub fn can_kill(self) -> bool {
        self.is_running()
    }
}

/// The state part of a record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    pub oom_killed: bool,
    /// The healthcheck's state while one watches the container (kept after it stops, as Docker).
    #[serde(default)]
    pub health: Option<Health>,
}

/// Go's zero time, which Docker prints for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl State {
    pub fn new() -> State {
        State {
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..State::default()
        }
    }

    /// The `State` object of `inspect`.
    pub fn to_api(&self) -> ContainerState {
        ContainerState {
            status: self.status.as_str().into(),
            running: self.status.is_running(),
            paused: self.status == Status::Paused,
            restarting: self.status == Status::Restarting,
            oom_killed: self.oom_killed,
            dead: self.status == Status::Dead,
            pid: self.pid,
            exit_code: self.exit_code,
            error: self.error.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            health: self.health.clone(),
        }
    }
}

/// A container record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    /// With Docker's leading slash: `/web1`.
    pub name: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    /// The image id.
    pub image: Digest,
    /// The chain id the container's overlay stands on (kept if the image is removed).
    pub top_layer: Option<Digest>,
    pub state: State,
    pub restart_count: i64,
    /// Started at least once (restart policies and `docker ps` care).
    pub has_been_started: bool,
    /// Stopped by a user (`stop`/`kill`): `unless-stopped` and `always` respect it.
    pub manually_stopped: bool,
    #[serde(default)]
    pub mounts: Vec<ContainerMount>,
    #[serde(default)]
    pub network_settings: NetworkSettings,
    #[serde(default)]
    pub exec_ids: Vec<String>,
}

impl ContainerRecord {
    /// Short id: the 12 characters Docker shows.
    pub fn short_id(&self) -> &str {
        short(&self.id)
    }

    /// The names of the volumes it mounts.
    pub fn volume_names(&self) -> impl Iterator<Item = &str> {
        self.mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .map(|m| m.name.as_str())
    }

    /// The name without its slash.
    pub fn bare_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }

    /// Write the record; `Durability::Synced` when it must survive a crash of the machine.
    pub fn save(&self, dir: &Path, tmp: &Path, durability: Durability) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(self).expect("a container record serializes");
        let path = dir.join("config.v2.json");
        match durability {
            Durability::Synced => write_atomic(&path, tmp, &json),
            Durability::RunState => replace_atomic(&path, tmp, &json),
        }
    }

    /// The record in `dir`, which must be a container's: its id is 64 hex digits and the
    /// directory's name (a record edited or damaged on disk is refused, not trusted).
    pub fn load(dir: &Path) -> Result<ContainerRecord, StoreError> {
        let path = dir.join("config.v2.json");
        let bytes = std::fs::read(&path).map_err(StoreError::io(format!("read {}", path.display())))?;
        let record: ContainerRecord =
            serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                path: path.clone(),
                source,
            })?;
        let is_id = record.id.len() == 64 && record.id.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_id || dir.file_name() != Some(record.id.as_ref()) {
            return Err(StoreError::Io {
                context: format!("read {}", path.display()),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the id {:?} is not this container directory's", record.id),
                ),
            });
        }
        Ok(record)
    }
}

/// The first 12 characters of an id (all of a shorter one).
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Where a container's files are.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    /// `<data-root>/containers/<id>`: record, log, /etc files, the container layer.
    pub data: PathBuf,
    /// `<exec-root>/c/<short id>`: the bundle and the shim's state (socket, exit record).
    /// Short, because a UNIX socket path must fit in 108 bytes.
    pub exec: PathBuf,
    /// `<data-root>/init-layer`: see [`ContainerPaths::init_layer`].
    init: PathBuf,
}

/// Where the init layer every container shares lives.
pub fn shared_init_layer(data_root: &Path) -> PathBuf {
    data_root.join("init-layer")
}

impl ContainerPaths {
    pub fn new(data_root: &Path, exec_root: &Path, id: &str) -> ContainerPaths {
        ContainerPaths {
            data: data_root.join("containers").join(id),
            exec: exec_root.join("c").join(short(id)),
            init: shared_init_layer(data_root),
        }
    }

    pub fn record(&self) -> PathBuf {
        self.data.join("config.v2.json")
    }

    pub fn log(&self, id: &str) -> PathBuf {
        self.data.join(format!("{id}-json.log"))
    }

    pub fn hostname(&self) -> PathBuf {
        self.data.join("hostname")
    }

    pub fn hosts(&self) -> PathBuf {
        self.data.join("hosts")
    }

    pub fn resolv_conf(&self) -> PathBuf {
        self.data.join("resolv.conf")
    }

    /// Docker's "init" layer: empty mount points (/etc/hosts, /dev/shm…) between the image and
    /// the container layer, so they never show up in `diff` or `commit`. Docker makes one per
    /// container; its content is the same for all and overlay never writes to a lower layer,
    /// so berthd makes it once: a dozen fewer files and directories on each create.
    pub fn init_layer(&self) -> PathBuf {
        self.init.clone()
    }

    /// The container layer: overlay upper dir.
    pub fn upper(&self) -> PathBuf {
        self.data.join("layer/diff")
    }

    pub fn work(&self) -> PathBuf {
        self.data.join("layer/work")
    }

    /// Where the overlay (image layers + container layer) is mounted: the container's root.
    pub fn rootfs(&self) -> PathBuf {
        self.data.join("layer/merged")
    }
}
