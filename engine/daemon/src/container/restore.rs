//! After a daemon restart: find every container again from its record, reconnect to the shims
//! still holding running ones, record the exits that happened meanwhile, apply restart policies.

use berth_shim::exit::ExitStatus;
use berth_shim::protocol::ProcessStatus;

use super::record::{ContainerRecord, Status};
use super::{Container, ContainerError, Containers};

impl Containers {
    /// Read every record under `<data-root>/containers`.
    pub(super) fn load_records(&self) -> Result<(), ContainerError> {
        let dir = self.inner.data_root.join("containers");
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let Ok(record) = ContainerRecord::load(&path) else {
                tracing::warn!("skipping {}: no readable container record", path.display());
                continue;
            };
            let paths = self.paths(&record.id);
            self.table()
                .insert(record.id.clone(), Container::new(record, paths));
        }
        Ok(())
    }

    /// Reconcile what the records say with what the shims know. Call once the async runtime runs.
    pub async fn restore(&self) {
        // First every address and port of the containers that were running goes back to them,
        // so a container restarted below can't be handed one (the dead ones give theirs back).
        for container in self.all() {
            if container.record().state.status.is_running() {
                let (this, c) = (self.clone(), container.clone());
                let _ = tokio::task::spawn_blocking(move || this.restore_network(&c)).await;
                self.restore_volumes(&container);
            }
        }
        for container in self.all() {
            let record = container.record();
            if !record.state.status.is_running() {
                if record.host_config.auto_remove && record.has_been_started {
                    let _ = self.remove(&record.id, true, true).await;
                }
                continue;
            }
            let shim = container.shim();
            let alive = tokio::task::spawn_blocking(move || shim.state())
                .await
                .ok()
                .and_then(Result::ok);
            match alive {
                Some(state) if state.status == ProcessStatus::Running => {
                    tracing::info!(container = %record.id, "found running container {} again", record.short_id());
                    // A paused container stays frozen while berthd is away: still paused.
                    let _ = container.update(&self.inner.tmp, |r| {
                        if r.state.status != Status::Paused {
                            r.state.status = Status::Running;
                        }
                    });
                    self.monitor(container.clone());
                    // Its healthcheck starts over, as dockerd's does when it restores a container.
                    self.watch_health(&container);
                }
                _ => {
                    // The container ended while berthd was away: take the exit its shim recorded.
                    let exit = ExitStatus::read_from_state_dir(&container.paths.exec)
                        .ok()
                        .flatten()
                        .unwrap_or(ExitStatus {
                            exit_code: 255,
                            finished_at: crate::image::time::now_rfc3339(),
                            oom_killed: false,
                        });
                    let (this, c) = (self.clone(), container.clone());
                    let _ = tokio::task::spawn_blocking(move || {
                        this.release_host_resources(&c, crate::network::VethRelease::Now)
                    })
                    .await;
                    let _ = container.update(&self.inner.tmp, |r| {
                        r.state.status = Status::Exited;
                        r.state.pid = 0;
                        r.state.exit_code = i64::from(exit.exit_code);
                        r.state.finished_at = exit.finished_at.clone();
                        r.state.oom_killed = exit.oom_killed;
                    });
                    container.exits.send_modify(|n| *n += 1);
                    let record = container.record();
                    if self.should_restart(&record) {
                        let _lifecycle = container.lifecycle.lock().await;
                        let _ = self.start_locked(&container).await;
                    } else if record.host_config.auto_remove {
                        let _ = self.remove(&record.id, true, true).await;
                    }
                }
            }
        }
        // Filesystems of volumes whose last container ended while berthd was away.
        let volumes = self.clone();
        let _ = tokio::task::spawn_blocking(move || volumes.inner.volumes.unmount_inactive()).await;
        // Published ports of the containers found again, in one nftables write.
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || this.refresh_firewall()).await;
        // `always` and `unless-stopped` containers come back with the daemon.
        for container in self.all() {
            let record = container.record();
            let policy = record.host_config.restart_policy.name.as_str();
            let wants = policy == "always" || (policy == "unless-stopped" && !record.manually_stopped);
            if wants && record.has_been_started && !record.state.status.is_running() {
                let _lifecycle = container.lifecycle.lock().await;
                let _ = self.start_locked(&container).await;
            }
        }
    }
}
