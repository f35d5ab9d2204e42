//! A directory tree worked on only through file descriptors, never by following a symlink.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)`
//! relative to the root's fd: the kernel refuses a symlink in any component instead of
//! following it, and `..` cannot climb above the root (entry names never hold one anyway).
//! Where openat2 is missing (Linux < 5.6) or a parent must be created, the same guarantee comes
//! from walking one component at a time with `O_NOFOLLOW`.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::Refusal;

/// Why a path inside the root could not be reached.
#[derive(Debug)]
pub(crate) enum Blocked {
    /// The path would need a symlink followed, or goes through a non-directory.
    Refused(Refusal),
    /// The kernel said no for another reason (missing, permissions, I/O).
    Io(std::io::Error),
}

impl From<Errno> for Blocked {
    fn from(e: Errno) -> Blocked {
        Blocked::Io(e.into())
    }
}

/// How directories are opened: readable (so fchown, fsetxattr and futimens work on the fd),
/// never through a symlink, not inherited by children.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The root of a tree being unpacked or inspected.
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
}

impl Root {
    pub(crate) fn open(path: &Path) -> std::io::Result<Root> {
        Ok(Root {
            fd: rustix::fs::open(path, DIR_FLAGS, Mode::empty())?,
        })
    }

    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Open the directory at `rel` (relative to the root; empty means the root itself),
    /// creating missing directories (mode 0755, owned by us, like Docker) when `create` is set.
    pub(crate) fn open_dir(&self, rel: &Path, create: bool) -> Result<OwnedFd, Blocked> {
        if rel.as_os_str().is_empty() {
            return Ok(rustix::io::dup(&self.fd)?);
        }
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV;
        loop {
            match rustix::fs::openat2(&self.fd, rel, DIR_FLAGS, Mode::empty(), resolve) {
                Ok(fd) => return Ok(fd),
                // A rename elsewhere raced the lookup: the kernel asks to try again.
                Err(Errno::AGAIN) => continue,
                // Missing parents, a symlink or a file in the way, or no openat2: walking
                // tells which, and creates what is missing.
                Err(_) => return self.walk(rel, create),
            }
        }
    }

    fn walk(&self, rel: &Path, create: bool) -> Result<OwnedFd, Blocked> {
        let mut dir = rustix::io::dup(&self.fd)?;
        for component in rel.components() {
            let Component::Normal(name) = component else {
                return Err(Blocked::Refused(Refusal::LeavesRoot));
            };
            dir = open_child_dir(&dir, name, create)?;
        }
        Ok(dir)
    }
}

/// Open the directory `name` in `parent`, without following a symlink.
fn open_child_dir(parent: &OwnedFd, name: &OsStr, create: bool) -> Result<OwnedFd, Blocked> {
    match rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) if create => {
            match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            Ok(rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty())?)
        }
        // O_NOFOLLOW on a symlink gives ELOOP; O_DIRECTORY on a file gives ENOTDIR.
        Err(Errno::LOOP | Errno::NOTDIR) => {
            let stat = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)?;
            Err(Blocked::Refused(
                if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
                    Refusal::ThroughSymlink
                } else {
                    Refusal::ParentNotDirectory
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) use crate::tree::remove_all_at;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_creates_and_refuses_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        root.open_dir(Path::new("a/b/c"), true).unwrap();
        assert!(tmp.path().join("a/b/c").is_dir());
        assert!(matches!(
            root.open_dir(Path::new("x"), false),
            Err(Blocked::Io(_))
        ));

        std::os::unix::fs::symlink("/etc", tmp.path().join("link")).unwrap();
        assert!(matches!(
            root.open_dir(Path::new("link"), true),
            Err(Blocked::Refused(Refusal::ThroughSymlink))
        ));
        assert!(matches!(
            root.open_dir(Path::new("link/ssl"), true),
            Err(Blocked::Refused(Refusal::ThroughSymlink))
        ));
        std::fs::write(tmp.path().join("file"), b"").unwrap();
        assert!(matches!(
            root.open_dir(Path::new("file/x"), true),
            Err(Blocked::Refused(Refusal::ParentNotDirectory))
        ));
    }

    #[test]
    fn removes_trees_without_following_links() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"k").unwrap();
        let tree = tmp.path().join("tree");
        std::fs::create_dir_all(tree.join("d/e")).unwrap();
        std::fs::write(tree.join("d/e/f"), b"f").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("d/link")).unwrap();

        let dir = rustix::fs::open(tmp.path(), DIR_FLAGS, Mode::empty()).unwrap();
        remove_all_at(&dir, OsStr::new("tree")).unwrap();
        assert!(!tree.exists());
        assert!(outside.join("keep").exists());
    }
}
