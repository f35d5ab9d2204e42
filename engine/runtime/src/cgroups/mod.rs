//! cgroups: the container's cgroup, its limits, and its removal.
//!
//! The layout is read at run time from `/proc/self/mountinfo`: when controllers are mounted as
//! cgroup v1 hierarchies (a "hybrid" host like this one keeps memory, cpu, pids … there), the
//! container gets a directory in each (and, like runc, one in the unified tree beside them); on a
//! pure cgroup v2 host it gets one directory in the unified tree. `cgroupsPath` is read as runc's
//! cgroupfs driver reads it: an absolute path (Docker's `/berth/<id>`) from each hierarchy's root,
//! a relative one from the runtime's own cgroup in that hierarchy (on pure v2: from its parent).

/// `favordynmods`: moving processes into cgroups without waiting for an RCU grace period.
pub mod dynmods;
/// Pausing and resuming: the v1 freezer or v2's `cgroup.freeze`.
pub mod freezer;
/// Watching for OOM kills: v1's `memory.oom_control` eventfd, v2's `memory.events`.
pub mod oom;
/// Reading a cgroup's statistics in the shape of runc's `events` JSON.
pub mod stats;
/// cgroup v1: one directory per controller hierarchy.
pub mod v1;
/// cgroup v2: one directory in the unified tree.
pub mod v2;

use std::fs;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::LinuxResources;

/// Errors about cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// no cgroup filesystem is mounted
    #[error("no cgroup filesystem is mounted")]
    NotMounted,
    /// cannot read the mount table
    #[error("cannot read /proc/self/mountinfo: {0}")]
    MountInfo(std::io::Error),
    /// cannot create a cgroup directory
    #[error("cannot create cgroup {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// cannot write a cgroup file
    #[error("cannot write {value:?} to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The value.
        value: String,
        /// What failed.
        source: std::io::Error,
    },
    /// cannot read a cgroup file
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// the host lacks the controller a resource needs
    #[error(
        "cannot apply linux.resources.{resource}: the {controller} cgroup controller is not available on this host"
    )]
    MissingController {
        /// The spec's resource (`network`, `hugepageLimits` …).
        resource: &'static str,
        /// The controller it needs.
        controller: String,
    },
    /// a resource value the kernel would refuse, said before writing anything
    #[error("{0}")]
    Invalid(String),
    /// the freezer did not reach the wanted state in time
    #[error("cgroup {path} did not become {want} in time (it is {state})")]
    FreezeTimeout {
        /// The cgroup directory.
        path: PathBuf,
        /// FROZEN or THAWED.
        want: &'static str,
        /// What it last read.
        state: String,
    },
    /// no freezer for a container's cgroup
    #[error("the freezer cgroup controller is not available for this container")]
    NoFreezer,
    /// cannot remove a cgroup directory
    #[error("cannot remove cgroup {path}: {source}")]
    Remove {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// One cgroup v1 hierarchy as mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Where it is mounted (`/sys/fs/cgroup/memory`).
    pub mountpoint: PathBuf,
    /// Its controllers (`["cpu", "cpuacct"]`) or name (`["name=systemd"]`).
    pub controllers: Vec<String>,
    /// The directory of the hierarchy that is mounted there (`/` unless in a cgroup namespace).
    pub root: PathBuf,
    /// The runtime's own cgroup in it, relative to the mountpoint (`process_api/f2f2…`): where a
    /// relative `cgroupsPath` starts.
    pub own: PathBuf,
}

impl V1Hierarchy {
    /// Whether the hierarchy carries this controller.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// Whether it is a named hierarchy without controllers (`name=systemd`).
    pub fn is_named_only(&self) -> bool {
        self.controllers.iter().all(|c| c.starts_with("name="))
    }

    /// The directory of a container path (see [`container_path`]) in this hierarchy.
    pub fn dir_for(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            self.mountpoint.join(relative(path))
        } else {
            self.mountpoint.join(&self.own).join(path)
        }
    }
}

/// A path with its leading `/` taken off, ready to be joined below a mountpoint.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// How cgroups are mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// cgroup v1 hierarchies (empty on a pure v2 host).
    pub v1: Vec<V1Hierarchy>,
    /// The cgroup2 mount, if any (`/sys/fs/cgroup` or, on hybrid hosts, `/sys/fs/cgroup/unified`).
    pub v2: Option<PathBuf>,
    /// The directory of the cgroup2 tree mounted there (`/` unless in a cgroup namespace).
    pub v2_root: PathBuf,
    /// The runtime's own cgroup in the unified tree, relative to its mountpoint.
    pub v2_own: PathBuf,
}

impl Layout {
    /// Read the layout of this host.
    pub fn detect() -> Result<Self, CgroupError> {
        let text = fs::read_to_string("/proc/self/mountinfo").map_err(CgroupError::MountInfo)?;
        let mut layout = Self::from_mountinfo(&text)?;
        // Without it only relative paths suffer: they start at the hierarchies' roots.
        if let Ok(own) = fs::read_to_string("/proc/self/cgroup") {
            layout.set_own_cgroups(&own);
        }
        Ok(layout)
    }

    /// Record where the runtime itself sits in each hierarchy, from the text of
    /// `/proc/self/cgroup` (`4:memory:/process_api/f2f2…`, `0::/`), relative to each mount.
    pub fn set_own_cgroups(&mut self, text: &str) {
        for line in text.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let path = Path::new(path);
            if controllers.is_empty() {
                self.v2_own = relative(path.strip_prefix(&self.v2_root).unwrap_or(path));
                continue;
            }
            let mut wanted: Vec<&str> = controllers.split(',').collect();
            wanted.sort_unstable();
            for hierarchy in &mut self.v1 {
                let mut have: Vec<&str> = hierarchy.controllers.iter().map(String::as_str).collect();
                have.sort_unstable();
                if have == wanted {
                    hierarchy.own = relative(path.strip_prefix(&hierarchy.root).unwrap_or(path));
                }
            }
        }
    }

    /// The unified directory of a container path: on a pure v2 host a relative path starts at
    /// the parent of the runtime's own cgroup (which holds processes, so it cannot delegate
    /// controllers), as runc's fs2 driver does; on a hybrid host at the own cgroup, as runc's
    /// v1 driver joins it.
    pub fn v2_dir_for(&self, path: &Path) -> Option<PathBuf> {
        let mountpoint = self.v2.as_ref()?;
        if path.is_absolute() {
            return Some(mountpoint.join(relative(path)));
        }
        let start = if self.is_v1() {
            self.v2_own.as_path()
        } else {
            self.v2_own.parent().unwrap_or(Path::new(""))
        };
        Some(mountpoint.join(start).join(path))
    }

    /// Read the layout from the text of a mountinfo file.
    pub fn from_mountinfo(text: &str) -> Result<Self, CgroupError> {
        let mut layout = Layout {
            v1: Vec::new(),
            v2: None,
            v2_root: PathBuf::from("/"),
            v2_own: PathBuf::new(),
        };
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut right = right.split_whitespace();
            let (Some(fstype), Some(_source), Some(super_options)) =
                (right.next(), right.next(), right.next())
            else {
                continue;
            };
            let mut left = left.split_whitespace().skip(3);
            let (Some(root), Some(mountpoint)) = (left.next(), left.next()) else {
                continue;
            };
            let root = PathBuf::from(unescape(root));
            let mountpoint = PathBuf::from(unescape(mountpoint));
            match fstype {
                "cgroup2" if layout.v2.is_none() => {
                    layout.v2 = Some(mountpoint);
                    layout.v2_root = root;
                }
                "cgroup" => {
                    let controllers: Vec<String> = super_options
                        .split(',')
                        .filter(|o| !is_generic_cgroup_option(o))
                        .map(str::to_string)
                        .collect();
                    if !controllers.is_empty() && !layout.v1.iter().any(|h| h.mountpoint == mountpoint) {
                        layout.v1.push(V1Hierarchy {
                            mountpoint,
                            controllers,
                            root,
                            own: PathBuf::new(),
                        });
                    }
                }
                _ => {}
            }
        }
        if layout.v1.is_empty() && layout.v2.is_none() {
            return Err(CgroupError::NotMounted);
        }
        Ok(layout)
    }

    /// Whether containers get v1 cgroups here (any v1 hierarchy with controllers).
    pub fn is_v1(&self) -> bool {
        self.v1.iter().any(|h| !h.is_named_only())
    }

    /// Whether a block I/O weight can be set here: it needs an I/O scheduler with weights (CFQ
    /// or BFQ), which many hosts lack even with the blkio/io controller (dockerd's sysinfo check).
    pub fn has_blkio_weight(&self) -> bool {
        if self.is_v1() {
            return self.v1.iter().filter(|h| h.has("blkio")).any(|h| {
                h.mountpoint.join("blkio.weight").exists() || h.mountpoint.join("blkio.bfq.weight").exists()
            });
        }
        self.v2.as_ref().is_some_and(|root| {
            fs::read_to_string(root.join("cgroup.controllers"))
                .is_ok_and(|controllers| controllers.split_whitespace().any(|c| c == "io"))
        })
    }
}

fn is_generic_cgroup_option(option: &str) -> bool {
    matches!(
        option,
        "rw" | "ro" | "xattr" | "clone_children" | "noprefix" | "cpuset_v2_mode" | "favordynmods"
    ) || option.starts_with("release_agent=")
}

/// mountinfo escapes spaces and friends as `\040`.
pub(crate) fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Ok(code) = u8::from_str_radix(&field[i + 1..i + 4], 8) {
                out.push(code as char);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// The cgroup path for a container: the spec's `cgroupsPath`, or `/berth/<id>`, cleaned the way
/// runc's `CleanPath` does (`..` never climbs above the start). It stays absolute (from each
/// hierarchy's root) or relative (from the runtime's own cgroup) as the spec wrote it.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> PathBuf {
    let path = match cgroups_path {
        Some(path) if !path.as_os_str().is_empty() => path.to_path_buf(),
        _ => Path::new("/berth").join(id),
    };
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                clean.pop();
            }
            _ => {}
        }
    }
    if path.is_absolute() {
        Path::new("/").join(clean)
    } else {
        clean
    }
}

/// A container's cgroup: its directories on the host.
#[derive(Debug, Clone)]
pub enum Cgroup {
    /// One directory per v1 hierarchy.
    V1(v1::V1Cgroup),
    /// One directory in the unified tree.
    V2(v2::V2Cgroup),
}

impl Cgroup {
    /// Make the container's cgroup at `path` (see [`container_path`]).
    pub fn create(layout: &Layout, path: &Path) -> Result<Self, CgroupError> {
        if layout.is_v1() {
            v1::V1Cgroup::create(layout, path).map(Cgroup::V1)
        } else {
            let root = layout.v2.as_ref().ok_or(CgroupError::NotMounted)?;
            let dir = layout.v2_dir_for(path).ok_or(CgroupError::NotMounted)?;
            let below = dir.strip_prefix(root).unwrap_or(&dir).to_path_buf();
            v2::V2Cgroup::create(root, &below).map(Cgroup::V2)
        }
    }

    /// The cgroup of an existing container, from the directories recorded at create time: each
    /// v1 directory gets the controllers of the hierarchy it lies in.
    pub fn from_dirs(layout: &Layout, dirs: &[PathBuf]) -> Self {
        if !layout.is_v1() {
            let dir = dirs.first().cloned().unwrap_or_default();
            return Cgroup::V2(v2::V2Cgroup { dir });
        }
        let mut cgroup = v1::V1Cgroup {
            path: PathBuf::new(),
            dirs: Vec::new(),
            unified: None,
        };
        for dir in dirs {
            if let Some(h) = layout.v1.iter().find(|h| dir.starts_with(&h.mountpoint)) {
                cgroup.dirs.push((h.controllers.clone(), dir.clone()));
            } else if layout.v2.as_ref().is_some_and(|v2| dir.starts_with(v2)) {
                cgroup.unified = Some(dir.clone());
            }
        }
        Cgroup::V1(cgroup)
    }

    /// Write the spec's limits into the cgroup's files.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match self {
            Cgroup::V1(cg) => cg.apply(resources),
            Cgroup::V2(cg) => cg.apply(resources),
        }
    }

    /// Move a process into the cgroup.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        crate::explain!("moved process {pid} into cgroup {}", self.describe());
        Ok(())
    }

    /// Every directory of the cgroup.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match self {
            Cgroup::V1(cg) => cg
                .dirs
                .iter()
                .map(|(_, dir)| dir.clone())
                .chain(cg.unified.clone())
                .collect(),
            Cgroup::V2(cg) => vec![cg.dir.clone()],
        }
    }

    fn describe(&self) -> String {
        match self {
            Cgroup::V1(cg) => cg.path.display().to_string(),
            Cgroup::V2(cg) => cg.dir.display().to_string(),
        }
    }
}

/// The pids in a cgroup directory (its `cgroup.procs`).
pub fn pids_in(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let path = dir.join("cgroup.procs");
    let text = fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// The pids of a container from the directories recorded at create time: the first that can be
/// read (every v1 hierarchy holds the same processes).
pub fn pids_of(dirs: &[PathBuf]) -> Result<Vec<i32>, CgroupError> {
    let mut last_err = None;
    for dir in dirs {
        match pids_in(dir) {
            Ok(pids) => return Ok(pids),
            Err(err) => last_err = Some(err),
        }
    }
    match last_err {
        Some(err) => Err(err),
        None => Ok(Vec::new()),
    }
}

/// Remove the recorded cgroup directories, waiting a little for exiting processes to leave, and
/// then their parent when it is left empty (`berth`), so nothing of ours stays behind.
pub fn remove(dirs: &[PathBuf]) -> Result<(), CgroupError> {
    for dir in dirs {
        // EBUSY: the last processes are still on their way out, usually for well under a
        // millisecond; wait in short, growing steps, a second in all.
        let mut pause = std::time::Duration::from_micros(250);
        let mut waited = std::time::Duration::ZERO;
        loop {
            match fs::remove_dir(dir) {
                Ok(()) => {
                    crate::explain!("removed cgroup {}", dir.display());
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e)
                    if e.raw_os_error() == Some(libc::EBUSY)
                        && waited < std::time::Duration::from_secs(1) =>
                {
                    std::thread::sleep(pause);
                    waited += pause;
                    pause = (pause * 2).min(std::time::Duration::from_millis(10));
                }
                Err(source) => {
                    return Err(CgroupError::Remove {
                        path: dir.clone(),
                        source,
                    });
                }
            }
        }
        if let Some(parent) = dir.parent() {
            // Only succeeds when no other container uses it; anything else is fine.
            let _ = fs::remove_dir(parent);
        }
    }
    Ok(())
}

/// Write one cgroup file and say so.
pub fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })?;
    crate::explain!("wrote {value} to {}", path.display());
    Ok(())
}

/// `mkdir -p`, retried: another container's `delete` may remove an empty shared parent
/// (`berth`) between our two mkdirs.
pub fn create_dir(path: &Path) -> Result<bool, CgroupError> {
    let existed = path.is_dir();
    let mut attempts = 0;
    loop {
        match fs::create_dir_all(path) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 5 => attempts += 1,
            Err(source) => {
                return Err(CgroupError::Create {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    if !existed {
        crate::explain!("created cgroup {}", path.display());
    }
    Ok(!existed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_layout_uses_v1() {
        let layout = Layout::from_mountinfo(HYBRID).expect("layout");
        assert!(layout.is_v1());
        assert_eq!(layout.v1.len(), 4);
        assert_eq!(layout.v1[0].controllers, vec!["cpu"]);
        assert!(layout.v1[3].is_named_only());
        assert_eq!(layout.v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn pure_v2_layout() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let layout = Layout::from_mountinfo(text).expect("layout");
        assert!(!layout.is_v1());
        assert_eq!(layout.v2, Some(PathBuf::from("/sys/fs/cgroup")));
    }

    #[test]
    fn no_cgroups_is_an_error() {
        assert!(matches!(
            Layout::from_mountinfo("1 0 0:1 / / rw - ext4 /dev/vda rw\n"),
            Err(CgroupError::NotMounted)
        ));
    }

    #[test]
    fn container_path_defaults_to_berth_and_is_cleaned_like_runc() {
        assert_eq!(container_path(None, "c1"), PathBuf::from("/berth/c1"));
        assert_eq!(
            container_path(Some(Path::new("/berth/abc")), "abc"),
            PathBuf::from("/berth/abc")
        );
        assert_eq!(
            container_path(Some(Path::new("/../../etc")), "x"),
            PathBuf::from("/etc")
        );
        assert_eq!(
            container_path(Some(Path::new("a/../../b/./c")), "x"),
            PathBuf::from("b/c")
        );
    }

    #[test]
    fn relative_paths_start_at_the_runtimes_own_cgroup() {
        let mut layout = Layout::from_mountinfo(HYBRID).expect("layout");
        layout.set_own_cgroups("4:memory:/process_api/abc\n1:cpu:/\n9:name=systemd:/\n0::/user.slice\n");
        let memory = layout.v1.iter().find(|h| h.has("memory")).expect("memory");
        assert_eq!(
            memory.dir_for(Path::new("rel/c1")),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc/rel/c1")
        );
        assert_eq!(
            memory.dir_for(Path::new("/abs/c1")),
            PathBuf::from("/sys/fs/cgroup/memory/abs/c1")
        );
        let cpu = layout.v1.iter().find(|h| h.has("cpu")).expect("cpu");
        assert_eq!(
            cpu.dir_for(Path::new("rel")),
            PathBuf::from("/sys/fs/cgroup/cpu/rel")
        );
        // Hybrid: the unified tree is joined at the own cgroup, as runc's v1 driver does.
        assert_eq!(
            layout.v2_dir_for(Path::new("rel")),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/rel"))
        );
        // Pure v2: from the own cgroup's parent, as runc's fs2 driver does.
        let mut v2 =
            Layout::from_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n").expect("layout");
        v2.set_own_cgroups("0::/user.slice/session-1.scope\n");
        assert_eq!(
            v2.v2_dir_for(Path::new("rel")),
            Some(PathBuf::from("/sys/fs/cgroup/user.slice/rel"))
        );
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
