//! `favordynmods`: the cgroup mount option that makes moving a process into a cgroup fast.
//!
//! Every move (a container's init joining its cgroup, an exec joining it) takes the kernel's one
//! cgroup threadgroup lock for writing. Without the option, the first writer after a quiet spell
//! first waits out an RCU grace period, so that readers (every fork and exit) can keep their
//! fast path the rest of the time: 8 to 20 ms on a small VM, the largest single cost of starting
//! a container. With the option the lock stays ready for writers, and forks and exits pay a
//! little instead. The kernel documents it for exactly this trade (Documentation/admin-guide/
//! cgroup-v2.rst, "favordynmods"); it exists since Linux 6.0.
//!
//! The lock is one for the whole kernel, so one mount carrying the option is enough: the cgroup2
//! mount when there is one, else a v1 hierarchy. A remount replaces the hierarchy's options, so
//! the ones it has (nsdelegate, its controllers …) are given again with it.

use std::path::PathBuf;

use super::unescape;

/// What [`favor_dynamic_modifications`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dynmods {
    /// A cgroup mount already has the option.
    AlreadyOn(PathBuf),
    /// The cgroup mount at this path was remounted with it.
    TurnedOn(PathBuf),
}

/// Errors turning the option on.
#[derive(Debug, thiserror::Error)]
pub enum DynmodsError {
    /// cannot read /proc/self/mountinfo
    #[error("cannot read /proc/self/mountinfo: {0}")]
    MountInfo(std::io::Error),
    /// no cgroup file system is mounted
    #[error("no cgroup file system is mounted")]
    NotMounted,
    /// the remount failed (a kernel before 6.0 does not know the option)
    #[error("cannot remount {path} with favordynmods: {source}")]
    Remount {
        /// The mount point.
        path: PathBuf,
        /// What the kernel said.
        source: nix::Error,
    },
}

/// A cgroup mount as mountinfo shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    path: PathBuf,
    version2: bool,
    /// The superblock's options (`rw,nsdelegate`, `rw,cpu,cpuacct` …).
    options: Vec<String>,
}

impl CgroupMount {
    fn favors_dynmods(&self) -> bool {
        self.options.iter().any(|o| o == "favordynmods")
    }

    /// The options a remount must give: the hierarchy's own (without `rw`/`ro`, which are the
    /// mount's, not the hierarchy's), and `favordynmods`.
    fn remount_data(&self) -> String {
        self.options
            .iter()
            .map(String::as_str)
            .filter(|o| !matches!(*o, "rw" | "ro"))
            .chain(["favordynmods"])
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The cgroup mounts of a mountinfo text, cgroup2 first.
fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut mounts: Vec<CgroupMount> = mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut right = right.split_whitespace();
            let (fstype, _source, options) = (right.next()?, right.next()?, right.next()?);
            let version2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let path = PathBuf::from(unescape(left.split_whitespace().nth(4)?));
            let options = options.split(',').map(str::to_string).collect();
            Some(CgroupMount {
                path,
                version2,
                options,
            })
        })
        .collect();
    mounts.sort_by_key(|m| !m.version2);
    mounts
}

/// Make sure a cgroup mount carries `favordynmods`, remounting one if none does.
pub fn favor_dynamic_modifications() -> Result<Dynmods, DynmodsError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(DynmodsError::MountInfo)?;
    let mounts = cgroup_mounts(&text);
    if let Some(on) = mounts.iter().find(|m| m.favors_dynmods()) {
        return Ok(Dynmods::AlreadyOn(on.path.clone()));
    }
    let target = mounts.first().ok_or(DynmodsError::NotMounted)?;
    nix::mount::mount(
        None::<&str>,
        &target.path,
        None::<&str>,
        nix::mount::MsFlags::MS_REMOUNT,
        Some(target.remount_data().as_str()),
    )
    .map_err(|source| DynmodsError::Remount {
        path: target.path.clone(),
        source,
    })?;
    crate::explain!(
        "remounted {} with favordynmods: moving a process into a cgroup no longer waits for an RCU grace period",
        target.path.display()
    );
    Ok(Dynmods::TurnedOn(target.path.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
35 25 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
38 35 0:33 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
";

    #[test]
    fn the_unified_mount_comes_first_and_keeps_its_options() {
        let mounts = cgroup_mounts(HYBRID);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].path, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(mounts[0].remount_data(), "nsdelegate,favordynmods");
        assert!(!mounts[0].favors_dynmods());
    }

    #[test]
    fn a_v1_remount_repeats_its_controllers() {
        let v1_only: String = HYBRID
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .collect::<Vec<_>>()
            .join("\n");
        let mounts = cgroup_mounts(&v1_only);
        assert_eq!(mounts[0].path, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(mounts[0].remount_data(), "cpu,favordynmods");
        assert_eq!(mounts[1].remount_data(), "net_cls,net_prio,favordynmods");
    }

    #[test]
    fn an_option_already_on_is_seen() {
        let text = HYBRID.replace("rw,nsdelegate", "rw,nsdelegate,favordynmods");
        assert!(cgroup_mounts(&text)[0].favors_dynmods());
    }

    #[test]
    fn other_file_systems_are_not_cgroup_mounts() {
        assert!(cgroup_mounts("1 0 0:1 / / rw - ext4 /dev/vda rw\n").is_empty());
    }
}
