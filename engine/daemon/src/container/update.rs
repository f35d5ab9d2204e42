//! `docker update`: new resource limits and restart policy for a container. The record takes
//! them at once (a stopped container gets them at its next start); a running or paused one gets
//! them live too, through the shim's `runtime update`. Zero in the request means "unchanged".

use berth_api::types::HostConfig;

use super::record::Status;
use super::{ContainerError, Containers, spec, validate};

/// dockerd's warning when the host cannot weigh block I/O: the weight is dropped, not refused.
const NO_BLKIO_WEIGHT: &str =
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";

impl Containers {
    /// `POST /containers/{id}/update`: the warnings Docker would give.
    pub async fn update(&self, name: &str, mut request: HostConfig) -> Result<Vec<String>, ContainerError> {
        let container = self.get(name)?;
        let mut warnings = Vec::new();
        if request.blkio_weight != 0 && !host_has_blkio_weight() {
            warnings.push(NO_BLKIO_WEIGHT.to_owned());
            request.blkio_weight = 0;
        }
        validate::validate_update(&request)?;
        let _lifecycle = container.lifecycle.lock().await;
        let id = container.id.clone();
        let cannot = |why: String| format!("Cannot update container {id}: {why}");
        let record = container.record();
        if matches!(record.state.status, Status::Removing | Status::Dead) {
            return Err(ContainerError::Conflict(cannot(
                "container is marked for removal and cannot be \"update\"".into(),
            )));
        }
        let mut host = record.host_config.clone();
        merge(&mut host, &request).map_err(|why| ContainerError::Conflict(cannot(why)))?;
        let before = record.host_config;
        container.update_durably(&self.inner.tmp, |r| r.host_config = host)?;

        // Only a live process has a cgroup to write to; a restarting one gets them at its start.
        if matches!(record.state.status, Status::Running | Status::Paused) {
            let resources = spec::update_resources(&request);
            let shim = container.shim();
            let applied = tokio::task::spawn_blocking(move || shim.update(resources)).await?;
            if let Err(e) = applied {
                container.update_durably(&self.inner.tmp, |r| r.host_config = before)?;
                return Err(ContainerError::Internal(cannot(e.to_string())));
            }
            crate::explain!(container = %id, "wrote the new resource limits into the cgroup of container {}", container.record().short_id());
        }
        self.event(&container, "update", &[]);
        Ok(warnings)
    }
}

/// dockerd's `UpdateContainer`: each field the request sets replaces the container's, after the
/// checks that compare the request with what the container already has.
fn merge(host: &mut HostConfig, request: &HostConfig) -> Result<(), String> {
    // --cpus is a period and quota of its own: it cannot mix with either set by hand.
    if request.nano_cpus > 0 && host.cpu_period > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set".into(),
        );
    }
    if request.nano_cpus > 0 && host.cpu_quota > 0 {
        return Err(
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set".into(),
        );
    }
    if request.cpu_period > 0 && host.nano_cpus > 0 {
        return Err(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set".into(),
        );
    }
    if request.cpu_quota > 0 && host.nano_cpus > 0 {
        return Err(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set".into(),
        );
    }
    if request.memory != 0 && request.memory > host.memory_swap && request.memory_swap == 0 {
        return Err("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into());
    }
    if !request.restart_policy.name.is_empty() && host.auto_remove && request.restart_policy.name != "no" {
        return Err(
            "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
        );
    }
    let set = |field: &mut i64, value: i64| {
        if value != 0 {
            *field = value;
        }
    };
    set(&mut host.cpu_shares, request.cpu_shares);
    set(&mut host.nano_cpus, request.nano_cpus);
    set(&mut host.cpu_period, request.cpu_period);
    set(&mut host.cpu_quota, request.cpu_quota);
    set(&mut host.memory, request.memory);
    set(&mut host.memory_swap, request.memory_swap);
    set(&mut host.memory_reservation, request.memory_reservation);
    set(&mut host.kernel_memory, request.kernel_memory);
    set(&mut host.cpu_realtime_period, request.cpu_realtime_period);
    set(&mut host.cpu_realtime_runtime, request.cpu_realtime_runtime);
    if request.blkio_weight != 0 {
        host.blkio_weight = request.blkio_weight;
    }
    if !request.cpuset_cpus.is_empty() {
        host.cpuset_cpus = request.cpuset_cpus.clone();
    }
    if !request.cpuset_mems.is_empty() {
        host.cpuset_mems = request.cpuset_mems.clone();
    }
    if request.pids_limit.is_some() {
        host.pids_limit = request.pids_limit;
    }
    if !request.restart_policy.name.is_empty() {
        host.restart_policy = request.restart_policy.clone();
    }
    Ok(())
}

/// Whether this host can weigh block I/O (the cgroup layout is read once per call: updates are rare).
fn host_has_blkio_weight() -> bool {
    berth_runtime::cgroups::Layout::detect().is_ok_and(|layout| layout.has_blkio_weight())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_leaves_a_field_alone() {
        let mut host = HostConfig {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            cpu_shares: 512,
            ..HostConfig::default()
        };
        let request = HostConfig {
            memory: 32 << 20,
            pids_limit: Some(50),
            ..HostConfig::default()
        };
        merge(&mut host, &request).unwrap();
        assert_eq!(
            (host.memory, host.memory_swap, host.cpu_shares),
            (32 << 20, 128 << 20, 512)
        );
        assert_eq!(host.pids_limit, Some(50));
    }

    #[test]
    fn memory_above_the_swap_limit_needs_a_new_swap_limit() {
        let mut host = HostConfig::default();
        let request = HostConfig {
            memory: 64 << 20,
            ..HostConfig::default()
        };
        let error = merge(&mut host.clone(), &request).unwrap_err();
        assert!(error.starts_with("Memory limit should be smaller"), "{error}");
        let with_swap = HostConfig {
            memory_swap: -1,
            ..request
        };
        merge(&mut host, &with_swap).unwrap();
        assert_eq!((host.memory, host.memory_swap), (64 << 20, -1));
    }

    #[test]
    fn cpus_and_a_hand_set_period_do_not_mix() {
        let mut host = HostConfig {
            nano_cpus: 500_000_000,
            ..HostConfig::default()
        };
        let request = HostConfig {
            cpu_period: 50_000,
            ..HostConfig::default()
        };
        let error = merge(&mut host, &request).unwrap_err();
        assert_eq!(
            error,
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
        );
    }

    #[test]
    fn auto_remove_keeps_its_restart_policy() {
        let mut host = HostConfig {
            auto_remove: true,
            ..HostConfig::default()
        };
        let mut request = HostConfig::default();
        request.restart_policy.name = "always".into();
        assert!(merge(&mut host, &request).unwrap_err().contains("AutoRemove"));
        request.restart_policy.name = "no".into();
        merge(&mut host, &request).unwrap();
    }
}
