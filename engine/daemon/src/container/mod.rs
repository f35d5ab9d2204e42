//! Containers: records on disk, their lifecycle (create, start, stop, kill, wait, remove…), and
//! the OCI bundle each one runs from. One file per operation, as youki lays it out.
//!
//! Locks: each container has a `lifecycle` lock that serialises operations that change its
//! process (start, stop, kill, remove), and a short-held `record` lock for its data, so `ps` and
//! `inspect` never wait behind a ten-second stop. The exit of a process is seen by a monitor
//! task, which only takes the record lock.

mod archive;
mod attach;
mod commit;
pub mod config;
mod create;
mod error;
mod etc_files;
mod exec;
mod health;
mod inspect;
mod logs;
mod monitor;
pub mod mounts;
pub mod name;
mod network;
mod pause;
mod prune;
pub mod record;
mod remove;
mod restore;
pub mod seccomp;
pub mod spec;
mod start;
mod stats;
mod stop;
mod top;
mod unlink;
mod update;
mod user;
mod validate;
mod wait;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

pub use archive::{Export, ExtractRequest, OpenedFs, PathArchive};
pub use attach::AttachStream;
pub use error::ContainerError;
pub use exec::ExecStart;
pub use inspect::{ListOptions, status_text};
pub use logs::LogOptions;
pub use record::{ContainerPaths, ContainerRecord, Status};
pub use stats::StatsTarget;
pub use wait::WaitCondition;

use crate::events::Events;
use crate::image::{ImageUser, Images};
use crate::network::Networks;
use crate::volume::Volumes;

pub use crate::id::new_id;
pub use validate::RUNTIME;

/// The programs below berthd in the chain.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub shim: PathBuf,
    pub runtime: PathBuf,
}

impl Binaries {
    /// Next to berthd's own executable (a build or an install dir), else on PATH.
    pub fn locate() -> Binaries {
        let dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        let find = |name: &str| match &dir {
            Some(dir) if dir.join(name).exists() => dir.join(name),
            _ => PathBuf::from(name),
        };
        Binaries {
            shim: find("berth-shim"),
            runtime: find("berth-runtime"),
        }
    }
}

/// One container: its record, and the signals its lifecycle gives.
#[derive(Debug)]
pub struct Container {
    pub id: String,
    pub paths: ContainerPaths,
    record: Mutex<ContainerRecord>,
    /// Serialises start, stop, kill, restart and remove.
    lifecycle: Arc<tokio::sync::Mutex<()>>,
    /// Counts the process's exits; waiters watch it change.
    exits: watch::Sender<u64>,
    /// Becomes true when the container is removed.
    removed: watch::Sender<bool>,
    /// Attach requests made before start: served with the shim's streams when it starts.
    pending_attach: Mutex<Vec<start::PendingAttach>>,
    /// Exec instances of this container.
    execs: Mutex<BTreeMap<String, exec::Exec>>,
}

impl Container {
    fn new(record: ContainerRecord, paths: ContainerPaths) -> Arc<Container> {
        Arc::new(Container {
            id: record.id.clone(),
            paths,
            record: Mutex::new(record),
            lifecycle: Arc::new(tokio::sync::Mutex::new(())),
            exits: watch::channel(0).0,
            removed: watch::channel(false).0,
            pending_attach: Mutex::new(Vec::new()),
            execs: Mutex::new(BTreeMap::new()),
        })
    }

    /// A copy of the record as it is now.
    pub fn record(&self) -> ContainerRecord {
        self.record.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Change how the container runs (status, pid, network settings) and write the record.
    fn update<T>(
        &self,
        tmp: &Path,
        change: impl FnOnce(&mut ContainerRecord) -> T,
    ) -> Result<T, ContainerError> {
        self.update_with(tmp, record::Durability::RunState, change)
    }

    /// Change what the user asked for (name, configuration, networks, a manual stop) and write
    /// the record so that it outlives a crash of the machine.
    fn update_durably<T>(
        &self,
        tmp: &Path,
        change: impl FnOnce(&mut ContainerRecord) -> T,
    ) -> Result<T, ContainerError> {
        self.update_with(tmp, record::Durability::Synced, change)
    }

    fn update_with<T>(
        &self,
        tmp: &Path,
        durability: record::Durability,
        change: impl FnOnce(&mut ContainerRecord) -> T,
    ) -> Result<T, ContainerError> {
        let mut record = self.record.lock().unwrap_or_else(|p| p.into_inner());
        let result = change(&mut record);
        record.save(&self.paths.data, tmp, durability)?;
        Ok(result)
    }

    fn shim(&self) -> berth_shim::client::ShimClient {
        berth_shim::client::ShimClient::for_state_dir(&self.paths.exec)
    }
}

/// The containers service.
#[derive(Debug, Clone)]
pub struct Containers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    data_root: PathBuf,
    exec_root: PathBuf,
    tmp: PathBuf,
    images: Images,
    volumes: Arc<Volumes>,
    networks: Arc<Networks>,
    binaries: Binaries,
    events: Arc<Events>,
    table: Mutex<BTreeMap<String, Arc<Container>>>,
}

impl Containers {
    /// Open the containers under `data_root`, finding running ones again (see `restore`).
    pub fn open(
        data_root: &Path,
        exec_root: &Path,
        images: Images,
        volumes: Arc<Volumes>,
        networks: Arc<Networks>,
        events: Arc<Events>,
        binaries: Binaries,
    ) -> Result<Containers, ContainerError> {
        let tmp = data_root.join("tmp");
        for dir in [
            data_root.join("containers"),
            exec_root.join("c"),
            exec_root.join("runtime"),
            tmp.clone(),
        ] {
            std::fs::create_dir_all(&dir)?;
        }
        etc_files::ensure_init_layer(&record::shared_init_layer(data_root), &tmp)?;
        let containers = Containers {
            inner: Arc::new(Inner {
                data_root: data_root.to_owned(),
                exec_root: exec_root.to_owned(),
                tmp,
                images,
                volumes,
                networks,
                binaries,
                events,
                table: Mutex::new(BTreeMap::new()),
            }),
        };
        containers.load_records()?;
        Ok(containers)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Container>>> {
        self.inner.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every container, in creation order.
    pub fn all(&self) -> Vec<Arc<Container>> {
        let mut all: Vec<Arc<Container>> = self.table().values().cloned().collect();
        all.sort_by_key(|c| c.record().created);
        all
    }

    /// Find a container as Docker does: full id, exact name, then a unique id prefix.
    pub fn get(&self, name: &str) -> Result<Arc<Container>, ContainerError> {
        let table = self.table();
        if let Some(container) = table.get(name) {
            return Ok(container.clone());
        }
        let wanted = format!("/{}", name.trim_start_matches('/'));
        if let Some(container) = table.values().find(|c| c.record().name == wanted) {
            return Ok(container.clone());
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut matches = table
                .range(name.to_owned()..)
                .take_while(|(id, _)| id.starts_with(name));
            if let Some((_, first)) = matches.next() {
                if matches.next().is_some() {
                    return Err(ContainerError::Ambiguous(name.to_owned()));
                }
                return Ok(first.clone());
            }
        }
        Err(ContainerError::NotFound(name.to_owned()))
    }

    /// The containers that stand on images, for rmi and image prune.
    pub fn image_users(&self) -> Vec<ImageUser> {
        self.all()
            .iter()
            .map(|c| {
                let record = c.record();
                ImageUser {
                    container_id: record.id.clone(),
                    image: record.image.clone(),
                    running: record.state.status.is_running(),
                    top_layer: record.top_layer.clone(),
                }
            })
            .collect()
    }

    /// Give back what a container holds on the host while it runs: its network endpoints, the
    /// mount of its root file system, and its share of its volumes' filesystems.
    fn release_host_resources(&self, container: &Container, veths: crate::network::VethRelease) {
        self.leave_networks(container, veths);
        let _ = crate::layer::unmount(&container.paths.rootfs());
        for volume in container.record().volume_names() {
            self.inner.volumes.deactivate(volume, &container.id);
        }
    }

    /// A container found running after a restart holds its volumes' filesystems again.
    fn restore_volumes(&self, container: &Container) {
        for volume in container.record().volume_names() {
            if let Err(e) = self.inner.volumes.activate(volume, &container.id) {
                tracing::warn!(container = %container.id, "volume {volume}: {e}");
            }
        }
    }

    /// What dockerd logs as a container starts, before its `start`: a network `connect` for each
    /// network it joined, then a volume `mount` for each volume.
    fn publish_start_events(&self, container: &Container) {
        let record = container.record();
        self.publish_network_events(&record, "connect");
        for mount in record
            .mounts
            .iter()
            .filter(|m| m.kind == mounts::MountKind::Volume)
        {
            self.inner.volumes.mount_event(
                &mount.name,
                &record.id,
                &mount.destination,
                mount.rw,
                &mount.propagation,
            );
        }
    }

    /// What dockerd's cleanup logs after a started container's `die` (or a start that failed
    /// after [`Containers::publish_start_events`]): a network `disconnect` for each network,
    /// then a volume `unmount` for each volume.
    fn publish_exit_events(&self, container: &Container) {
        let record = container.record();
        self.publish_network_events(&record, "disconnect");
        for volume in record.volume_names() {
            self.inner.volumes.unmount_event(volume, &record.id);
        }
    }

    /// The containers that mount a volume (ids), for `volume rm` and `volume prune`.
    pub fn volume_users(&self, volume: &str) -> Vec<String> {
        self.all()
            .iter()
            .filter(|c| c.record().volume_names().any(|name| name == volume))
            .map(|c| c.id.clone())
            .collect()
    }

    fn paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths::new(&self.inner.data_root, &self.inner.exec_root, id)
    }

    fn runtime_root(&self) -> PathBuf {
        self.inner.exec_root.join("runtime")
    }

    /// Publish a container event with Docker's attributes (name, image, labels).
    fn event(&self, container: &Container, action: &str, extra: &[(&str, String)]) {
        let record = container.record();
        let mut attributes: BTreeMap<String, String> = record.config.labels.clone().unwrap_or_default();
        attributes.insert("name".into(), record.bare_name().into());
        attributes.insert("image".into(), record.config.image.clone());
        for (k, v) in extra {
            attributes.insert((*k).into(), v.clone());
        }
        self.inner
            .events
            .publish("container", action, &record.id, attributes);
    }
}
