//! `pause` and `resume`: freeze every process of a container in place, and thaw them again. The
//! state then reads `paused`, from the freezer itself (nothing is stored), as runc reports it.

use std::path::Path;

use anyhow::{Result, bail};

use crate::cgroups::CgroupError;
use crate::cgroups::freezer::Freezer;
use crate::state::ContainerDir;

/// Freeze a created or running container.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    if !dir.status(&record).can_pause() {
        bail!("container not running: {id}");
    }
    let freezer = Freezer::of(&record.cgroup_dirs).ok_or(CgroupError::NoFreezer)?;
    freezer.freeze()?;
    crate::explain!("froze every process of the container ({freezer:?})");
    Ok(())
}

/// Thaw a paused container.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    if !dir.status(&record).can_resume() {
        bail!("container not paused: {id}");
    }
    let freezer = Freezer::of(&record.cgroup_dirs).ok_or(CgroupError::NoFreezer)?;
    freezer.thaw()?;
    crate::explain!("thawed every process of the container ({freezer:?})");
    Ok(())
}
