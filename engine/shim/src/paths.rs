//! Every file the shim keeps in its state dir, by one name each, so berthd, the shim and the tests
//! agree on them.

use std::path::{Path, PathBuf};

/// The shim's state dir (`--state-dir`), with the names of the files inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir(PathBuf);

impl StateDir {
    /// Wrap a state dir path.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// The shim's UNIX socket, bound once the container is created.
    pub fn socket(&self) -> PathBuf {
        self.0.join("shim.sock")
    }

    /// The shim's own pid, written once the socket is bound.
    pub fn shim_pid(&self) -> PathBuf {
        self.0.join("shim.pid")
    }

    /// The container's init pid, written by the runtime (`--pid-file`).
    pub fn init_pid(&self) -> PathBuf {
        self.0.join("init.pid")
    }

    /// The exit record, written when init has exited.
    pub fn exit_file(&self) -> PathBuf {
        self.0.join("exit.json")
    }

    /// Explain events of the shim and the runtime's `--log`, one JSON object per line.
    pub fn explain_log(&self) -> PathBuf {
        self.0.join("explain.jsonl")
    }

    /// The shim's own warnings (its stderr is `/dev/null`).
    pub fn shim_log(&self) -> PathBuf {
        self.0.join("shim.log")
    }

    /// Where the runtime sends a pty master (`--console-socket`), bound only while it runs.
    /// Kept short: the exec id is not in the name, because socket paths are limited to 107 bytes.
    pub fn console_socket(&self) -> PathBuf {
        self.0.join("console.sock")
    }

    /// The OCI process JSON of an exec, handed to `runtime exec --process`.
    pub fn exec_process(&self, exec_id: &str) -> PathBuf {
        self.0.join(format!("exec-{exec_id}.json"))
    }

    /// The resources of an `update`, for the runtime's `--resources` while it runs.
    pub fn update_resources(&self) -> PathBuf {
        self.0.join("update-resources.json")
    }

    /// The pid of an exec, written by the runtime (`--pid-file`).
    pub fn exec_pid(&self, exec_id: &str) -> PathBuf {
        self.0.join(format!("exec-{exec_id}.pid"))
    }
}
