//! The exit record: what `wait` answers and what `<state-dir>/exit.json` holds.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomically;
use crate::paths::StateDir;

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code; 128 + the signal number when it was killed by a signal (137 for SIGKILL).
    pub exit_code: i32,
    /// When the shim reaped it: Go's RFC3339Nano, UTC.
    pub finished_at: String,
    /// The container's memory cgroup counted an OOM kill (always false for an exec).
    pub oom_killed: bool,
}

/// Why `exit.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExitFileError {
    /// could not read exit file {path}: {source}
    #[error("could not read exit file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// bad exit file {path}: {source}
    #[error("bad exit file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The JSON error.
        source: serde_json::Error,
    },
}

impl ExitStatus {
    /// The exit code for a wait status: the code, or 128 + signal.
    pub fn code_of(status: nix::sys::wait::WaitStatus) -> Option<i32> {
        use nix::sys::wait::WaitStatus;
        match status {
            WaitStatus::Exited(_, code) => Some(code),
            WaitStatus::Signaled(_, signal, _) => Some(128 + signal as i32),
            _ => None,
        }
    }

    /// Write `exit.json` into `state_dir` atomically: temp file, fsync, rename, fsync the dir.
    pub fn write_to_state_dir(&self, state_dir: &Path) -> io::Result<()> {
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_atomically(&StateDir::new(state_dir).exit_file(), &json)
    }

    /// Read `exit.json` from `state_dir`; `None` when the process has not exited (no file).
    pub fn read_from_state_dir(state_dir: &Path) -> Result<Option<Self>, ExitFileError> {
        let path = StateDir::new(state_dir).exit_file();
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ExitFileError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|source| ExitFileError::Parse {
                path: path.display().to_string(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;
    use nix::unistd::Pid;

    #[test]
    fn signals_map_to_128_plus_signal() {
        let pid = Pid::from_raw(1);
        assert_eq!(ExitStatus::code_of(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            ExitStatus::code_of(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(
            ExitStatus::code_of(WaitStatus::Signaled(pid, Signal::SIGTERM, true)),
            Some(143)
        );
        assert_eq!(ExitStatus::code_of(WaitStatus::StillAlive), None);
    }

    #[test]
    fn exit_file_round_trips_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ExitStatus::read_from_state_dir(dir.path()).unwrap(), None);
        let status = ExitStatus {
            exit_code: 137,
            finished_at: "2026-11-28T03:30:05.1Z".into(),
            oom_killed: true,
        };
        status.write_to_state_dir(dir.path()).unwrap();
        assert_eq!(ExitStatus::read_from_state_dir(dir.path()).unwrap(), Some(status));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("exit.json")]);
    }

    #[test]
    fn exit_file_has_the_contract_fields() {
        let dir = tempfile::tempdir().unwrap();
        let status = ExitStatus {
            exit_code: 0,
            finished_at: "2026-11-28T03:30:05Z".into(),
            oom_killed: false,
        };
        status.write_to_state_dir(dir.path()).unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join("exit.json")).unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"exit_code": 0, "finished_at": "2026-11-28T03:30:05Z", "oom_killed": false})
        );
    }
}
