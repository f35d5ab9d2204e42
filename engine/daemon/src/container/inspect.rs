//! `docker inspect` and `docker ps` for containers.

use std::collections::BTreeMap;

use berth_api::types::{
    ContainerInspect, ContainerSummary, GraphDriverData, Port, SummaryHostConfig, SummaryNetworkSettings,
};
use berth_api::units::human_duration;

use super::record::{ContainerRecord, Status, ZERO_TIME};
use super::{Container, ContainerError, Containers};
use crate::image::{DRIVER_NAME, label_matches, time};
use crate::pattern;

/// Seconds since an RFC 3339 time.
fn seconds_since(rfc3339: &str) -> f64 {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .num_milliseconds()
                .max(0) as f64
                / 1000.0
        }
        Err(_) => 0.0,
    }
}

/// Docker's `State.String()`: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created"…
pub fn status_text(record: &ContainerRecord) -> String {
    let state = &record.state;
    match state.status {
        Status::Paused => format!("Up {} (Paused)", human_duration(seconds_since(&state.started_at))),
        Status::Restarting => {
            format!(
                "Restarting ({}) {} ago",
                state.exit_code,
                human_duration(seconds_since(&state.finished_at))
            )
        }
        Status::Running => format!(
            "Up {}{}",
            human_duration(seconds_since(&state.started_at)),
            super::health::status_suffix(state.health.as_ref())
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        _ if state.started_at == ZERO_TIME || state.started_at.is_empty() => "Created".into(),
        _ => format!(
            "Exited ({}) {} ago",
            state.exit_code,
            human_duration(seconds_since(&state.finished_at))
        ),
    }
}

/// `path args…`, arguments with spaces in single quotes, as `ps` shows the command.
fn command_text(record: &ContainerRecord) -> String {
    let mut command = record.path.clone();
    for arg in &record.args {
        command.push(' ');
        if arg.contains(' ') {
            command.push_str(&format!("'{arg}'"));
        } else {
            command.push_str(arg);
        }
    }
    command
}

/// Filters of `GET /containers/json`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    /// `-n`: the last N created (any state).
    pub limit: Option<usize>,
    pub ids: Vec<String>,
    pub names: Vec<String>,
    pub labels: Vec<String>,
    pub statuses: Vec<String>,
    /// `health=`: starting, healthy, unhealthy, or none (no healthcheck).
    pub healths: Vec<String>,
    pub exited: Vec<i64>,
    pub ancestors: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
    /// `size=1`: count each container's writable layer (`SizeRw`) and its whole root (`SizeRootFs`).
    pub size: bool,
}

impl Containers {
    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, name: &str) -> Result<ContainerInspect, ContainerError> {
        let container = self.get(name)?;
        Ok(self.inspect_container(&container))
    }

    /// `GET /containers/{id}/json?size=1`: with the sizes of its writable layer and root.
    pub fn inspect_with_size(&self, name: &str) -> Result<ContainerInspect, ContainerError> {
        let container = self.get(name)?;
        let mut inspect = self.inspect_container(&container);
        let (rw, root_fs) = self.sizes(&container.record());
        inspect.size_rw = Some(rw);
        inspect.size_root_fs = Some(root_fs);
        Ok(inspect)
    }

    /// Docker's `GetContainerLayerSize`: the bytes in the writable layer, and those plus the
    /// image's layers.
    pub(super) fn sizes(&self, record: &ContainerRecord) -> (i64, i64) {
        // Docker's `directory.Size` of the writable layer: a tree the container made.
        let rw = crate::tree::size(self.paths(&record.id).upper()) as i64;
        let image = self.inner.images.size(&record.image).unwrap_or(0) as i64;
        (rw, image + rw)
    }

    fn inspect_container(&self, container: &Container) -> ContainerInspect {
        let record = container.record();
        let paths = &container.paths;
        let mut graph = BTreeMap::new();
        let mut lowers = vec![paths.init_layer()];
        if let Some(top) = &record.top_layer {
            lowers.extend(
                self.inner
                    .images
                    .store()
                    .layers
                    .lower_dirs(top)
                    .unwrap_or_default(),
            );
        }
        let joined: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        graph.insert("LowerDir".to_owned(), joined.join(":"));
        graph.insert("MergedDir".into(), paths.rootfs().display().to_string());
        graph.insert("UpperDir".into(), paths.upper().display().to_string());
        graph.insert("WorkDir".into(), paths.work().display().to_string());
        let execs: Vec<String> = container
            .execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        ContainerInspect {
            id: record.id.clone(),
            created: record.created.clone(),
            path: record.path.clone(),
            args: record.args.clone(),
            state: record.state.to_api(),
            image: record.image.to_string(),
            resolv_conf_path: paths.resolv_conf().display().to_string(),
            hostname_path: paths.hostname().display().to_string(),
            hosts_path: paths.hosts().display().to_string(),
            log_path: paths.log(&record.id).display().to_string(),
            name: record.name.clone(),
            restart_count: record.restart_count,
            driver: DRIVER_NAME.into(),
            platform: "linux".into(),
            exec_ids: if execs.is_empty() { None } else { Some(execs) },
            host_config: record.host_config.clone(),
            graph_driver: GraphDriverData {
                data: graph,
                name: DRIVER_NAME.into(),
            },
            mounts: super::mounts::listed(&record.mounts),
            config: record.config.clone(),
            network_settings: record.network_settings.clone(),
            ..ContainerInspect::default()
        }
    }

    /// `GET /containers/json`: newest first, as Docker lists them.
    pub fn list(&self, options: &ListOptions) -> Result<Vec<ContainerSummary>, ContainerError> {
        let created_of = |name: &str| self.get(name).map(|c| c.record().created);
        let before = options.before.as_deref().map(created_of).transpose()?;
        let since = options.since.as_deref().map(created_of).transpose()?;
        let mut records: Vec<ContainerRecord> = self.all().iter().map(|c| c.record()).collect();
        records.sort_by(|a, b| b.created.cmp(&a.created));
        let mut rows = Vec::new();
        for record in records {
            let running = record.state.status.is_running();
            let wants_all = options.all
                || options.limit.is_some()
                || !options.statuses.is_empty()
                || !options.exited.is_empty();
            if !wants_all && !running {
                continue;
            }
            if before.as_ref().is_some_and(|b| record.created >= *b)
                || since.as_ref().is_some_and(|s| record.created <= *s)
            {
                continue;
            }
            if !options.ids.is_empty() && !options.ids.iter().any(|id| record.id.starts_with(id.as_str())) {
                continue;
            }
            if !options.names.is_empty()
                && !options
                    .names
                    .iter()
                    .any(|n| record.bare_name().contains(n.trim_start_matches('/')))
            {
                continue;
            }
            if !options
                .labels
                .iter()
                .all(|l| label_matches(record.config.labels.as_ref(), l))
            {
                continue;
            }
            if !options.statuses.is_empty()
                && !options.statuses.iter().any(|s| s == record.state.status.as_str())
            {
                continue;
            }
            let health = record.state.health.as_ref().map_or("none", |h| h.status.as_str());
            if !options.healths.is_empty() && !options.healths.iter().any(|h| h == health) {
                continue;
            }
            if !options.exited.is_empty()
                && (record.state.status != Status::Exited
                    || !options.exited.contains(&record.state.exit_code))
            {
                continue;
            }
            if !options.ancestors.is_empty()
                && !options.ancestors.iter().any(|a| self.is_ancestor(a, &record))
            {
                continue;
            }
            let mut row = self.summary(&record);
            if options.size {
                let (rw, root_fs) = self.sizes(&record);
                row.size_rw = Some(rw);
                row.size_root_fs = Some(root_fs);
            }
            rows.push(row);
            if options.limit.is_some_and(|limit| rows.len() >= limit) {
                break;
            }
        }
        Ok(rows)
    }

    /// `ancestor=` matches the image (by name or id) the container was made from.
    fn is_ancestor(&self, ancestor: &str, record: &ContainerRecord) -> bool {
        match self.inner.images.resolve(ancestor) {
            Ok(id) => id == record.image,
            Err(_) => pattern::matches(ancestor, &record.config.image),
        }
    }

    fn summary(&self, record: &ContainerRecord) -> ContainerSummary {
        let mut ports: Vec<Port> = Vec::new();
        for (port, bindings) in &record.network_settings.ports {
            let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
            let private_port = number.parse().unwrap_or(0);
            match bindings.as_deref() {
                Some(bindings) if !bindings.is_empty() => {
                    for binding in bindings {
                        ports.push(Port {
                            ip: binding.host_ip.clone(),
                            private_port,
                            public_port: binding.host_port.parse().ok(),
                            r#type: proto.into(),
                        });
                    }
                }
                _ => ports.push(Port {
                    private_port,
                    r#type: proto.into(),
                    ..Port::default()
                }),
            }
        }
        if record.network_settings.ports.is_empty() {
            for port in record.config.exposed_ports.iter().flat_map(|p| p.keys()) {
                let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                ports.push(Port {
                    private_port: number.parse().unwrap_or(0),
                    r#type: proto.into(),
                    ..Port::default()
                });
            }
        }
        ContainerSummary {
            id: record.id.clone(),
            names: vec![record.name.clone()],
            image: record.config.image.clone(),
            image_id: record.image.to_string(),
            command: command_text(record),
            created: time::parse_unix(&record.created),
            ports,
            labels: record.config.labels.clone().unwrap_or_default(),
            state: record.state.status.as_str().into(),
            status: status_text(record),
            host_config: SummaryHostConfig {
                network_mode: record.host_config.network_mode.clone(),
            },
            network_settings: SummaryNetworkSettings {
                networks: record.network_settings.networks.clone(),
            },
            mounts: super::mounts::listed(&record.mounts),
            ..ContainerSummary::default()
        }
    }
}
