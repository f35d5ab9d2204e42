//! `docker attach` (and the attach `docker run` makes), and window resizes.

use std::os::unix::net::UnixStream;

use tokio::sync::oneshot;

use super::record::Status;
use super::start::PendingAttach;
use super::{ContainerError, Containers};

/// The stream an attach is served: now for a running container, at start for another.
pub type AttachStream =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<UnixStream, ContainerError>> + Send>>;

impl Containers {
    /// The client typed the detach keys on the container's terminal: it runs on, unwatched.
    pub fn detached(&self, name: &str) {
        if let Ok(container) = self.get(name) {
            self.event(&container, "detach", &[]);
        }
    }

    /// The container's stdio as a stream (Docker's frames without a tty, raw bytes with one).
    ///
    /// Checks happen now; the stream comes from the returned future. Before start, the attach is
    /// registered now and served when the container starts, so a client can be answered (`101`)
    /// and then start the container, as Docker's CLI does, without missing a byte.
    pub fn attach(
        &self,
        name: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<(bool, AttachStream), ContainerError> {
        let container = self.get(name)?;
        let record = container.record();
        let tty = record.config.tty;
        if !matches!(record.state.status, Status::Paused | Status::Restarting) {
            self.event(&container, "attach", &[]);
        }
        match record.state.status {
            Status::Paused => {
                return Err(ContainerError::Conflict(format!(
                    "container {name} is paused, unpause the container before attach."
                )));
            }
            Status::Restarting => {
                return Err(ContainerError::Conflict(format!(
                    "container {name} is restarting, wait until the container is running"
                )));
            }
            Status::Running => {
                let shim = container.shim();
                let stream = async move {
                    tokio::task::spawn_blocking(move || shim.attach("init", stdin, stdout, stderr))
                        .await?
                        .map_err(|e| ContainerError::Internal(e.to_string()))
                };
                return Ok((tty, Box::pin(stream)));
            }
            _ => {}
        }
        let (reply, served) = oneshot::channel();
        container
            .pending_attach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(PendingAttach {
                stdin,
                stdout,
                stderr,
                reply,
            });
        let stream = async move {
            served
                .await
                .map_err(|_| ContainerError::Conflict("container was removed before it started".into()))?
        };
        Ok((tty, Box::pin(stream)))
    }

    /// `POST /containers/{id}/resize?h=…&w=…`.
    pub async fn resize(&self, name: &str, width: u16, height: u16) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        if !container.record().state.status.is_running() {
            return Err(ContainerError::not_running(&container.id));
        }
        let shim = container.shim();
        tokio::task::spawn_blocking(move || shim.resize("init", width, height))
            .await?
            .map_err(|e| ContainerError::Internal(e.to_string()))
    }
}
