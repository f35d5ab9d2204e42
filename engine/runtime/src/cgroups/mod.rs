//! cgroups: the container's cgroup, its limits, and its removal.
//!
//! The layout is read at run time from `/proc/self/mountinfo`: when controllers are mounted as
//! cgroup v1 hierarchies (a "hybrid" host like this one keeps memory, cpu, pids … there), the
//! container gets a directory in each; on a pure cgroup v2 host it gets one directory in the
//! unified tree. `cgroupsPath` is read as Docker's cgroupfs driver writes it (`/berth/<id>`),
//! relative to each hierarchy's root.

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
}

/// How cgroups are mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// cgroup v1 hierarchies (empty on a pure v2 host).
    pub v1: Vec<V1Hierarchy>,
    /// The cgroup2 mount, if any (`/sys/fs/cgroup` or, on hybrid hosts, `/sys/fs/cgroup/unified`).
    pub v2: Option<PathBuf>,
}

impl Layout {
    /// Read the layout of this host.
    pub fn detect() -> Result<Self, CgroupError> {
        let text = fs::read_to_string("/proc/self/mountinfo").map_err(CgroupError::MountInfo)?;
        Self::from_mountinfo(&text)
    }

    /// Read the layout from the text of a mountinfo file.
    pub fn from_mountinfo(text: &str) -> Result<Self, CgroupError> {
        let mut layout = Layout {
            v1: Vec::new(),
            v2: None,
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
            let Some(mountpoint) = left.split_whitespace().nth(4) else {
                continue;
            };
            let mountpoint = PathBuf::from(unescape(mountpoint));
            match fstype {
                "cgroup2" if layout.v2.is_none() => layout.v2 = Some(mountpoint),
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
}

fn is_generic_cgroup_option(option: &str) -> bool {
    matches!(
        option,
        "rw" | "ro" | "xattr" | "clone_children" | "noprefix" | "cpuset_v2_mode" | "favordynmods"
    ) || option.starts_with("release_agent=")
}

/// mountinfo escapes spaces and friends as `\040`.
fn unescape(field: &str) -> String {
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

/// The cgroup path for a container: the spec's `cgroupsPath`, or `/berth/<id>`, made relative.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> PathBuf {
    let path = match cgroups_path {
        Some(path) if !path.as_os_str().is_empty() => path.to_path_buf(),
        _ => Path::new("/berth").join(id),
    };
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
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
    /// Make the container's cgroup at `path` (relative to each hierarchy's root).
    pub fn create(layout: &Layout, path: &Path) -> Result<Self, CgroupError> {
        if layout.is_v1() {
            v1::V1Cgroup::create(&layout.v1, path).map(Cgroup::V1)
        } else {
            let root = layout.v2.as_ref().ok_or(CgroupError::NotMounted)?;
            v2::V2Cgroup::create(root, path).map(Cgroup::V2)
        }
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
            Cgroup::V1(cg) => cg.dirs.iter().map(|(_, dir)| dir.clone()).collect(),
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
        let mut attempts = 0;
        loop {
            match fs::remove_dir(dir) {
                Ok(()) => {
                    crate::explain!("removed cgroup {}", dir.display());
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                // EBUSY: the last processes are still on their way out.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempts < 200 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
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
    fn container_path_defaults_to_berth_and_stays_relative() {
        assert_eq!(container_path(None, "c1"), PathBuf::from("berth/c1"));
        assert_eq!(
            container_path(Some(Path::new("/berth/abc")), "abc"),
            PathBuf::from("berth/abc")
        );
        assert_eq!(
            container_path(Some(Path::new("/../../etc")), "x"),
            PathBuf::from("etc")
        );
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
