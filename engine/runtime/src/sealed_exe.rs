//! CVE-2019-5736: a container must never get hold of the runtime's binary on the host.
//!
//! A container's init runs our code until its final `execve`, so `/proc/<pid>/exe` points at the
//! runtime for a while; runc ≤ 1.0-rc6 let a malicious container reopen that file and overwrite it.
//! Before creating anything, the commands that put a process in a container re-execute themselves
//! from a copy that cannot be written:
//!
//! - first choice, a read-only clone of the binary's mount: `open_tree(OPEN_TREE_CLONE)` makes a
//!   detached bind mount of the file (in no namespace, so nothing sees or propagates it),
//!   `mount_setattr` makes it read-only, and `execveat` runs it. Writes through
//!   `/proc/<pid>/exe` then fail with EROFS, whatever capabilities the writer holds. It copies no
//!   bytes, so it costs well under a millisecond;
//! - fallback (kernels before 5.12), a memfd holding a copy of the binary, sealed against every
//!   write; the copy is made in the kernel with `sendfile`.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MemFdCreateFlag, memfd_create};

/// The seals that make the copy immutable.
const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// Errors while making or entering the sealed copy.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// cannot open the runtime's own binary
    #[error("cannot open the runtime's own binary: {0}")]
    OpenSelf(std::io::Error),
    /// cannot copy the runtime into a sealed memfd
    #[error("cannot copy the runtime into a sealed memfd: {0}")]
    Copy(nix::Error),
    /// cannot re-execute from the sealed copy
    #[error("cannot re-execute from the sealed copy: {0}")]
    Exec(nix::Error),
}

/// Whether this process already runs from a copy that cannot be written: a sealed memfd, or a
/// file on a read-only mount.
pub fn running_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    let sealed = fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS)
        .is_ok_and(|seals| SealFlag::from_bits_truncate(seals).contains(SEALS));
    sealed
        || nix::sys::statvfs::fstatvfs(&exe)
            .is_ok_and(|st| st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// `struct mount_attr` (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A detached, read-only bind mount of the running binary (an `O_PATH`-like fd on the file).
pub fn read_only_clone() -> Result<OwnedFd, SealError> {
    read_only_clone_of(c"/proc/self/exe")
}

/// A detached, read-only bind mount of the file at `path`. A program executed through it runs
/// sealed from the start: berth-shim runs the runtime so, and the runtime then needn't
/// re-execute itself on every `create` and `exec`.
pub fn read_only_clone_of(path: &std::ffi::CStr) -> Result<OwnedFd, SealError> {
    // SAFETY: open_tree reads a NUL-terminated path and returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(SealError::Copy(nix::Error::last()));
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` is a valid mount_attr of the size passed; "" with AT_EMPTY_PATH names
    // the fd itself.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(SealError::Copy(nix::Error::last()));
    }
    Ok(fd)
}

/// Make a sealed in-memory copy of the running binary.
pub fn sealed_copy() -> Result<OwnedFd, SealError> {
    let exe = File::open("/proc/self/exe").map_err(SealError::OpenSelf)?;
    let len = exe.metadata().map_err(SealError::OpenSelf)?.len() as usize;
    let memfd = memfd_create(
        c"berth-runtime",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .map_err(SealError::Copy)?;
    let mut copied = 0;
    while copied < len {
        let n = nix::sys::sendfile::sendfile(memfd.as_fd(), exe.as_fd(), None, len - copied)
            .map_err(SealError::Copy)?;
        if n == 0 {
            break;
        }
        copied += n;
    }
    fcntl(memfd.as_raw_fd(), FcntlArg::F_ADD_SEALS(SEALS)).map_err(SealError::Copy)?;
    Ok(memfd)
}

/// Re-execute this process, with the same arguments and environment, from a sealed copy of its
/// binary, unless it already runs from one. Returns only on error.
pub fn reexec_sealed() -> Result<(), SealError> {
    if running_sealed() {
        return Ok(());
    }
    let copy = match read_only_clone() {
        Ok(fd) => fd,
        Err(_) => sealed_copy()?,
    };
    let args = to_cstrings(std::env::args_os());
    let env = to_cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }));
    // execveat on a CLOEXEC fd works for ELF binaries (only scripts need the fd after exec).
    let err = nix::unistd::execveat(
        Some(copy.as_raw_fd()),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .err()
    .unwrap_or(nix::Error::UnknownErrno);
    Err(SealError::Exec(err))
}

fn to_cstrings(items: impl Iterator<Item = OsString>) -> Vec<CString> {
    items
        .filter_map(|item| CString::new(item.as_bytes()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_sealed_and_refuses_writes() {
        let memfd = sealed_copy().expect("sealed copy");
        let seals = fcntl(memfd.as_raw_fd(), FcntlArg::F_GET_SEALS).expect("seals");
        assert!(SealFlag::from_bits_truncate(seals).contains(SEALS));
        let err = nix::unistd::write(&memfd, b"x").expect_err("a sealed memfd refuses writes");
        assert_eq!(err, nix::Error::EPERM);
        let original = std::fs::metadata("/proc/self/exe").expect("exe").len();
        let copy = File::from(memfd).metadata().expect("memfd").len();
        assert_eq!(original, copy);
    }

    #[test]
    fn test_binaries_are_not_sealed() {
        assert!(!running_sealed());
    }

    #[test]
    fn the_read_only_clone_refuses_writes() {
        let clone = read_only_clone().expect("open_tree + mount_setattr (root, kernel >= 5.12)");
        let path = format!("/proc/self/fd/{}", clone.as_raw_fd());
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect_err("a read-only mount refuses writers");
        // The test binary is itself running, so ETXTBSY may be reported before EROFS.
        assert!(
            matches!(err.raw_os_error(), Some(libc::EROFS | libc::ETXTBSY)),
            "{err}"
        );
        let stat = nix::sys::statvfs::statvfs(path.as_str()).expect("statvfs");
        assert!(stat.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    }
}
