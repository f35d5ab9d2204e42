//! CVE-2019-5736: a container must never get hold of the runtime's binary on the host.
//!
//! A container's init runs our code until its final `execve`, so `/proc/<pid>/exe` points at the
//! runtime for a while; runc ≤ 1.0-rc6 let a malicious container reopen that file and overwrite it.
//! Before creating anything, the commands that put a process in a container re-execute themselves
//! from a memfd holding a copy of the binary, sealed against every write. The copy is made in the
//! kernel with `sendfile` (no bytes pass through user space) and costs about a millisecond.

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

/// Whether this process already runs from a sealed copy.
pub fn running_sealed() -> bool {
    File::open("/proc/self/exe")
        .ok()
        .and_then(|exe| fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS).ok())
        .is_some_and(|seals| SealFlag::from_bits_truncate(seals).contains(SEALS))
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
    let memfd = sealed_copy()?;
    let args = to_cstrings(std::env::args_os());
    let env = to_cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }));
    // fexecve on a CLOEXEC memfd works for ELF binaries (only scripts need the fd after exec).
    let err = nix::unistd::fexecve(memfd.as_raw_fd(), &args, &env)
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
}
