//! The state directory (`--root`): one folder per container.
//!
//! `<root>/<id>/state.json` is our record of the container (its init pid and that pid's start time,
//! so a recycled pid is never mistaken for it), `<root>/<id>/exec.fifo` exists while the init waits
//! for `start`. The status is never stored: it is read from the kernel each time, as runc does.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The OCI runtime-spec version we report.
pub const OCI_VERSION: &str = "1.0.2";

/// File name of the FIFO the init blocks on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";

const RECORD: &str = "state.json";

/// Errors about containers' state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// invalid container id: {0} (use letters, digits, '_', '+', '-' and '.')
    #[error("invalid container id: {0:?} (use letters, digits, '_', '+', '-' and '.')")]
    InvalidId(String),
    /// container does not exist: {0}
    #[error("container does not exist: {0}")]
    NotFound(String),
    /// container with id exists: {0}
    #[error("container with id exists: {0}")]
    Exists(String),
    /// cannot read or write the state of a container
    #[error("state of container {id}: {source}")]
    Io {
        /// The container.
        id: String,
        /// What failed.
        source: std::io::Error,
    },
    /// the state file of a container is corrupt
    #[error("state of container {id} is corrupt: {source}")]
    Corrupt {
        /// The container.
        id: String,
        /// What failed.
        source: serde_json::Error,
    },
}

/// A container's status, as the OCI spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still setting the container up (only ever shown to hooks).
    Creating,
    /// The init is set up and waits for `start`.
    Created,
    /// The user's program runs.
    Running,
    /// The container's processes are frozen (`pause`) until `resume`.
    Paused,
    /// The init has exited (or was never there).
    Stopped,
}

impl Status {
    /// The lower-case name used in the state JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    /// `start` only applies to a created container.
    pub fn can_start(self) -> bool {
        self == Status::Created
    }

    /// Signals go to a created, running or paused container.
    pub fn can_kill(self) -> bool {
        self != Status::Stopped
    }

    /// `delete` without `--force` applies to stopped (and created) containers, like runc: a
    /// running or paused one needs `--force`.
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Stopped | Status::Created)
    }

    /// `exec` needs a live init whose namespaces can be joined, and a process joining a frozen
    /// cgroup would freeze at once (runc refuses it too).
    pub fn can_exec(self) -> bool {
        matches!(self, Status::Created | Status::Running)
    }

    /// `pause` freezes a created or running container, as runc allows.
    pub fn can_pause(self) -> bool {
        matches!(self, Status::Created | Status::Running)
    }

    /// `resume` only thaws a paused container.
    pub fn can_resume(self) -> bool {
        self == Status::Paused
    }
}

/// What we remember about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The container id.
    pub id: String,
    /// The init's pid on the host.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/<pid>/stat), to tell a recycled pid apart.
    pub pid_start_time: u64,
    /// The spec version of the container's config (`ociVersion`), which `state` and `list`
    /// report as runc does; empty in records written before it was kept.
    #[serde(default)]
    pub oci_version: String,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// When `create` finished, RFC 3339.
    pub created: String,
    /// The spec's annotations.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The cgroup directories we made (one per v1 hierarchy, or one on v2), removed by `delete`.
    #[serde(default)]
    pub cgroup_dirs: Vec<PathBuf>,
    /// Hooks to run after `start`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<oci_spec::runtime::Hook>,
    /// Hooks to run after `delete`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<oci_spec::runtime::Hook>,
}

/// The state JSON that `state` prints, shaped like runc's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// Spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init pid (0 once stopped, as runc reports).
    pub pid: i32,
    /// created, running or stopped.
    pub status: Status,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Owner of the container ("" for root, like runc).
    pub owner: String,
    /// The spec's annotations.
    pub annotations: HashMap<String, String>,
}

/// Check an id the way runc does: `^[\w+\-\.]+$`, and never `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

/// The folder of one container under `--root`.
#[derive(Debug, Clone)]
pub struct ContainerDir {
    /// The container id.
    pub id: String,
    /// `<root>/<id>`.
    pub path: PathBuf,
}

impl ContainerDir {
    /// The folder for `id` under `root` (not checked for existence).
    pub fn new(root: &Path, id: &str) -> Result<Self, StateError> {
        validate_id(id)?;
        Ok(Self {
            id: id.to_string(),
            path: root.join(id),
        })
    }

    fn io(&self, source: std::io::Error) -> StateError {
        StateError::Io {
            id: self.id.clone(),
            source,
        }
    }

    /// Make the folder; fails if the container already exists.
    pub fn create(&self) -> Result<(), StateError> {
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(|e| self.io(e))?;
        }
        match fs::DirBuilder::new().mode(0o711).create(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StateError::Exists(self.id.clone()))
            }
            Err(e) => Err(self.io(e)),
        }
    }

    /// The exec FIFO's path.
    pub fn exec_fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Write the record atomically (temp file, rename). Not fsynced, as runc does not: the record
    /// describes live processes, which a crash or reboot ends anyway, and the root is normally a
    /// tmpfs under /run; the rename alone keeps readers from seeing half a record.
    pub fn save(&self, record: &Record) -> Result<(), StateError> {
        let json = serde_json::to_vec(record).map_err(|source| StateError::Corrupt {
            id: self.id.clone(),
            source,
        })?;
        let tmp = self.path.join(".state.json.tmp");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        file.write_all(&json).map_err(|e| self.io(e))?;
        fs::rename(&tmp, self.path.join(RECORD)).map_err(|e| self.io(e))
    }

    /// Read the record; a missing folder means the container does not exist.
    pub fn load(&self) -> Result<Record, StateError> {
        let bytes = match fs::read(self.path.join(RECORD)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(self.id.clone()));
            }
            Err(e) => return Err(self.io(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
            id: self.id.clone(),
            source,
        })
    }

    /// Remove the folder and everything in it; a missing folder is fine.
    pub fn remove(&self) -> Result<(), StateError> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// The status, read from the kernel: is the init alive, is its cgroup frozen, and is it
    /// still waiting on the FIFO?
    pub fn status(&self, record: &Record) -> Status {
        match ProcStat::read(record.pid) {
            Some(stat) if stat.start_time == record.pid_start_time && stat.state != 'Z' => {
                let frozen = crate::cgroups::freezer::Freezer::of(&record.cgroup_dirs)
                    .is_some_and(|f| f.is_frozen().unwrap_or(false));
                if frozen {
                    Status::Paused
                } else if self.exec_fifo().exists() {
                    Status::Created
                } else {
                    Status::Running
                }
            }
            _ => Status::Stopped,
        }
    }

    /// The OCI state JSON for this container.
    pub fn oci_state(&self, record: &Record) -> OciState {
        let status = self.status(record);
        let oci_version = if record.oci_version.is_empty() {
            OCI_VERSION
        } else {
            &record.oci_version
        };
        OciState {
            oci_version: oci_version.to_string(),
            id: record.id.clone(),
            pid: if status == Status::Stopped { 0 } else { record.pid },
            status,
            bundle: record.bundle.clone(),
            rootfs: record.rootfs.clone(),
            created: go_rfc3339_nano(&record.created),
            owner: String::new(),
            annotations: record.annotations.clone(),
        }
    }
}

/// An RFC 3339 time as Go's `time.RFC3339Nano` prints it (runc's `created`): the fraction of a
/// second without trailing zeros, and no fraction at all when it is zero.
pub fn go_rfc3339_nano(time: &str) -> String {
    let Some(dot) = time.find('.') else {
        return time.to_string();
    };
    let digits = time[dot + 1..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(time.len(), |end| dot + 1 + end);
    let fraction = time[dot + 1..digits].trim_end_matches('0');
    let separator = if fraction.is_empty() { "" } else { "." };
    format!("{}{separator}{fraction}{}", &time[..dot], &time[digits..])
}

/// The few fields of `/proc/<pid>/stat` we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// R, S, D, Z, T …
    pub state: char,
    /// Start time in clock ticks after boot.
    pub start_time: u64,
}

impl ProcStat {
    /// Read `/proc/<pid>/stat`; `None` when there is no such process.
    pub fn read(pid: i32) -> Option<Self> {
        if pid <= 0 {
            return None;
        }
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Self::parse(&text)
    }

    /// Parse the text of a stat file. The command name may hold spaces and parentheses, so the
    /// fields are counted from the last `)`.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = &text[text.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        let state = fields.next()?.chars().next()?;
        // After the state (field 3) comes field 4; start time is field 22, i.e. 18 further on.
        let start_time = fields.nth(18)?.parse().ok()?;
        Some(Self { state, start_time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        assert!(validate_id("web1").is_ok());
        assert!(validate_id("a.b_c+d-e").is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id("..").is_err());
        assert!(validate_id("a/b").is_err());
        assert!(validate_id("a b").is_err());
    }

    #[test]
    fn stat_parsing_counts_from_the_last_parenthesis() {
        let text = "1234 (we ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        let stat = ProcStat::parse(text).expect("parses");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.start_time, 987654);
    }

    #[test]
    fn own_process_stat_is_readable() {
        let stat = ProcStat::read(std::process::id() as i32).expect("own stat");
        assert_ne!(stat.state, 'Z');
        assert!(stat.start_time > 0);
    }

    #[test]
    fn record_round_trips_and_missing_means_not_found() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = ContainerDir::new(root.path(), "c1").expect("valid id");
        assert!(matches!(dir.load(), Err(StateError::NotFound(_))));
        dir.create().expect("create");
        assert!(matches!(dir.create(), Err(StateError::Exists(_))));
        let record = Record {
            id: "c1".into(),
            pid: 0,
            pid_start_time: 0,
            oci_version: String::new(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now(),
            annotations: HashMap::new(),
            cgroup_dirs: vec![],
            poststart: vec![],
            poststop: vec![],
        };
        dir.save(&record).expect("save");
        let loaded = dir.load().expect("load");
        assert_eq!(loaded.bundle, PathBuf::from("/b"));
        assert_eq!(dir.status(&loaded), Status::Stopped);
        assert_eq!(dir.oci_state(&loaded).pid, 0);
        dir.remove().expect("remove");
        assert!(!dir.path.exists());
    }

    #[test]
    fn created_times_are_printed_as_go_does() {
        assert_eq!(
            go_rfc3339_nano("2026-12-07T07:05:23.166788339Z"),
            "2026-12-07T07:05:23.166788339Z"
        );
        assert_eq!(
            go_rfc3339_nano("2026-12-07T07:05:23.166700000Z"),
            "2026-12-07T07:05:23.1667Z"
        );
        assert_eq!(
            go_rfc3339_nano("2026-12-07T07:05:23.000000000Z"),
            "2026-12-07T07:05:23Z"
        );
        assert_eq!(
            go_rfc3339_nano("2026-12-07T07:05:23.500+02:00"),
            "2026-12-07T07:05:23.5+02:00"
        );
        assert_eq!(go_rfc3339_nano("2026-12-07T07:05:23Z"), "2026-12-07T07:05:23Z");
    }

    fn now() -> String {
        crate::log::now_rfc3339()
    }
}
