//! A container's file system as its processes see it, from the host: the root, with its volumes
//! and bind mounts laid over their destinations.
//!
//! Paths are container paths (components below `/`). Symlinks are resolved as Docker's
//! `FollowSymlinkInScope` does, in the container's scope: an absolute target restarts at the
//! container's root and `..` stops there, so no link leads to the host's files. Each step is
//! then taken by the kernel relative to the fd of the mount the path lies in, with
//! `openat2(RESOLVE_IN_ROOT)`: even a link swapped in by a running container while we look
//! cannot lead out of that mount.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

/// A container path: its components below `/`, without `.`, `..` or empty ones.
pub type ContainerPath = Vec<OsString>;

/// How many symlinks one resolution may follow (Docker's limit).
const MAX_LINKS: usize = 255;

/// A volume or bind mount as the copy sees it.
#[derive(Debug, Clone)]
pub struct MountSpot {
    /// Where it appears in the container (`/data`).
    pub destination: String,
    /// What is mounted there on the host (a volume's `_data`, a bind's source).
    pub source: PathBuf,
    /// Whether the container may write there.
    pub rw: bool,
}

/// One file system of the view: the root, or a mount over its destination.
#[derive(Debug)]
struct Layer {
    destination: ContainerPath,
    /// `O_PATH` fd of the directory (or file) mounted there.
    fd: OwnedFd,
    rw: bool,
}

/// Where a container path lies: the mount it is in and the path inside that mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    mount: usize,
    inside: PathBuf,
}

/// A container's root with its mounts over it.
#[derive(Debug)]
pub struct FsView {
    /// The root first; then mounts, shallowest destination first, so the deepest one that
    /// holds a path wins (Docker mounts them in that order).
    layers: Vec<Layer>,
}

/// `path`'s components, `..` applied lexically and stopping at `/` (Go's `filepath.Clean` of
/// an absolute path).
pub fn clean(path: &[u8]) -> ContainerPath {
    let mut components = ContainerPath::new();
    push_components(&mut components, path);
    components
}

fn push_components(onto: &mut ContainerPath, path: &[u8]) {
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                onto.pop();
            }
            name => onto.push(OsStr::from_bytes(name).to_owned()),
        }
    }
}

/// A container path as text: `/a/b`, `/` for the root.
pub fn display(path: &[OsString]) -> String {
    let mut text = String::new();
    for component in path {
        text.push('/');
        text.push_str(&component.to_string_lossy());
    }
    if text.is_empty() {
        text.push('/');
    }
    text
}

fn open_path(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `openat2` inside `root`, symlinks resolved as if `root` were `/`, never through `/proc`
/// magic links; retried when a concurrent rename asks for it.
fn open_in(root: &OwnedFd, inside: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    if inside.as_os_str().is_empty() {
        // The mount itself (a directory, or a file bound over one): reopened through its
        // fd's /proc entry, which names exactly it; the mount's root is never a symlink.
        let fd_path = format!("/proc/self/fd/{}", root.as_raw_fd());
        return Ok(rustix::fs::open(
            fd_path.as_str(),
            (flags - OFlags::NOFOLLOW) | OFlags::CLOEXEC,
            Mode::empty(),
        )?);
    }
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    loop {
        match rustix::fs::openat2(root, inside, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
            Err(Errno::AGAIN) => continue,
            other => return Ok(other?),
        }
    }
}

impl FsView {
    /// The view of `rootfs` with `mounts` over it. A mount whose source is missing is
    /// skipped: its destination shows the root's directory, as in a container that never ran.
    pub fn new(rootfs: &Path, mounts: &[MountSpot]) -> io::Result<FsView> {
        let mut layers = vec![Layer {
            destination: ContainerPath::new(),
            fd: open_path(rootfs)?,
            rw: true,
        }];
        let mut mounts: Vec<&MountSpot> = mounts.iter().collect();
        mounts.sort_by_key(|m| clean(m.destination.as_bytes()).len());
        for mount in mounts {
            let destination = clean(mount.destination.as_bytes());
            if destination.is_empty() {
                continue;
            }
            match open_path(&mount.source) {
                Ok(fd) => layers.push(Layer {
                    destination,
                    fd,
                    rw: mount.rw,
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(FsView { layers })
    }

    /// The mount `path` lies in, and the path inside it.
    pub fn locate(&self, path: &[OsString]) -> Location {
        let (mount, layer) = self
            .layers
            .iter()
            .enumerate()
            .rev()
            .find(|(_, layer)| path.starts_with(&layer.destination))
            .expect("the root holds every path");
        Location {
            mount,
            inside: path[layer.destination.len()..].iter().collect(),
        }
    }

    /// Whether `path` is exactly where something is mounted (the root excepted).
    pub fn is_mount_point(&self, path: &[OsString]) -> bool {
        self.layers[1..].iter().any(|l| l.destination == path)
    }

    /// Whether `path` lies in a volume or bind mount: `Some(writable)` if so, `None` when it is
    /// in the container's root (whose writability the container's config decides).
    pub fn in_mount(&self, path: &[OsString]) -> Option<bool> {
        let location = self.locate(path);
        (location.mount > 0).then(|| self.layers[location.mount].rw)
    }

    /// `lstat` of a container path: its last component is not followed; a mount point gives
    /// what is mounted there.
    pub fn lstat(&self, path: &[OsString]) -> io::Result<Stat> {
        let location = self.locate(path);
        let root = &self.layers[location.mount].fd;
        match (location.inside.parent(), location.inside.file_name()) {
            (Some(parent), Some(name)) => {
                let dir = open_in(root, parent, OFlags::PATH | OFlags::DIRECTORY)?;
                Ok(rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
            }
            _ => Ok(rustix::fs::fstat(root)?),
        }
    }

    /// The target of the symlink at `path`.
    fn read_link(&self, path: &[OsString]) -> io::Result<Vec<u8>> {
        let location = self.locate(path);
        let root = &self.layers[location.mount].fd;
        let parent = location.inside.parent().unwrap_or(Path::new(""));
        let name = location.inside.file_name().unwrap_or_default();
        let dir = open_in(root, parent, OFlags::PATH | OFlags::DIRECTORY)?;
        Ok(rustix::fs::readlinkat(&dir, name, Vec::new())?.into_bytes())
    }

    /// Resolve `path` in the container's scope: every symlink followed, the last component
    /// too when `follow_last` is set. Missing components are kept as they are (the path may
    /// be about to be created), as Docker's `FollowSymlinkInScope` does.
    pub fn resolve(&self, path: &[OsString], follow_last: bool) -> io::Result<ContainerPath> {
        let mut resolved = ContainerPath::new();
        // Components still to walk, last one first.
        let mut pending: Vec<OsString> = path.iter().rev().cloned().collect();
        let mut links = 0;
        while let Some(component) = pending.pop() {
            if component == ".." {
                resolved.pop();
                continue;
            }
            resolved.push(component);
            if pending.is_empty() && !follow_last {
                break;
            }
            let stat = match self.lstat(&resolved) {
                Ok(stat) => stat,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("lstat {}: {}", display(&resolved), crate::go_error::text(&e)),
                    ));
                }
            };
            if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(io::Error::other(format!(
                    "evalSymlinksInScope: too many links in {}",
                    display(path)
                )));
            }
            let target = self.read_link(&resolved)?;
            resolved.pop();
            if target.first() == Some(&b'/') {
                resolved.clear();
            }
            // The target's components come next, before what followed the link.
            for part in target.split(|&b| b == b'/').rev() {
                match part {
                    b"" | b"." => {}
                    part => pending.push(OsString::from_vec(part.to_vec())),
                }
            }
        }
        Ok(resolved)
    }

    /// Open `path` with `flags` (no symlink is followed past the view's mounts).
    pub fn open(&self, path: &[OsString], flags: OFlags) -> io::Result<OwnedFd> {
        let location = self.locate(path);
        open_in(&self.layers[location.mount].fd, &location.inside, flags)
    }

    /// Open the directory at `path` for reading (and for `*at` calls in it).
    pub fn open_dir(&self, path: &[OsString]) -> io::Result<OwnedFd> {
        self.open(path, OFlags::RDONLY | OFlags::DIRECTORY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> ContainerPath {
        clean(text.as_bytes())
    }

    #[test]
    fn cleans_as_go_does_for_absolute_paths() {
        assert_eq!(display(&path("/a/./b//c/")), "/a/b/c");
        assert_eq!(display(&path("../../x")), "/x");
        assert_eq!(display(&path("/a/../..")), "/");
    }

    #[test]
    fn symlinks_resolve_inside_the_root_and_through_mounts() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let volume = tmp.path().join("volume");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir_all(volume.join("inner")).unwrap();
        std::fs::write(volume.join("inner/f"), "v").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("hostetc")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        std::os::unix::fs::symlink("/data/inner", root.join("toinner")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let view = FsView::new(
            &root,
            &[MountSpot {
                destination: "/data".into(),
                source: volume.clone(),
                rw: false,
            }],
        )
        .unwrap();

        assert_eq!(
            display(&view.resolve(&path("/hostetc/passwd"), true).unwrap()),
            "/etc/passwd"
        );
        assert_eq!(display(&view.resolve(&path("/up/etc"), true).unwrap()), "/etc");
        assert_eq!(display(&view.resolve(&path("/up"), false).unwrap()), "/up");
        let inner = view.resolve(&path("/toinner/f"), true).unwrap();
        assert_eq!(display(&inner), "/data/inner/f");
        assert_eq!(view.lstat(&inner).unwrap().st_size, 1);
        assert_eq!(view.in_mount(&inner), Some(false));
        assert_eq!(view.in_mount(&path("/etc")), None);
        assert!(view.is_mount_point(&path("/data")));
        assert!(view.resolve(&path("/loop"), true).is_err());
        // A missing path is kept as asked.
        assert_eq!(
            display(&view.resolve(&path("/nosuch/x"), true).unwrap()),
            "/nosuch/x"
        );
    }
}
