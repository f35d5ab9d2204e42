//! Learning that a container ran out of memory. cgroup v1 notifies through an eventfd
//! registered in `cgroup.event_control` against `memory.oom_control` (the eventfd also fires when
//! the cgroup is removed); cgroup v2 counts OOM kills in `memory.events`, which we poll.

use std::fs::{self, File};
use std::io::Read as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CgroupError, write_file};

/// How often `memory.events` is read on v2.
const POLL: Duration = Duration::from_millis(100);

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomEvent {
    /// The cgroup ran out of memory.
    Oom,
    /// The cgroup is gone: no more events will come.
    Gone,
}

/// A registered watch on a container's memory cgroup.
#[derive(Debug)]
pub enum OomWatch {
    /// v1: the eventfd, and `memory.oom_control` kept open for as long as it is registered.
    V1 {
        /// The memory cgroup's directory.
        dir: PathBuf,
        /// The eventfd the kernel signals.
        eventfd: File,
        /// Kept open: the registration refers to it.
        _oom_control: File,
    },
    /// v2: the last `oom_kill` count seen.
    V2 {
        /// The cgroup's directory.
        dir: PathBuf,
        /// The count so far.
        seen: u64,
    },
}

impl OomWatch {
    /// Watch a v1 memory cgroup directory.
    pub fn v1(dir: &Path) -> Result<Self, CgroupError> {
        let control = dir.join("memory.oom_control");
        let oom_control = File::open(&control).map_err(|source| CgroupError::Read {
            path: control.clone(),
            source,
        })?;
        // SAFETY: eventfd takes no pointers; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(CgroupError::Read {
                path: control,
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: the fd was just created and is owned by nobody else.
        let eventfd = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        write_file(
            &dir.join("cgroup.event_control"),
            &format!("{} {}", eventfd.as_raw_fd(), oom_control.as_raw_fd()),
        )?;
        Ok(OomWatch::V1 {
            dir: dir.to_path_buf(),
            eventfd,
            _oom_control: oom_control,
        })
    }

    /// Watch a v2 cgroup directory: only OOM kills from now on count.
    pub fn v2(dir: &Path) -> Result<Self, CgroupError> {
        let seen = oom_kills(dir)?;
        Ok(OomWatch::V2 {
            dir: dir.to_path_buf(),
            seen,
        })
    }

    /// Block until the next OOM, or until the cgroup is gone.
    pub fn wait(&mut self) -> OomEvent {
        match self {
            OomWatch::V1 { dir, eventfd, .. } => {
                let mut counter = [0u8; 8];
                if eventfd.read_exact(&mut counter).is_err() {
                    return OomEvent::Gone;
                }
                // Removing the cgroup also signals the eventfd.
                if dir.join("cgroup.event_control").exists() {
                    OomEvent::Oom
                } else {
                    OomEvent::Gone
                }
            }
            OomWatch::V2 { dir, seen } => loop {
                match oom_kills(dir) {
                    Ok(count) if count > *seen => {
                        *seen = count;
                        return OomEvent::Oom;
                    }
                    Ok(_) => std::thread::sleep(POLL),
                    Err(_) => return OomEvent::Gone,
                }
            },
        }
    }
}

/// The `oom_kill` count of a v2 cgroup's `memory.events`.
fn oom_kills(dir: &Path) -> Result<u64, CgroupError> {
    let path = dir.join("memory.events");
    let text = fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_counts_only_new_oom_kills_and_ends_when_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let events = dir.path().join("memory.events");
        fs::write(&events, "oom 1\noom_kill 1\n").expect("w");
        let mut watch = OomWatch::v2(dir.path()).expect("watch");
        fs::write(&events, "oom 2\noom_kill 2\n").expect("w");
        assert_eq!(watch.wait(), OomEvent::Oom);
        fs::remove_file(&events).expect("rm");
        assert_eq!(watch.wait(), OomEvent::Gone);
    }
}
