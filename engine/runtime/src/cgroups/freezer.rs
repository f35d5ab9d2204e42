//! Pausing a container: every process of its cgroup stops being scheduled, without a signal it
//! could notice. cgroup v1 has a `freezer` controller (`freezer.state`: THAWED, FREEZING,
//! FROZEN); cgroup v2 has `cgroup.freeze` in every cgroup and reports `frozen 1` in
//! `cgroup.events` once done. On a hybrid host the v1 freezer is used, as runc does.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{CgroupError, write_file};

/// How long freezing may take before we give up (runc retries for about as long).
const TIMEOUT: Duration = Duration::from_secs(5);

/// A container's freezer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freezer {
    /// The v1 freezer hierarchy's directory.
    V1(PathBuf),
    /// The v2 directory.
    V2(PathBuf),
}

impl Freezer {
    /// The freezer among a container's recorded cgroup directories: a v1 freezer when there is
    /// one, otherwise the unified directory's `cgroup.freeze`.
    pub fn of(dirs: &[PathBuf]) -> Option<Self> {
        if let Some(dir) = dirs.iter().find(|d| d.join("freezer.state").exists()) {
            return Some(Freezer::V1(dir.clone()));
        }
        dirs.iter()
            .find(|d| d.join("cgroup.freeze").exists())
            .map(|d| Freezer::V2(d.clone()))
    }

    /// Whether the cgroup itself is frozen (not merely inside a frozen parent).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        match self {
            Freezer::V1(dir) => {
                if dir.join("freezer.self_freezing").exists() {
                    return Ok(read(&dir.join("freezer.self_freezing"))? == "1");
                }
                Ok(read(&dir.join("freezer.state"))? == "FROZEN")
            }
            Freezer::V2(dir) => Ok(read(&dir.join("cgroup.freeze"))? == "1"),
        }
    }

    /// Freeze, and wait until every process is frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set(true)
    }

    /// Thaw, and wait until the cgroup reports it.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set(false)
    }

    fn set(&self, frozen: bool) -> Result<(), CgroupError> {
        let deadline = Instant::now() + TIMEOUT;
        match self {
            Freezer::V1(dir) => {
                let file = dir.join("freezer.state");
                let want = if frozen { "FROZEN" } else { "THAWED" };
                loop {
                    // Written again on each round: a task forking while the cgroup freezes can
                    // leave it FREEZING until asked once more.
                    write_file(&file, want)?;
                    let state = read(&file)?;
                    if state == want {
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err(CgroupError::FreezeTimeout {
                            path: dir.clone(),
                            want,
                            state,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Freezer::V2(dir) => {
                write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
                let want = if frozen { "frozen 1" } else { "frozen 0" };
                loop {
                    let events = read(&dir.join("cgroup.events"))?;
                    if events.lines().any(|l| l.trim() == want) {
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err(CgroupError::FreezeTimeout {
                            path: dir.clone(),
                            want: if frozen { "FROZEN" } else { "THAWED" },
                            state: events.replace('\n', ", "),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}

fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| CgroupError::Read {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_freezer_is_preferred_and_read_through_self_freezing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let unified = tmp.path().join("unified");
        let freezer = tmp.path().join("freezer");
        for dir in [&unified, &freezer] {
            fs::create_dir(dir).expect("mkdir");
        }
        fs::write(unified.join("cgroup.freeze"), "0\n").expect("w");
        fs::write(freezer.join("freezer.state"), "FROZEN\n").expect("w");
        fs::write(freezer.join("freezer.self_freezing"), "0\n").expect("w");
        let f = Freezer::of(&[unified.clone(), freezer.clone()]).expect("freezer");
        assert_eq!(f, Freezer::V1(freezer.clone()));
        // Frozen only through a parent: not paused itself.
        assert!(!f.is_frozen().expect("read"));
        fs::write(freezer.join("freezer.self_freezing"), "1\n").expect("w");
        assert!(f.is_frozen().expect("read"));
        assert_eq!(
            Freezer::of(std::slice::from_ref(&unified)),
            Some(Freezer::V2(unified))
        );
        assert_eq!(Freezer::of(&[]), None);
    }
}
