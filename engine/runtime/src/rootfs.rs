//! The container's root filesystem.
//!
//! [`prepare`] runs in the container's new mount namespace while the host's tree is still
//! visible: it stops mount events from reaching the host, bind-mounts the rootfs onto itself,
//! makes each of the spec's mounts (targets resolved inside the rootfs, see [`crate::secure_path`]),
//! creates the default devices and symlinks; [`enter`] then pivots into it (the hooks that run
//! "before pivot_root" run between the two). [`finalize`] then masks and
//! write-protects paths and, if asked, makes the root read-only.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount};

use crate::cgroups::Layout;
use crate::mount_options::{self, MountOptions};
use crate::secure_path::{PathError, Root, fd_path};

/// Errors while building the root filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// a mount failed
    #[error("cannot mount {source_name} ({fstype}) at {target}: {errno}")]
    Mount {
        /// What was mounted.
        source_name: String,
        /// Its filesystem type ("bind" for binds and remounts).
        fstype: String,
        /// Where.
        target: PathBuf,
        /// What failed.
        errno: nix::Error,
    },
    /// a path inside the rootfs could not be resolved or created
    #[error(transparent)]
    Path(#[from] PathError),
    /// a bind mount's source is missing
    #[error("bind source {path}: {source}")]
    BindSource {
        /// The source on the host.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// the runtime did not finish the container's cgroup
    #[error("the container's cgroup: {0}")]
    Cgroup(#[from] crate::sync::SyncError),
    /// the mount table could not be read
    #[error("cannot read /proc/self/mountinfo: {0}")]
    MountInfo(std::io::Error),
    /// a step on a path failed (device nodes, links, pivot_root)
    #[error("cannot {what} {path}: {errno}")]
    Step {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// What failed.
        errno: nix::Error,
    },
}

type Result<T, E = RootfsError> = std::result::Result<T, E>;

fn step(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(nix::Error) -> RootfsError {
    let path = path.into();
    move |errno| RootfsError::Step { what, path, errno }
}

/// Everything [`prepare`] needs to know.
pub struct RootfsSetup<'a> {
    /// The rootfs on the host (absolute).
    pub rootfs: &'a Path,
    /// The bundle, for relative bind sources.
    pub bundle: &'a Path,
    /// The spec's mounts.
    pub mounts: &'a [Mount],
    /// The spec's extra devices.
    pub devices: &'a [LinuxDevice],
    /// The spec's `rootfsPropagation`.
    pub propagation: Option<&'a str>,
    /// The host's cgroup layout, for `cgroup` mounts.
    pub cgroups: &'a Layout,
    /// The container's cgroup path (relative), for `cgroup` mounts without a cgroup namespace.
    pub cgroup_path: &'a Path,
    /// Whether the container has its own cgroup namespace.
    pub cgroupns: bool,
    /// Returns once the container's cgroup exists and holds us: a `cgroup` mount shows it.
    pub cgroup_ready: &'a dyn Fn() -> std::result::Result<(), crate::sync::SyncError>,
    /// Whether the container has its own user namespace (devices are then bind-mounted).
    pub userns: bool,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
}

/// The devices every container gets (runtime-spec "Default Devices").
const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn mount_at(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(source, target, fstype, flags, data).map_err(|errno| RootfsError::Mount {
        source_name: source.unwrap_or("none").to_string(),
        fstype: fstype.unwrap_or("bind").to_string(),
        target: target.to_path_buf(),
        errno,
    })
}

/// Set up the rootfs, up to (not including) entering it: the caller runs the createRuntime and
/// createContainer hooks in between, then calls [`enter`] with the returned root.
pub fn prepare(setup: &RootfsSetup<'_>) -> Result<Root> {
    let propagation = setup
        .propagation
        .and_then(mount_options::propagation_of)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    // Make / rslave (or as asked) before anything else, so no mount below reaches the host.
    let root_propagation = if propagation.contains(MsFlags::MS_SHARED) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        propagation
    };
    mount_at(None, Path::new("/"), None, root_propagation, None)?;
    make_parent_mount_private(setup.rootfs)?;
    mount_at(
        Some(&setup.rootfs.to_string_lossy()),
        setup.rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    crate::explain!("bind-mounted the rootfs {} onto itself", setup.rootfs.display());
    let root = Root::open(setup.rootfs)?;

    let mut dev_is_tmpfs = false;
    for entry in setup.mounts {
        mount_entry(&root, setup, entry)?;
        if entry.destination() == Path::new("/dev") && entry.typ().as_deref() != Some("bind") {
            dev_is_tmpfs = !mount_options::parse(entry.options().as_deref().unwrap_or(&[])).is_bind();
        }
    }
    if dev_is_tmpfs {
        create_devices(&root, setup)?;
    }
    Ok(root)
}

/// Make the mount that holds the rootfs private if it is shared, as runc does: a non-recursive
/// propagation on / (`rootfsPropagation` "private", say) leaves it shared, and then the bind of
/// the rootfs below would reach the host's peers, and pivot_root refuses a shared parent.
fn make_parent_mount_private(rootfs: &Path) -> Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(RootfsError::MountInfo)?;
    let Some(parent) = parent_mount(&mountinfo, rootfs) else {
        return Ok(());
    };
    if !parent.shared {
        return Ok(());
    }
    mount_at(None, &parent.mount_point, None, MsFlags::MS_PRIVATE, None)?;
    crate::explain!(
        "made {} private: it holds the rootfs and was shared",
        parent.mount_point.display()
    );
    Ok(())
}

/// The mount that holds a path, as a mountinfo line tells it.
#[derive(Debug, PartialEq)]
struct ParentMount {
    /// Where it is mounted.
    mount_point: PathBuf,
    /// Whether it is in a shared peer group (a `shared:N` optional field).
    shared: bool,
}

/// The mount that holds `path` in the text of a mountinfo file: the longest mount point that is
/// `path` or one of its parents; of mounts stacked on the same point, the last (the top one).
fn parent_mount(mountinfo: &str, path: &Path) -> Option<ParentMount> {
    let mut best: Option<ParentMount> = None;
    for line in mountinfo.lines() {
        let Some((fields, _)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = fields.split(' ').collect();
        let Some(mount_point) = fields.get(4).map(|f| PathBuf::from(crate::cgroups::unescape(f))) else {
            continue;
        };
        if !path.starts_with(&mount_point) {
            continue;
        }
        let deeper = best
            .as_ref()
            .is_none_or(|b| mount_point.as_os_str().len() >= b.mount_point.as_os_str().len());
        if deeper {
            let shared = fields.iter().skip(6).any(|f| f.starts_with("shared:"));
            best = Some(ParentMount { mount_point, shared });
        }
    }
    best
}

/// Make one of the spec's mounts.
fn mount_entry(root: &Root, setup: &RootfsSetup<'_>, entry: &Mount) -> Result<()> {
    let dest = entry.destination();
    let options = mount_options::parse(entry.options().as_deref().unwrap_or(&[]));
    let typ = entry.typ().clone().unwrap_or_else(|| "none".to_string());
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroups(root, setup, dest, &options);
    }
    if options.is_bind() || typ == "bind" {
        let source = entry.source().clone().unwrap_or_default();
        let source = if source.is_relative() {
            setup.bundle.join(source)
        } else {
            source
        };
        let is_dir = std::fs::metadata(&source)
            .map_err(|e| RootfsError::BindSource {
                path: source.clone(),
                source: e,
            })?
            .is_dir();
        let target = if is_dir {
            root.mkdir_all(dest, 0o755)?
        } else {
            root.create_file(dest)?
        };
        mount_at(
            Some(&source.to_string_lossy()),
            &fd_path(&target),
            None,
            MsFlags::MS_BIND | (options.flags & MsFlags::MS_REC),
            None,
        )?;
        let extra = options.remount_flags();
        if !extra.is_empty() {
            remount_bind(root, dest, extra)?;
        }
        crate::explain!(
            "bind-mounted {} at {}{}",
            source.display(),
            dest.display(),
            if extra.contains(MsFlags::MS_RDONLY) {
                " read-only"
            } else {
                ""
            }
        );
    } else {
        let target = root.mkdir_all(dest, 0o755)?;
        let source = entry.source().as_ref().map(|s| s.to_string_lossy().into_owned());
        let data = (!options.data.is_empty()).then_some(options.data.as_str());
        mount_at(
            Some(source.as_deref().unwrap_or(&typ)),
            &fd_path(&target),
            Some(&typ),
            options.flags,
            data,
        )?;
        crate::explain!("mounted {typ} at {}", dest.display());
    }
    apply_propagation(root, dest, &options)
}

/// Remount a fresh bind mount with extra flags (a bind mount ignores them the first time). The
/// target is reopened so the handle points at the new mount, not at what it covers.
fn remount_bind(root: &Root, dest: &Path, extra: MsFlags) -> Result<()> {
    let target = root.open_path(dest)?;
    mount_at(
        None,
        &fd_path(&target),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
        None,
    )
}

fn apply_propagation(root: &Root, dest: &Path, options: &MountOptions) -> Result<()> {
    if options.propagation.is_empty() {
        return Ok(());
    }
    let target = root.open_path(dest)?;
    for flags in &options.propagation {
        mount_at(None, &fd_path(&target), None, *flags, None)?;
    }
    Ok(())
}

/// A `cgroup` mount: a tmpfs with one mount per v1 hierarchy, or a cgroup2 mount. With a cgroup
/// namespace each hierarchy is mounted afresh (it shows the namespace's root); without one the
/// container's own cgroup directory is bind-mounted, so it sees only itself, as with runc.
fn mount_cgroups(root: &Root, setup: &RootfsSetup<'_>, dest: &Path, options: &MountOptions) -> Result<()> {
    (setup.cgroup_ready)()?;
    let flags = options.flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    let read_only = options.flags.contains(MsFlags::MS_RDONLY);
    let cgroups = setup.cgroups;
    if !cgroups.is_v1() {
        let target = root.mkdir_all(dest, 0o555)?;
        if setup.cgroupns {
            mount_at(
                Some("cgroup2"),
                &fd_path(&target),
                Some("cgroup2"),
                options.flags,
                None,
            )?;
        } else if let Some(source) = cgroups.v2_dir_for(setup.cgroup_path) {
            mount_at(
                Some(&source.to_string_lossy()),
                &fd_path(&target),
                None,
                MsFlags::MS_BIND,
                None,
            )?;
            remount_bind(root, dest, options.remount_flags())?;
        }
        crate::explain!("mounted the container's cgroup2 tree at {}", dest.display());
        return Ok(());
    }
    let target = root.mkdir_all(dest, 0o555)?;
    mount_at(
        Some("tmpfs"),
        &fd_path(&target),
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )?;
    // Like runc on a v1 or hybrid host: every v1 hierarchy (named ones too), not the unified one.
    let hierarchies: Vec<(PathBuf, String, &str, PathBuf)> = cgroups
        .v1
        .iter()
        .map(|h| {
            let dir = h.dir_for(setup.cgroup_path);
            (h.mountpoint.clone(), h.controllers.join(","), "cgroup", dir)
        })
        .collect();
    for (mountpoint, controllers, fstype, source) in hierarchies {
        let Some(name) = mountpoint.file_name() else {
            continue;
        };
        let sub = dest.join(name);
        let sub_fd = root.mkdir_all(&sub, 0o555)?;
        if setup.cgroupns {
            let data = (!controllers.is_empty()).then_some(controllers.as_str());
            let ro = if read_only {
                MsFlags::MS_RDONLY
            } else {
                MsFlags::empty()
            };
            mount_at(Some("cgroup"), &fd_path(&sub_fd), Some(fstype), flags | ro, data)?;
        } else {
            if !source.is_dir() {
                continue;
            }
            mount_at(
                Some(&source.to_string_lossy()),
                &fd_path(&sub_fd),
                None,
                MsFlags::MS_BIND,
                None,
            )?;
            remount_bind(root, &sub, options.remount_flags())?;
        }
    }
    if read_only {
        let target = root.open_path(dest)?;
        mount_at(
            None,
            &fd_path(&target),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            Some("mode=755"),
        )?;
    }
    crate::explain!("mounted the container's cgroup hierarchies at {}", dest.display());
    Ok(())
}

/// Create the default devices, the spec's devices and /dev's standard symlinks.
fn create_devices(root: &Root, setup: &RootfsSetup<'_>) -> Result<()> {
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    // Device modes are exact: no umask.
    let old_umask = nix::sys::stat::umask(Mode::empty());
    let mut names = Vec::new();
    for (name, major, minor) in DEFAULT_DEVICES {
        make_device(
            root,
            &dev,
            Path::new("/dev").join(name).as_path(),
            SFlag::S_IFCHR,
            major,
            minor,
            0o666,
            None,
            setup.userns,
        )?;
        names.push(name.to_string());
    }
    for device in setup.devices {
        let kind = match device.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let owner = Some((device.uid().unwrap_or(0), device.gid().unwrap_or(0)));
        make_device(
            root,
            &dev,
            device.path(),
            kind,
            device.major() as u64,
            device.minor() as u64,
            device.file_mode().unwrap_or(0o666),
            owner,
            setup.userns,
        )?;
        names.push(device.path().display().to_string());
    }
    nix::sys::stat::umask(old_umask);
    crate::explain!("created devices {}", names.join(", "));

    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    // /dev/ptmx points into the container's own devpts instance.
    let _ = nix::unistd::unlinkat(
        Some(dev.as_raw_fd()),
        "ptmx",
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    links.push(("pts/ptmx", "ptmx"));
    for (target, name) in &links {
        match nix::unistd::symlinkat(*target, Some(dev.as_raw_fd()), *name) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(err) => return Err(step("link", Path::new("/dev").join(name))(err)),
        }
    }
    crate::explain!("linked /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr and /dev/ptmx");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn make_device(
    root: &Root,
    dev: &std::os::fd::OwnedFd,
    path: &Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    owner: Option<(u32, u32)>,
    userns: bool,
) -> Result<()> {
    if userns {
        // mknod is not allowed in a user namespace: bind the host's node instead.
        let target = root.create_file(path)?;
        return mount_at(
            Some(&path.to_string_lossy()),
            &fd_path(&target),
            None,
            MsFlags::MS_BIND,
            None,
        );
    }
    let parent = path.parent().unwrap_or(Path::new("/dev"));
    let name = path
        .file_name()
        .ok_or_else(|| step("create device", path)(nix::Error::EINVAL))?;
    let dir = if parent == Path::new("/dev") {
        None
    } else {
        Some(root.mkdir_all(parent, 0o755)?)
    };
    let dir_fd = dir.as_ref().unwrap_or(dev).as_raw_fd();
    let _ = nix::unistd::unlinkat(Some(dir_fd), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    nix::sys::stat::mknodat(
        Some(dir_fd),
        name,
        kind,
        Mode::from_bits_truncate(mode),
        nix::sys::stat::makedev(major, minor),
    )
    .map_err(step("create device", path))?;
    if let Some((uid, gid)) = owner {
        nix::unistd::fchownat(
            Some(dir_fd),
            name,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(step("chown device", path))?;
    }
    Ok(())
}

/// pivot_root into the rootfs [`prepare`] made and detach the old root; or, with `no_pivot`,
/// move and chroot.
pub fn enter(root: &Root, no_pivot: bool) -> Result<()> {
    nix::unistd::fchdir(root_fd(root)).map_err(step("enter", root.path()))?;
    if no_pivot {
        mount_at(Some("."), Path::new("/"), None, MsFlags::MS_MOVE, None)?;
        nix::unistd::chroot(".").map_err(step("chroot into", root.path()))?;
        nix::unistd::chdir("/").map_err(step("enter", "/"))?;
        crate::explain!(
            "moved the rootfs {} to / and chrooted into it",
            root.path().display()
        );
        return Ok(());
    }
    // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then
    // removes it without needing a directory for it inside the rootfs.
    let old_root = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step("open the old root", "/"))?;
    // After the pivot our "." is the new root: step into the old one, so that it (and not the
    // new root, whose mounts keep the propagation the spec gave them) is made rslave below.
    let entered = nix::unistd::pivot_root(".", ".")
        .map_err(step("pivot_root into", root.path()))
        .and_then(|()| nix::unistd::fchdir(old_root).map_err(step("enter the old root", "/")));
    let _ = nix::unistd::close(old_root);
    entered?;
    mount_at(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    umount2(".", MntFlags::MNT_DETACH).map_err(step("detach the old root from", "/"))?;
    nix::unistd::chdir("/").map_err(step("enter", "/"))?;
    crate::explain!(
        "pivoted the root to {} and detached the old root",
        root.path().display()
    );
    Ok(())
}

fn root_fd(root: &Root) -> std::os::fd::RawFd {
    root.raw_fd()
}

/// Mount flags a remount must keep (the kernel refuses to drop locked ones).
fn current_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let Ok(stat) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    let f = stat.flags();
    let mut flags = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            flags |= ms;
        }
    }
    flags
}

/// Make `path` (inside the new root) read-only with a bind mount of itself.
fn read_only(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    mount_at(
        Some(&path.to_string_lossy()),
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    mount_at(
        None,
        path,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | current_flags(path),
        None,
    )?;
    crate::explain!("made {} read-only", path.display());
    Ok(())
}

/// Hide `path`: /dev/null over a file, an empty read-only tmpfs over a directory.
fn mask(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if meta.is_dir() {
        mount_at(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, None)?;
    } else {
        mount_at(Some("/dev/null"), path, None, MsFlags::MS_BIND, None)?;
    }
    crate::explain!("masked {}", path.display());
    Ok(())
}

/// After the pivot: read-only and masked paths, then a read-only root if asked.
pub fn finalize(readonly_paths: &[String], masked_paths: &[String], readonly_root: bool) -> Result<()> {
    for path in readonly_paths {
        read_only(Path::new(path))?;
    }
    for path in masked_paths {
        mask(Path::new(path))?;
    }
    if readonly_root {
        mount_at(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | current_flags(Path::new("/")),
            None,
        )?;
        crate::explain!("made the root filesystem read-only");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
40 22 8:1 /srv /var/lib/my\\040bundles rw,relatime shared:30 master:1 - ext4 /dev/sda1 rw
41 22 0:40 / /var/lib/berth rw,relatime - tmpfs tmpfs rw
42 41 0:41 / /var/lib/berth/b1/rootfs rw - tmpfs tmpfs rw
43 41 0:41 / /var/lib/berth/b1/rootfs rw shared:44 - tmpfs tmpfs rw
";

    fn parent(path: &str) -> Option<ParentMount> {
        parent_mount(MOUNTINFO, Path::new(path))
    }

    fn mount(point: &str, shared: bool) -> Option<ParentMount> {
        Some(ParentMount {
            mount_point: point.into(),
            shared,
        })
    }

    #[test]
    fn the_parent_mount_is_the_longest_mount_point_above_the_rootfs() {
        assert_eq!(parent("/srv/b/rootfs"), mount("/", true));
        assert_eq!(parent("/var/lib/berth/b2/rootfs"), mount("/var/lib/berth", false));
        // By components: /proc is not a parent of /processes.
        assert_eq!(parent("/processes/rootfs"), mount("/", true));
    }

    #[test]
    fn the_top_mount_of_a_stack_counts_and_escapes_are_read() {
        assert_eq!(
            parent("/var/lib/berth/b1/rootfs"),
            mount("/var/lib/berth/b1/rootfs", true)
        );
        assert_eq!(
            parent("/var/lib/my bundles/b3/rootfs"),
            mount("/var/lib/my bundles", true)
        );
    }
}
