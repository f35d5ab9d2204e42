//! `docker pause` / `docker unpause`: every process of the container frozen in its cgroup (the
//! runtime's `pause` and `resume`, run by the shim), the record `paused` meanwhile. A frozen
//! process is not scheduled at all: it cannot notice, unlike a SIGSTOP.

use super::record::Status;
use super::{Container, ContainerError, Containers};

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
        self.set_frozen(&container, true).await
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
        self.set_frozen(&container, false).await
    }

    /// Freeze or thaw through the shim, then record it and tell the event stream.
    async fn set_frozen(&self, container: &Container, frozen: bool) -> Result<(), ContainerError> {
        let (shim, id) = (container.shim(), container.id.clone());
        let (verb, status) = if frozen {
            ("pause", Status::Paused)
        } else {
            ("unpause", Status::Running)
        };
        tokio::task::spawn_blocking(move || if frozen { shim.pause() } else { shim.resume() })
            .await?
            .map_err(|e| ContainerError::Internal(format!("Cannot {verb} container {id}: {e}")))?;
        container.update(&self.inner.tmp, |r| r.state.status = status)?;
        let done = if frozen {
            "froze every process of"
        } else {
            "thawed every process of"
        };
        crate::explain!(container = %container.id, "{done} container {}", container.record().short_id());
        self.event(container, verb, &[]);
        Ok(())
    }
}
