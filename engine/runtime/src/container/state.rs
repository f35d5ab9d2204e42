//! `state`: the OCI state JSON, indented like runc's.

use std::path::Path;

use anyhow::Result;

use crate::state::{ContainerDir, OciState};

/// The container's state.
pub fn state(root: &Path, id: &str) -> Result<OciState> {
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    Ok(dir.oci_state(&record))
}
