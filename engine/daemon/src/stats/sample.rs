//! One reading of a container's counters: its cgroup's statistics (read by berth-runtime's
//! `cgroups::stats`, from v1 or v2 files, whichever the container has), its interfaces' counters
//! inside its network namespace, and the host's CPU time read beside them (the denominator of
//! `docker stats`' CPU %).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::SystemTime;

use berth_api::types::NetworkStats;
use berth_runtime::cgroups::stats::Stats as CgroupStats;
use berth_runtime::cgroups::{Cgroup, Layout};

use crate::container::StatsTarget;

/// A container's counters at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was read.
    pub read: SystemTime,
    /// The cgroup's statistics, in runc's `events` shape.
    pub cgroup: CgroupStats,
    /// Whether they came from cgroup v2 files (Docker shapes memory and block I/O differently).
    pub cgroup_v2: bool,
    /// Interface counters; `None` for a container without interfaces of its own.
    pub networks: Option<BTreeMap<String, NetworkStats>>,
    /// The host's CPU time at the same moment.
    pub host: HostCpu,
}

/// The host's CPU time, as Docker reads it from `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCpu {
    /// The `cpu` line's first seven fields (user … softirq), in nanoseconds.
    pub usage_ns: u64,
    /// The number of `cpuN` lines.
    pub online: u32,
}

/// Read a container's counters. `None` when it has no cgroup to read (it stopped meanwhile).
pub fn read(target: &StatsTarget) -> Option<Sample> {
    let layout = layout()?;
    let record = berth_runtime::state::ContainerDir::new(&target.runtime_root, &target.id)
        .ok()?
        .load()
        .ok()?;
    let cgroup = Cgroup::from_dirs(layout, &record.cgroup_dirs);
    let cgroup_v2 = matches!(cgroup, Cgroup::V2(_));
    let stats = berth_runtime::cgroups::stats::read(&cgroup).ok()?;
    let networks = if target.own_network {
        crate::network::counters::interface_counters(target.pid).ok()
    } else {
        None
    };
    Some(Sample {
        read: SystemTime::now(),
        cgroup: stats,
        cgroup_v2,
        networks,
        host: host_cpu(),
    })
}

/// Read many containers' counters, a few threads at once: each sample is some thirty small
/// reads of cgroup and proc files, which wait on the kernel rather than on a CPU.
pub fn read_all(targets: Vec<StatsTarget>) -> Vec<(StatsTarget, Sample)> {
    const THREADS: usize = 4;
    let chunk = targets.len().div_ceil(THREADS).max(1);
    std::thread::scope(|scope| {
        let readers: Vec<_> = targets
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|t| read(t).map(|s| (t.clone(), s)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        readers
            .into_iter()
            .flat_map(|reader| reader.join().unwrap_or_default())
            .collect()
    })
}

/// How cgroups are mounted here, read once.
fn layout() -> Option<&'static Layout> {
    static LAYOUT: OnceLock<Option<Layout>> = OnceLock::new();
    LAYOUT.get_or_init(|| Layout::detect().ok()).as_ref()
}

/// The host's memory in bytes (`MemTotal`), read once: Docker's limit for a container without one.
pub fn machine_memory() -> u64 {
    static MEMORY: OnceLock<u64> = OnceLock::new();
    *MEMORY.get_or_init(|| {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|kib| kib.parse::<u64>().ok())
            })
            .map_or(0, |kib| kib * 1024)
    })
}

/// The host's CPU time now.
pub fn host_cpu() -> HostCpu {
    parse_proc_stat(&std::fs::read_to_string("/proc/stat").unwrap_or_default())
}

/// Docker's reading of `/proc/stat`: clock ticks are 1/100 s on Linux.
fn parse_proc_stat(text: &str) -> HostCpu {
    const NS_PER_TICK: u64 = 1_000_000_000 / 100;
    let mut host = HostCpu::default();
    for line in text.lines().take_while(|l| l.starts_with("cpu")) {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let ticks: u64 = fields.take(7).map(|n| n.parse::<u64>().unwrap_or(0)).sum();
                host.usage_ns = ticks * NS_PER_TICK;
            }
            Some(_) => host.online += 1,
            None => {}
        }
    }
    host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_cpu_sums_seven_fields_and_counts_cpus() {
        let text = "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\n\
                    cpu1 50 1 15 200 3 3 4 4 0 0\nintr 1 2 3\n";
        let host = parse_proc_stat(text);
        assert_eq!(host.usage_ns, (100 + 2 + 30 + 400 + 5 + 6 + 7) * 10_000_000);
        assert_eq!(host.online, 2);
    }
}
