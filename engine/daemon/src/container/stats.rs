//! What `docker stats` and the metrics endpoint need to know of a container to read its
//! counters: where its cgroup is (the runtime's record of the directories it made), which process
//! shows its network namespace, and the names to label it with. The reading itself is the
//! `stats` module's.

use std::path::PathBuf;

use super::{Container, ContainerError, Containers, Status};

/// A container as the counters' reader sees it.
#[derive(Debug, Clone)]
pub struct StatsTarget {
    pub id: String,
    /// With Docker's leading slash: `/web`.
    pub name: String,
    /// The image as the user named it (`busybox`), cAdvisor's `image` label.
    pub image: String,
    /// Running (or paused): only then are there counters to read.
    pub running: bool,
    /// The init's pid on the host, whose `/proc/<pid>/net/dev` is the container's.
    pub pid: i64,
    /// Whether the container has interfaces of its own (not `host`, `none` or another
    /// container's namespace).
    pub own_network: bool,
    /// The runtime's `--root`, whose record of the container lists its cgroup's directories.
    pub runtime_root: PathBuf,
}

impl Containers {
    /// The container `name` as the counters' reader sees it.
    pub fn stats_target(&self, name: &str) -> Result<StatsTarget, ContainerError> {
        let container = self.get(name)?;
        Ok(self.target_of(&container))
    }

    /// Every running (or paused) container.
    pub fn running_stats_targets(&self) -> Vec<StatsTarget> {
        self.all()
            .iter()
            .map(|c| self.target_of(c))
            .filter(|t| t.running)
            .collect()
    }

    fn target_of(&self, container: &Container) -> StatsTarget {
        let record = container.record();
        let mode = record.host_config.network_mode.as_str();
        StatsTarget {
            id: record.id.clone(),
            name: record.name.clone(),
            image: record.config.image.clone(),
            // Docker gives a restarting container the empty answer of a stopped one.
            running: matches!(record.state.status, Status::Running | Status::Paused) && record.state.pid > 0,
            pid: record.state.pid,
            own_network: !matches!(mode, "host" | "none") && !mode.starts_with("container:"),
            runtime_root: self.runtime_root(),
        }
    }
}
