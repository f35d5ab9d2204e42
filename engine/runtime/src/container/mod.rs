//! The lifecycle operations, one file each, as the OCI runtime spec names them.

/// `create`: set up the container and leave its init waiting for `start`.
pub mod create;
/// `delete`: remove a stopped container's cgroups and state.
pub mod delete;
/// `events`: the container's statistics and OOM notifications as JSON lines.
pub mod events;
/// `exec`: run another process inside a running container.
pub mod exec;
/// The container's init: what happens inside the new namespaces before the user's program.
pub mod init;
/// `kill`: signal the init, or every process of the container.
pub mod kill;
/// `pause` and `resume`: freezing and thawing the container's processes.
pub mod pause;
/// `ps`: the container's processes.
pub mod ps;
/// `run`: create, start and (without --detach) wait.
pub mod run;
/// Making a process in new namespaces: `clone` with fork semantics.
pub mod spawn;
/// `start`: release the init into the user's program.
pub mod start;
/// `state`: the OCI state JSON.
pub mod state;
/// `update`: changing a live container's resource limits.
pub mod update;
/// Waiting for a process that is not our child, and forwarding signals to one that is.
pub mod wait;

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

/// Write a pid file the way runc does: to a temp file renamed into place, so readers never
/// see a partial number.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().context("the pid file has no name")?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut file =
        fs::File::create(&tmp).with_context(|| format!("cannot write pid file {}", tmp.display()))?;
    write!(file, "{pid}").with_context(|| format!("cannot write pid file {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write pid file {}", path.display()))
}
