//! `docker pause` / `docker unpause`: every process of the container frozen in its cgroup (the
//! runtime's `pause` and `resume`, run by the shim), the record `paused` meanwhile. A frozen
//! process is not scheduled at all: it cannot notice, unlike a SIGSTOP.

use super::record::Status;
use super::{ContainerError, Containers};

impl Containers {
    /// `POST /containers/{id}/pause`.
    pub async fn pause(&self, name: &str) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let _lifecycle = container.lifecycle.lock().await;
        let id = container.id.clone();
        // Docker's checks, in its order and words.
        match container.record().state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(ContainerError::Conflict(format!(
                    "Container {id} is already paused"
                )));
            }
            Status::Restarting => {
                return Err(ContainerError::Conflict(format!(
                    "Container {id} is restarting, wait until the container is running"
                )));
            }
            _ => return Err(ContainerError::not_running(&id)),
        }
        let shim = container.shim();
        tokio::task::spawn_blocking(move || shim.pause())
            .await?
            .map_err(|e| ContainerError::Internal(format!("Cannot pause container {id}: {e}")))?;
        container.update(&self.inner.tmp, |r| r.state.status = Status::Paused)?;
        crate::explain!(container = %container.id, "froze every process of container {} in its cgroup", container.record().short_id());
        self.event(&container, "pause", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn unpause(&self, name: &str) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let _lifecycle = container.lifecycle.lock().await;
        let id = container.id.clone();
        if container.record().state.status != Status::Paused {
            // Docker 20.10 gives this one no kind: a 500.
            return Err(ContainerError::Internal(format!("Container {id} is not paused")));
        }
        let shim = container.shim();
        tokio::task::spawn_blocking(move || shim.resume())
            .await?
            .map_err(|e| ContainerError::Internal(format!("Cannot unpause container {id}: {e}")))?;
        container.update(&self.inner.tmp, |r| r.state.status = Status::Running)?;
        crate::explain!(container = %container.id, "thawed every process of container {}", container.record().short_id());
        self.event(&container, "unpause", &[]);
        Ok(())
    }
}
