//! `ps`: the pids in the container's cgroup.

use std::path::Path;

use anyhow::Result;

use crate::cgroups;
use crate::state::ContainerDir;

/// The container's pids, as seen from the host.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    Ok(cgroups::pids_of(&record.cgroup_dirs)?)
}
