//! `docker attach` (and the attach `docker run` makes), window resizes, and `docker top`.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;

use berth_api::types::ContainerTopResponse;
use tokio::sync::oneshot;

use super::record::Status;
use super::start::PendingAttach;
use super::{ContainerError, Containers};

/// The stream an attach is served: now for a running container, at start for another.
pub type AttachStream =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<UnixStream, ContainerError>> + Send>>;

impl Containers {
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
            return Err(ContainerError::Conflict(format!(
                "Container {} is not running",
                container.id
            )));
        }
        let shim = container.shim();
        tokio::task::spawn_blocking(move || shim.resize("init", width, height))
            .await?
            .map_err(|e| ContainerError::Internal(e.to_string()))
    }

    /// `GET /containers/{id}/top?ps_args=…`: the host's `ps`, keeping the container's processes.
    pub async fn top(&self, name: &str, ps_args: &str) -> Result<ContainerTopResponse, ContainerError> {
        let container = self.get(name)?;
        let record = container.record();
        if !record.state.status.is_running() {
            return Err(ContainerError::Conflict(format!(
                "Container {} is not running",
                record.id
            )));
        }
        let parent = if record.host_config.cgroup_parent.is_empty() {
            "berth"
        } else {
            record.host_config.cgroup_parent.trim_matches('/')
        };
        let relative = format!("{parent}/{}", record.id);
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.split_whitespace().map(str::to_owned).collect()
        };
        tokio::task::spawn_blocking(move || top_of_cgroup(&relative, &args)).await?
    }
}

/// The pids in a container's cgroup: the v1 pids hierarchy, else the v2 one.
fn cgroup_pids(relative: &str) -> BTreeSet<u32> {
    [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ]
    .iter()
    .filter_map(|root| std::fs::read_to_string(format!("{root}/{relative}/cgroup.procs")).ok())
    .find(|procs| !procs.trim().is_empty())
    .map(|procs| procs.lines().filter_map(|l| l.trim().parse().ok()).collect())
    .unwrap_or_default()
}

fn top_of_cgroup(relative: &str, ps_args: &[String]) -> Result<ContainerTopResponse, ContainerError> {
    let pids = cgroup_pids(relative);
    let output = std::process::Command::new("ps")
        .args(ps_args)
        .output()
        .map_err(|e| ContainerError::Internal(format!("error running ps: {e}")))?;
    if !output.status.success() {
        return Err(ContainerError::Internal(format!(
            "ps: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let pid_column = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| ContainerError::Internal("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_column).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) may contain spaces: keep it whole.
        let mut row: Vec<String> = fields[..titles.len() - 1].iter().map(|s| s.to_string()).collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(ContainerTopResponse { titles, processes })
}
