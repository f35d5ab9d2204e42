//! Watching a running container: its exit, what that means for its record, restart policies
//! and `--rm`.

use std::sync::Arc;
use std::time::Duration;

use berth_shim::exit::ExitStatus;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::record::Status;
use super::{Container, Containers};

/// Docker's restart backoff: 100 ms, doubling, at most a minute; reset after 10 s of running.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
const BACKOFF_RESET_AFTER: i64 = 10;

/// Ask the shim to answer when the init process exits; when the shim is gone, read the exit it
/// recorded.
async fn wait_for_exit(container: &Container) -> ExitStatus {
    let socket = berth_shim::paths::StateDir::new(&container.paths.exec).socket();
    let asked = async {
        let mut stream = tokio::net::UnixStream::connect(&socket).await?;
        stream
            .write_all(b"{\"op\":\"wait\",\"process\":\"init\"}\n")
            .await?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await?;
        let reply: serde_json::Value = serde_json::from_str(&line).map_err(std::io::Error::other)?;
        if reply["ok"] != true {
            return Err(std::io::Error::other(reply["error"].to_string()));
        }
        serde_json::from_value::<ExitStatus>(reply).map_err(std::io::Error::other)
    };
    match asked.await {
        Ok(exit) => exit,
        Err(_) => recorded_exit(container).await,
    }
}

/// The exit the shim wrote before it went away (or, if it died without writing one, a kill).
async fn recorded_exit(container: &Container) -> ExitStatus {
    let state_dir = container.paths.exec.clone();
    // The shim writes exit.json just before it closes its socket; give it a moment.
    for _ in 0..50 {
        if let Ok(Some(exit)) = ExitStatus::read_from_state_dir(&state_dir) {
            return exit;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ExitStatus {
        exit_code: 137,
        finished_at: crate::image::time::now_rfc3339(),
        oom_killed: false,
    }
}

impl Containers {
    /// Watch a started container until its process exits.
    pub(super) fn monitor(&self, container: Arc<Container>) {
        let this = self.clone();
        tokio::spawn(async move {
            let exit = wait_for_exit(&container).await;
            this.on_exit(&container, exit).await;
        });
    }

    async fn on_exit(&self, container: &Arc<Container>, exit: ExitStatus) {
        let span = crate::explain::container_span(&container.id);
        let (this, c) = (self.clone(), container.clone());
        let _ = tokio::task::spawn_blocking(move || {
            span.in_scope(|| this.release_host_resources(&c, crate::network::VethRelease::InBackground))
        })
        .await;
        let updated = container.update(&self.inner.tmp, |record| {
            record.state.status = Status::Exited;
            record.state.pid = 0;
            record.state.exit_code = i64::from(exit.exit_code);
            record.state.finished_at = exit.finished_at.clone();
            record.state.oom_killed = exit.oom_killed;
            record.clone()
        });
        let Ok(record) = updated else { return };
        if exit.oom_killed {
            self.event(container, "oom", &[]);
        }
        self.event(container, "die", &[("exitCode", exit.exit_code.to_string())]);
        // Released before the record changed (so a new start never races the release), but
        // logged after `die`, in dockerd's order.
        self.publish_exit_events(container);
        container.exits.send_modify(|n| *n += 1);
        crate::explain!(container = %record.id, "container {} exited with code {}", record.short_id(), exit.exit_code);

        if self.should_restart(&record) {
            self.schedule_restart(container.clone(), &record);
        } else if record.host_config.auto_remove {
            let (this, id) = (self.clone(), record.id.clone());
            tokio::spawn(async move {
                let _ = this.remove(&id, false, true).await;
            });
        }
    }

    /// Docker's restart manager rules.
    pub(super) fn should_restart(&self, record: &super::ContainerRecord) -> bool {
        if record.manually_stopped {
            return false;
        }
        let policy = &record.host_config.restart_policy;
        match policy.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                record.state.exit_code != 0
                    && (policy.maximum_retry_count == 0 || record.restart_count < policy.maximum_retry_count)
            }
            _ => false,
        }
    }

    fn schedule_restart(&self, container: Arc<Container>, record: &super::ContainerRecord) {
        let ran_for = crate::image::time::parse_unix(&record.state.finished_at)
            - crate::image::time::parse_unix(&record.state.started_at);
        let delay = if ran_for >= BACKOFF_RESET_AFTER {
            BACKOFF_START
        } else {
            (BACKOFF_START * 2u32.saturating_pow(record.restart_count.clamp(0, 16) as u32)).min(BACKOFF_MAX)
        };
        let _ = container.update(&self.inner.tmp, |r| {
            r.state.status = Status::Restarting;
            r.restart_count += 1;
        });
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _lifecycle = container.lifecycle.lock().await;
            let record = container.record();
            // A stop or remove during the backoff wins.
            if record.state.status != Status::Restarting || record.manually_stopped {
                return;
            }
            let _ = container.update(&this.inner.tmp, |r| r.state.status = Status::Exited);
            if this.start_locked(&container).await.is_ok() {
                this.event(&container, "restart", &[]);
            }
        });
    }
}
