//! `run`: create and start in one process; without `--detach`, wait for the container's exit,
//! delete it and return its exit code, as `runc run` does.

use anyhow::Result;
use nix::unistd::Pid;

use crate::state::Status;

use super::create::{CreateOptions, create};
use super::delete::destroy;
use super::start::start_loaded;
use super::wait::{forward_signals_to, wait_child};

/// Run the container; returns the exit code to exit with.
pub fn run(options: &CreateOptions, detach: bool) -> Result<i32> {
    let created = create(options)?;
    let pid = Pid::from_raw(created.record.pid);
    if let Err(err) = start_loaded(&created.dir, &created.record) {
        let _ = destroy(&created.dir, &created.record, Status::Created);
        return Err(err);
    }
    if detach {
        return Ok(0);
    }
    forward_signals_to(pid);
    let code = wait_child(pid)?;
    destroy(&created.dir, &created.record, Status::Stopped)?;
    Ok(code)
}
