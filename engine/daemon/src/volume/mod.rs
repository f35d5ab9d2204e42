//! Volumes (the local driver): directories under `<data-root>/volumes/<name>/_data` that
//! containers mount, named or anonymous, which outlive the containers that use them.
//!
//! Which containers use a volume is not stored here: it is derived from the container records,
//! so it can never drift.

mod copy_up;
mod driver_options;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_api::types::Volume;
use serde::{Deserialize, Serialize};

pub use copy_up::copy_up;
use driver_options::DeviceMount;

use crate::events::Events;
use crate::store::write_atomic;

/// The only driver berth has, as Docker's default.
pub const LOCAL_DRIVER: &str = "local";

/// Why a volume operation failed. Messages are Docker's.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// 404
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// 409: containers still use it
    #[error("remove {name}: volume is in use - [{}]", .containers.join(", "))]
    InUse { name: String, containers: Vec<String> },
    /// 400: a name the local driver refuses
    #[error("create {name}: {reason}")]
    InvalidName { name: String, reason: String },
    /// 404: a driver berth doesn't have
    #[error("create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found")]
    Driver { name: String, driver: String },
    /// 400: driver options the local driver doesn't take
    #[error("create {name}: {reason}")]
    Options { name: String, reason: String },
    /// 500: the filesystem a volume's options describe could not be mounted
    #[error("error while mounting volume '{mountpoint}': failed to mount local volume: {reason}")]
    Mount { mountpoint: String, reason: String },
    /// 500
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> VolumeError {
    let context = context.into();
    move |source| VolumeError::Io { context, source }
}

/// `<name>/volume.json`: what Docker keeps in its metadata database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct VolumeMeta {
    created_at: String,
    labels: Option<BTreeMap<String, String>>,
    options: Option<BTreeMap<String, String>>,
    /// Made for a container's VOLUME or `-v /path`: `rm -v` and `--rm` remove it.
    anonymous: bool,
}

/// The volumes service.
#[derive(Debug)]
pub struct Volumes {
    root: PathBuf,
    tmp: PathBuf,
    /// Serialises create and remove, so two creates of one name make one volume.
    lock: Mutex<()>,
    /// The running containers of each volume whose options mount a filesystem (Docker's
    /// reference count): mounted for the first, unmounted after the last.
    active: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// Where `create`, `destroy`, `mount` and `unmount` are published, as Docker's volume events.
    events: Arc<Events>,
}

/// Docker's rule for local volume names.
fn check_name(name: &str) -> Result<(), VolumeError> {
    let invalid = |reason: String| {
        Err(VolumeError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.len() < 2 {
        return invalid(
            "volume name is too short, names should be at least two alphanumeric characters".into(),
        );
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return invalid(format!(
            "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        ));
    }
    Ok(())
}

impl Volumes {
    pub fn open(root: &Path, tmp: &Path, events: Arc<Events>) -> Result<Volumes, VolumeError> {
        std::fs::create_dir_all(root).map_err(io_error(format!("create {}", root.display())))?;
        Ok(Volumes {
            root: root.to_owned(),
            tmp: tmp.to_owned(),
            lock: Mutex::new(()),
            active: Mutex::default(),
            events,
        })
    }

    /// Publish a volume event as Docker's: the actor is the volume's name, and every event
    /// names the driver.
    fn event(&self, action: &str, name: &str, extra: &[(&str, &str)]) {
        let mut attributes = BTreeMap::from([("driver".to_owned(), LOCAL_DRIVER.to_owned())]);
        for (key, value) in extra {
            attributes.insert((*key).to_owned(), (*value).to_owned());
        }
        self.events.publish("volume", action, name, attributes);
    }

    /// Docker's `mount` event: a starting container (full id) mounts the volume at
    /// `destination`.
    pub fn mount_event(&self, name: &str, container: &str, destination: &str, rw: bool, propagation: &str) {
        let rw = if rw { "true" } else { "false" };
        self.event(
            "mount",
            name,
            &[
                ("container", container),
                ("destination", destination),
                ("propagation", propagation),
                ("read/write", rw),
            ],
        );
    }

    /// Docker's `unmount` event: the container that mounted the volume stopped.
    pub fn unmount_event(&self, name: &str, container: &str) {
        self.event("unmount", name, &[("container", container)]);
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Where the volume's files are (what containers mount).
    pub fn mountpoint(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    fn meta(&self, name: &str) -> Result<VolumeMeta, VolumeError> {
        let path = self.dir(name).join("volume.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| VolumeError::Io {
                context: format!("read {}", path.display()),
                source: io::Error::other(e),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(VolumeError::NotFound(name.to_owned())),
            Err(e) => Err(io_error(format!("read {}", path.display()))(e)),
        }
    }

    fn to_api(&self, name: &str, meta: VolumeMeta) -> Volume {
        Volume {
            created_at: meta.created_at,
            driver: LOCAL_DRIVER.into(),
            labels: meta.labels,
            mountpoint: self.mountpoint(name).display().to_string(),
            name: name.to_owned(),
            options: meta.options,
            scope: "local".into(),
            usage_data: None,
        }
    }

    /// `POST /volumes/create`; an existing volume of that name is returned as it is (Docker's
    /// create is idempotent). No name: an anonymous volume with a 64-hex name.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: &str,
        labels: Option<BTreeMap<String, String>>,
        options: Option<BTreeMap<String, String>>,
    ) -> Result<Volume, VolumeError> {
        let anonymous = name.is_none_or(str::is_empty);
        let name = match name.filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => crate::id::new_id(),
        };
        if !driver.is_empty() && driver != LOCAL_DRIVER {
            return Err(VolumeError::Driver {
                name,
                driver: driver.to_owned(),
            });
        }
        check_name(&name)?;
        if let Some(options) = &options {
            driver_options::validate(options).map_err(|reason| VolumeError::Options {
                name: name.clone(),
                reason,
            })?;
        }
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // Docker logs `create` for every successful create, also of a volume that exists (so
        // `run -v name:/path` logs one each time).
        if let Ok(meta) = self.meta(&name) {
            self.event("create", &name, &[]);
            return Ok(self.to_api(&name, meta));
        }
        // Kept as given, as Docker does: `{}` from `volume create` (the CLI sends empty maps),
        // `null` for a volume a container's `-v` made.
        let meta = VolumeMeta {
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options,
            anonymous,
        };
        let dir = self.dir(&name);
        let made = (|| {
            std::fs::create_dir_all(self.mountpoint(&name))?;
            let json = serde_json::to_vec_pretty(&meta).map_err(io::Error::other)?;
            write_atomic(&dir.join("volume.json"), &self.tmp, &json).map_err(io::Error::other)
        })();
        if let Err(e) = made {
            let _ = crate::tree::remove_all(&dir);
            return Err(io_error(format!("create volume {name}"))(e));
        }
        crate::explain!("created volume {name} at {}", self.mountpoint(&name).display());
        self.event("create", &name, &[]);
        Ok(self.to_api(&name, meta))
    }

    /// `GET /volumes/{name}`.
    pub fn inspect(&self, name: &str) -> Result<Volume, VolumeError> {
        Ok(self.to_api(name, self.meta(name)?))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.meta(name).is_ok()
    }

    /// Was it made anonymously (for a VOLUME or `-v /path`)?
    pub fn is_anonymous(&self, name: &str) -> bool {
        self.meta(name).is_ok_and(|m| m.anonymous)
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>, VolumeError> {
        let mut volumes = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io_error("list volumes"))? {
            let name = entry
                .map_err(io_error("list volumes"))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if let Ok(meta) = self.meta(&name) {
                volumes.push(self.to_api(&name, meta));
            }
        }
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// `DELETE /volumes/{name}`: refused while containers (`users`) use it, unless `force` (Docker
    /// refuses even then for a volume in use: force only ignores a missing volume).
    pub fn remove(&self, name: &str, users: &[String], force: bool) -> Result<(), VolumeError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = self.meta(name) {
            return if force { Ok(()) } else { Err(e) };
        }
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_owned(),
                containers: users.to_vec(),
            });
        }
        // Never walk into a mounted filesystem: a bind volume's device is a host directory.
        let mountpoint = self.mountpoint(name);
        if driver_options::is_mount_point(&mountpoint) {
            driver_options::unmount(&mountpoint).map_err(io_error(format!("remove volume {name}")))?;
            crate::explain!(
                "unmounted the filesystem of volume {name} from {}",
                mountpoint.display()
            );
        }
        crate::tree::remove_all(self.dir(name)).map_err(io_error(format!("remove volume {name}")))?;
        crate::explain!("removed volume {name} and its files");
        self.event("destroy", name, &[]);
        Ok(())
    }

    /// A container starting with the volume: mount the filesystem its options describe, unless
    /// it is mounted already (for another container, or before berthd restarted).
    pub fn activate(&self, name: &str, container: &str) -> Result<(), VolumeError> {
        let Some(device) = DeviceMount::from_options(self.meta(name)?.options.as_ref()) else {
            return Ok(());
        };
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let mountpoint = self.mountpoint(name);
        if !driver_options::is_mount_point(&mountpoint) {
            device.mount(&mountpoint).map_err(|reason| VolumeError::Mount {
                mountpoint: mountpoint.display().to_string(),
                reason,
            })?;
            crate::explain!(
                "mounted {} {} at {} for volume {name} (options {:?})",
                device.fs_type,
                device.device,
                mountpoint.display(),
                device.options
            );
        }
        active
            .entry(name.to_owned())
            .or_default()
            .insert(container.to_owned());
        Ok(())
    }

    /// A container using the volume ended: the last one out unmounts its filesystem.
    pub fn deactivate(&self, name: &str, container: &str) {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let Some(users) = active.get_mut(name) else { return };
        if !users.remove(container) || !users.is_empty() {
            return;
        }
        active.remove(name);
        let mountpoint = self.mountpoint(name);
        if driver_options::is_mount_point(&mountpoint) {
            match driver_options::unmount(&mountpoint) {
                Ok(()) => crate::explain!(
                    "unmounted the filesystem of volume {name} from {}: no running container uses it",
                    mountpoint.display()
                ),
                Err(e) => tracing::warn!("unmount volume {name}: {e}"),
            }
        }
    }

    /// After a restart: unmount the filesystems of volumes no running container uses (their
    /// last container ended while berthd was away).
    pub fn unmount_inactive(&self) {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        for volume in self.list().unwrap_or_default() {
            let mountpoint = self.mountpoint(&volume.name);
            if DeviceMount::from_options(volume.options.as_ref()).is_some()
                && !active.contains_key(&volume.name)
                && driver_options::is_mount_point(&mountpoint)
                && driver_options::unmount(&mountpoint).is_ok()
            {
                crate::explain!(
                    "unmounted the filesystem of volume {} (no running container)",
                    volume.name
                );
            }
        }
    }

    /// Bytes of the files in a volume (a tree a container made: walked iteratively).
    pub fn size(&self, name: &str) -> u64 {
        crate::tree::size(self.mountpoint(name))
    }

    /// Is the volume's directory empty (so it gets a copy of the image's files)?
    pub fn is_empty(&self, name: &str) -> bool {
        std::fs::read_dir(self.mountpoint(name)).is_ok_and(|mut d| d.next().is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        assert!(check_name("website").is_ok());
        assert!(check_name("db_1.data-x").is_ok());
        assert_eq!(
            check_name("x").unwrap_err().to_string(),
            "create x: volume name is too short, names should be at least two alphanumeric characters"
        );
        assert!(
            check_name("bad name")
                .unwrap_err()
                .to_string()
                .contains("includes invalid characters")
        );
        assert!(check_name("-x").is_err());
    }

    #[test]
    fn create_is_idempotent_and_remove_respects_users() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = Volumes::open(&dir.path().join("volumes"), dir.path(), Arc::default()).unwrap();
        let labels = Some(BTreeMap::from([("a".to_string(), "b".to_string())]));
        let first = volumes
            .create(Some("website"), "local", labels.clone(), None)
            .unwrap();
        let again = volumes.create(Some("website"), "", None, None).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.labels, labels);
        assert!(first.mountpoint.ends_with("volumes/website/_data"));
        let anonymous = volumes.create(None, "local", None, None).unwrap();
        assert_eq!(anonymous.name.len(), 64);
        assert!(volumes.is_anonymous(&anonymous.name) && !volumes.is_anonymous("website"));
        let refused = volumes.remove("website", &["abc".into()], false).unwrap_err();
        assert_eq!(refused.to_string(), "remove website: volume is in use - [abc]");
        volumes.remove("website", &[], false).unwrap();
        assert_eq!(
            volumes.inspect("website").unwrap_err().to_string(),
            "get website: no such volume"
        );
        assert!(volumes.create(Some("v2"), "nfs", None, None).is_err());
    }

    #[test]
    fn creates_and_removals_publish_dockers_events() {
        let dir = tempfile::tempdir().unwrap();
        let events = Arc::new(Events::default());
        let volumes = Volumes::open(&dir.path().join("volumes"), dir.path(), events.clone()).unwrap();
        volumes.create(Some("data"), "", None, None).unwrap();
        // Docker logs a create for an existing volume too; not for a refused one.
        volumes.create(Some("data"), "local", None, None).unwrap();
        assert!(volumes.create(Some("x"), "", None, None).is_err());
        volumes.mount_event("data", "c0ffee", "/data", false, "");
        volumes.unmount_event("data", "c0ffee");
        volumes.remove("data", &[], false).unwrap();
        // A forced remove of a missing volume removes nothing and says nothing.
        volumes.remove("data", &[], true).unwrap();
        let (history, _) = events.subscribe();
        let seen: Vec<(&str, &str, &str)> = history
            .iter()
            .map(|e| (e.r#type.as_str(), e.action.as_str(), e.actor.id.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("volume", "create", "data"),
                ("volume", "create", "data"),
                ("volume", "mount", "data"),
                ("volume", "unmount", "data"),
                ("volume", "destroy", "data")
            ]
        );
        let mount = &history[2].actor.attributes;
        let attribute = |k: &str| mount.get(k).map(String::as_str);
        assert_eq!(
            (
                attribute("container"),
                attribute("destination"),
                attribute("driver"),
                attribute("propagation"),
                attribute("read/write")
            ),
            (
                Some("c0ffee"),
                Some("/data"),
                Some("local"),
                Some(""),
                Some("false")
            )
        );
        // Volume events carry no legacy `status`/`id` fields.
        assert!(history[0].status.is_empty() && history[0].id.is_empty());
    }
}
