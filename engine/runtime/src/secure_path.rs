//! Paths inside the container's rootfs, resolved as if the rootfs were `/`.
//!
//! CVE-2021-30465 (runc): a mount target containing a symlink, swapped in at the right moment,
//! made runc mount host paths over host paths. Here every target is opened with `openat2` and
//! `RESOLVE_IN_ROOT` (symlinks, even absolute ones and `..`, stay inside the rootfs), and the mount
//! is made on `/proc/self/fd/<n>`, the exact directory that was opened, so nothing can be swapped
//! between the check and the use.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;

/// Errors while resolving a path inside the rootfs.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// cannot resolve a path inside the rootfs
    #[error("cannot resolve {path} inside the rootfs: {source}")]
    Resolve {
        /// The path, relative to the rootfs.
        path: PathBuf,
        /// What failed.
        source: nix::Error,
    },
    /// cannot create a path inside the rootfs
    #[error("cannot create {path} inside the rootfs: {source}")]
    Create {
        /// The path, relative to the rootfs.
        path: PathBuf,
        /// What failed.
        source: nix::Error,
    },
}

/// An open directory that acts as `/` for the paths resolved under it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// The path of an open fd that the kernel follows to exactly that file.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn resolve_flags() -> ResolveFlag {
    ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS
}

fn owned(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Drop the leading `/` and any `.`; `..` is left for the kernel to clamp at the root.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir | Component::Prefix(_)))
        .collect()
}

impl Root {
    /// Open a directory as a root.
    pub fn open(path: &Path) -> Result<Self, PathError> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|source| PathError::Resolve {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            fd: owned(fd),
            path: path.to_path_buf(),
        })
    }

    /// The host path of the root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root's own `O_PATH` fd (for `fchdir`).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// Open `path` (absolute in the container's view) with `flags`, resolving inside the root.
    pub fn open_in(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, PathError> {
        let rel = relative(path);
        let target: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &rel
        };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(resolve_flags());
        openat2(self.fd.as_raw_fd(), target, how)
            .map(owned)
            .map_err(|source| PathError::Resolve {
                path: path.to_path_buf(),
                source,
            })
    }

    /// An `O_PATH` handle on `path`, for mounting onto it.
    pub fn open_path(&self, path: &Path) -> Result<OwnedFd, PathError> {
        self.open_in(path, OFlag::O_PATH)
    }

    /// Make every missing directory of `path` (like `mkdir -p`) and return a handle on the last.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> Result<OwnedFd, PathError> {
        if let Ok(fd) = self.open_in(path, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            return Ok(fd);
        }
        let mut current = PathBuf::from("/");
        let mut dir = self.open_in(&current, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        for component in relative(path).components() {
            let name = component.as_os_str();
            current.push(name);
            dir = match self.open_in(&current, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => fd,
                Err(PathError::Resolve {
                    source: nix::Error::ENOENT,
                    ..
                }) => {
                    mkdirat(&dir, name, mode).map_err(|source| PathError::Create {
                        path: current.clone(),
                        source,
                    })?;
                    self.open_in(&current, OFlag::O_PATH | OFlag::O_DIRECTORY)?
                }
                Err(err) => return Err(err),
            };
        }
        Ok(dir)
    }

    /// Make `path` exist as a file (an empty one if missing, parents too), for bind-mounting a
    /// file onto it; return a handle on it.
    pub fn create_file(&self, path: &Path) -> Result<OwnedFd, PathError> {
        if let Ok(fd) = self.open_path(path) {
            return Ok(fd);
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().ok_or_else(|| PathError::Create {
            path: path.to_path_buf(),
            source: nix::Error::EINVAL,
        })?;
        let dir = self.mkdir_all(parent, 0o755)?;
        let fd = nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            name,
            OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|source| PathError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        drop(owned(fd));
        self.open_path(path)
    }
}

fn mkdirat(dir: &OwnedFd, name: &OsStr, mode: u32) -> nix::Result<()> {
    match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), name, Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(nix::Error::EEXIST) => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root_dir = tmp.path().join("rootfs");
        std::fs::create_dir_all(root_dir.join("etc")).expect("mkdir");
        // An absolute symlink that would lead out of the rootfs on the host.
        symlink("/etc", root_dir.join("escape")).expect("symlink");
        symlink("../../../..", root_dir.join("up")).expect("symlink");
        let root = Root::open(&root_dir).expect("open root");

        let dir = root
            .mkdir_all(Path::new("/escape/made-here"), 0o755)
            .expect("mkdir");
        drop(dir);
        assert!(root_dir.join("etc/made-here").is_dir());
        assert!(!Path::new("/etc/made-here").exists());

        let fd = root.mkdir_all(Path::new("/up/tmp/x"), 0o755).expect("mkdir");
        drop(fd);
        assert!(root_dir.join("tmp/x").is_dir());
    }

    #[test]
    fn files_are_created_with_their_parents() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = Root::open(tmp.path()).expect("open root");
        let fd = root.create_file(Path::new("/etc/resolv.conf")).expect("file");
        assert!(tmp.path().join("etc/resolv.conf").is_file());
        let linked = std::fs::read_link(fd_path(&fd)).expect("readlink");
        assert_eq!(linked, tmp.path().join("etc/resolv.conf"));
    }
}
