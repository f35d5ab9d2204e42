//! `docker rm`: stop if forced, unmount, and delete every trace of the container.

use std::time::Duration;

use super::mounts::{ContainerMount, MountKind};
use super::record::Status;
use super::{ContainerError, Containers};

impl Containers {
    /// Remove the anonymous volumes among `mounts` that no other container uses (named volumes
    /// always stay, as Docker's guide notes).
    pub(super) fn remove_anonymous_volumes(&self, mounts: &[ContainerMount]) {
        for mount in mounts
            .iter()
            .filter(|m| m.anonymous && m.kind == MountKind::Volume)
        {
            if self.volume_users(&mount.name).is_empty() {
                let _ = self.inner.volumes.remove(&mount.name, &[], true);
            }
        }
    }

    /// `DELETE /containers/{id}?force=…&v=…`.
    pub async fn remove(&self, name: &str, force: bool, volumes: bool) -> Result<(), ContainerError> {
        let container = self.get(name)?;
        let _lifecycle = container.lifecycle.lock().await;
        if self.get(&container.id).is_err() {
            return Err(ContainerError::NotFound(name.to_owned()));
        }
        let record = container.record();
        if record.state.status.is_running() && record.state.status != super::Status::Restarting {
            if !force {
                let (state, procedure) = match record.state.status {
                    super::Status::Paused => ("paused", "Unpause and then stop"),
                    _ => ("running", "Stop"),
                };
                return Err(ContainerError::Conflict(format!(
                    "You cannot remove a {state} container {}. {procedure} the container before attempting removal or force remove",
                    record.id
                )));
            }
            let mut exits = container.exits.subscribe();
            exits.mark_unchanged();
            container.update(&self.inner.tmp, |r| r.manually_stopped = true)?;
            let shim = container.shim();
            let _ = tokio::task::spawn_blocking(move || shim.kill(9, true)).await?;
            let _ = tokio::time::timeout(Duration::from_secs(10), exits.changed()).await;
        }
        container.update(&self.inner.tmp, |r| {
            r.manually_stopped = true;
            r.state.status = Status::Removing;
        })?;
        let paths = container.paths.clone();
        let (runtime, runtime_root, id) = (
            self.inner.binaries.runtime.clone(),
            self.runtime_root(),
            record.id.clone(),
        );
        let (this, c) = (self.clone(), container.clone());
        tokio::task::spawn_blocking(move || -> Result<(), ContainerError> {
            // Whatever a berthd that died left of its network (veths, namespace) goes too.
            this.release_host_resources(&c, crate::network::VethRelease::Now);
            // A shim that died without cleaning up leaves runtime state; delete it too (and
            // spare a process when the shim did its job).
            if runtime_root.join(&id).exists() {
                let _ = std::process::Command::new(&runtime)
                    .arg("--root")
                    .arg(&runtime_root)
                    .args(["delete", "--force", &id])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            if paths.exec.exists() {
                crate::tree::remove_all(&paths.exec)?;
            }
            crate::tree::remove_all(&paths.data)?;
            Ok(())
        })
        .await??;
        self.table().remove(&container.id);
        if volumes {
            self.remove_anonymous_volumes(&record.mounts);
        }
        // To the daemon-wide log: the container's own log went with its directory, and writing
        // to it now would make that directory again.
        crate::explain!("removed container {} and its writable layer", record.short_id());
        self.event(&container, "destroy", &[]);
        container.removed.send_replace(true);
        Ok(())
    }
}
