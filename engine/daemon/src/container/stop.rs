//! `docker stop`, `docker kill`, `docker restart`.

use std::sync::Arc;
use std::time::Duration;

use super::record::Status;
use super::{Container, ContainerError, Containers};

/// How long `stop` waits for the stop signal to work before SIGKILL (Docker's default).
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// A signal by Docker's names: `SIGTERM`, `TERM`, `15`.
pub fn parse_signal(name: &str) -> Result<i32, ContainerError> {
    berth_shim::signal::parse_signal(name)
        .ok_or_else(|| ContainerError::BadRequest(format!("Invalid signal: {name}")))
}

/// The signal `stop` sends first: the container's stop signal, or SIGTERM when it has none or
/// one the kernel lacks (as Docker's `StopSignal()`), so every container can be stopped.
pub fn stop_signal(name: &str) -> i32 {
    berth_shim::signal::parse_signal(name).unwrap_or(libc::SIGTERM)
}

impl Containers {
    /// `POST /containers/{id}/stop?t=…`.
    pub async fn stop(&self, name: &str, timeout: Option<i64>) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let _lifecycle = container.lifecycle.lock().await;
        self.stop_locked(&container, timeout).await
    }

    pub(super) async fn stop_locked(
        &self,
        container: &Arc<Container>,
        timeout: Option<i64>,
    ) -> Result<(), ContainerError> {
        let record = container.record();
        if record.state.status == Status::Restarting {
            // Cancel the pending restart: the scheduled start sees the flag and gives up.
            container.update_durably(&self.inner.tmp, |r| {
                r.manually_stopped = true;
                r.state.status = Status::Exited;
            })?;
            return Ok(());
        }
        if !record.state.status.is_running() {
            return Err(ContainerError::NotModified);
        }
        container.update_durably(&self.inner.tmp, |r| r.manually_stopped = true)?;
        let signal = stop_signal(&record.config.stop_signal);
        let timeout = timeout
            .or(record.config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let mut exits = container.exits.subscribe();
        exits.mark_unchanged();
        crate::explain!(container = %record.id, "sent signal {signal} to container {} to stop it", record.short_id());
        self.signal(container, signal, false).await?;
        let waited = if timeout < 0 {
            exits.changed().await.map_err(|_| ())
        } else {
            tokio::time::timeout(Duration::from_secs(timeout as u64), exits.changed())
                .await
                .map_err(|_| ())
                .and_then(|r| r.map_err(|_| ()))
        };
        if waited.is_err() {
            crate::explain!(container = %record.id, "container {} did not stop within {timeout} s: sent SIGKILL", record.short_id());
            self.signal(container, 9, true).await?;
            let _ = exits.changed().await;
        }
        self.event(container, "stop", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/kill?signal=…`.
    pub async fn kill(&self, name: &str, signal: Option<&str>) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let signal = parse_signal(signal.filter(|s| !s.is_empty()).unwrap_or("SIGKILL"))?;
        let _lifecycle = container.lifecycle.lock().await;
        let record = container.record();
        if !record.state.status.can_kill() {
            return Err(ContainerError::not_running(&record.id));
        }
        container.update_durably(&self.inner.tmp, |r| r.manually_stopped = true)?;
        let mut exits = container.exits.subscribe();
        exits.mark_unchanged();
        self.signal(&container, signal, false).await?;
        self.event(&container, "kill", &[("signal", signal.to_string())]);
        // Docker's kill returns once a SIGKILL has taken effect.
        if signal == 9 {
            let _ = tokio::time::timeout(Duration::from_secs(10), exits.changed()).await;
        }
        Ok(())
    }

    /// `POST /containers/{id}/restart?t=…`.
    pub async fn restart(&self, name: &str, timeout: Option<i64>) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let _lifecycle = container.lifecycle.lock().await;
        match self.stop_locked(&container, timeout).await {
            Ok(()) | Err(ContainerError::NotModified) => {}
            Err(e) => return Err(e),
        }
        self.start_locked(&container).await?;
        self.event(&container, "restart", &[]);
        Ok(())
    }

    async fn signal(&self, container: &Container, signal: i32, all: bool) -> Result<(), ContainerError> {
        let shim = container.shim();
        tokio::task::spawn_blocking(move || shim.kill(signal, all))
            .await?
            .map_err(|e| ContainerError::Internal(format!("cannot kill container: {e}")))
    }
}
