//! `delete`: remove every trace of a container: its cgroup directories and its state folder.
//! A created container is killed first (as runc does); a running one only with `--force`.

use std::path::Path;

use anyhow::{Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cgroups;
use crate::state::{ContainerDir, Record, StateError, Status};

use super::wait::wait_gone;

/// Delete the container.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = ContainerDir::new(root, id)?;
    let record = match dir.load() {
        Ok(record) => record,
        Err(StateError::NotFound(_)) if force => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    let status = dir.status(&record);
    if !status.can_delete() && !force {
        bail!(
            "cannot delete container {id} that is not stopped: {}",
            status.as_str()
        );
    }
    destroy(&dir, &record, status)
}

/// Kill what is left and remove the cgroups and the state folder.
pub fn destroy(dir: &ContainerDir, record: &Record, status: Status) -> Result<()> {
    if status != Status::Stopped {
        let _ = kill(Pid::from_raw(record.pid), Signal::SIGKILL);
        // Processes outside the init's pid namespace (exec'd ones) die with it only if we ask.
        for pid in cgroups::pids_of(&record.cgroup_dirs).unwrap_or_default() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // A frozen process dies of SIGKILL only once thawed (runc thaws it the same way).
        if let Some(freezer) = cgroups::freezer::Freezer::of(&record.cgroup_dirs) {
            let _ = freezer.thaw();
        }
        wait_gone(record.pid, 10_000);
        crate::explain!("killed the container's processes");
    }
    let mut state = dir.oci_state(record);
    cgroups::remove(&record.cgroup_dirs)?;
    dir.remove()?;
    crate::explain!("removed the container's state {}", dir.path.display());
    if !record.poststop.is_empty() {
        state.status = Status::Stopped;
        state.pid = 0;
        let context = crate::hooks::Context::default();
        crate::hooks::run_warning_only(crate::hooks::Kind::Poststop, &record.poststop, &state, context);
    }
    Ok(())
}
