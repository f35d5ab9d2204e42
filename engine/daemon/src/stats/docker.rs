//! Samples in Docker 20.10's `StatsJSON` shape (moby `daemon/stats_unix.go`): which keys each
//! cgroup version fills, the fixed list of `memory.stat` keys Docker copies for each, and the
//! host's memory as the limit of a container without one.

use std::collections::BTreeMap;
use std::time::SystemTime;

use berth_api::types::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, PidsStats, StatsJson, ThrottlingData,
};
use berth_runtime::cgroups::stats::BlkioEntry;

use super::sample::{Sample, machine_memory};

/// Go's zero time, which Docker prints for "never read".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The `memory.stat` keys Docker reports on cgroup v1 (containerd's v1 metrics), absent ones as 0.
const V1_MEMORY_KEYS: &[&str] = &[
    "cache",
    "rss",
    "rss_huge",
    "mapped_file",
    "dirty",
    "writeback",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
    "total_cache",
    "total_rss",
    "total_rss_huge",
    "total_mapped_file",
    "total_dirty",
    "total_writeback",
    "total_pgpgin",
    "total_pgpgout",
    "total_pgfault",
    "total_pgmajfault",
    "total_inactive_anon",
    "total_active_anon",
    "total_inactive_file",
    "total_active_file",
    "total_unevictable",
];

/// The `memory.stat` keys Docker reports on cgroup v2 (containerd's v2 metrics).
const V2_MEMORY_KEYS: &[&str] = &[
    "anon",
    "file",
    "kernel_stack",
    "slab",
    "sock",
    "shmem",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "anon_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "pgfault",
    "pgmajfault",
    "workingset_refault",
    "workingset_activate",
    "workingset_nodereclaim",
    "pgrefill",
    "pgscan",
    "pgsteal",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];

/// The answer for a container: `current` with `previous`'s CPU figures as `precpu_stats`.
/// Without `current` (a stopped container) it is Docker's empty answer: only name and id.
pub fn stats_json(name: &str, id: &str, current: Option<&Sample>, previous: Option<&Sample>) -> StatsJson {
    let mut json = StatsJson {
        read: ZERO_TIME.into(),
        preread: ZERO_TIME.into(),
        name: name.to_owned(),
        id: id.to_owned(),
        ..StatsJson::default()
    };
    if let Some(previous) = previous {
        json.preread = go_time(previous.read);
        json.precpu_stats = cpu_stats(previous);
    }
    let Some(sample) = current else {
        return json;
    };
    let cgroup = &sample.cgroup;
    json.read = go_time(sample.read);
    json.cpu_stats = cpu_stats(sample);
    json.pids_stats = PidsStats {
        current: cgroup.pids.current,
        limit: cgroup.pids.limit,
    };
    let limit = |limit: u64| match machine_memory() {
        0 => limit,
        machine => limit.min(machine),
    };
    let memory = &cgroup.memory;
    if sample.cgroup_v2 {
        // v2 has no per-op lists but bytes, and names its ops in lower case.
        let bytes = cgroup
            .blkio
            .io_service_bytes_recursive
            .iter()
            .map(|e| entry(e, &e.op.to_lowercase()))
            .collect();
        json.blkio_stats = BlkioStats {
            io_service_bytes_recursive: Some(bytes),
            ..BlkioStats::default()
        };
        json.memory_stats = MemoryStats {
            usage: memory.usage.usage,
            max_usage: 0,
            stats: pick(&memory.raw, V2_MEMORY_KEYS),
            failcnt: memory.usage.failcnt,
            limit: limit(memory.usage.limit),
        };
    } else {
        let list = |entries: &[BlkioEntry]| Some(entries.iter().map(|e| entry(e, &e.op)).collect());
        json.blkio_stats = BlkioStats {
            io_service_bytes_recursive: list(&cgroup.blkio.io_service_bytes_recursive),
            io_serviced_recursive: list(&cgroup.blkio.io_serviced_recursive),
            // The CFQ scheduler's lists: no kernel this runs on still has them.
            io_queue_recursive: Some(Vec::new()),
            io_service_time_recursive: Some(Vec::new()),
            io_wait_time_recursive: Some(Vec::new()),
            io_merged_recursive: Some(Vec::new()),
            io_time_recursive: Some(Vec::new()),
            sectors_recursive: Some(Vec::new()),
        };
        json.memory_stats = MemoryStats {
            usage: memory.usage.usage,
            max_usage: memory.usage.max,
            stats: pick(&memory.raw, V1_MEMORY_KEYS),
            failcnt: memory.usage.failcnt,
            limit: limit(memory.usage.limit),
        };
    }
    json.networks = sample.networks.clone().filter(|n| !n.is_empty());
    json
}

fn cpu_stats(sample: &Sample) -> CpuStats {
    let cpu = &sample.cgroup.cpu;
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: cpu.usage.total,
            percpu_usage: cpu.usage.percpu.clone(),
            usage_in_kernelmode: cpu.usage.kernel,
            usage_in_usermode: cpu.usage.user,
        },
        system_cpu_usage: sample.host.usage_ns,
        online_cpus: sample.host.online,
        throttling_data: ThrottlingData {
            periods: cpu.throttling.periods,
            throttled_periods: cpu.throttling.throttled_periods,
            throttled_time: cpu.throttling.throttled_time,
        },
    }
}

fn entry(e: &BlkioEntry, op: &str) -> BlkioStatEntry {
    BlkioStatEntry {
        major: e.major,
        minor: e.minor,
        op: op.to_owned(),
        value: e.value,
    }
}

fn pick(raw: &BTreeMap<String, u64>, keys: &[&str]) -> BTreeMap<String, u64> {
    keys.iter()
        .map(|k| ((*k).to_owned(), raw.get(*k).copied().unwrap_or(0)))
        .collect()
}

/// Go's `time.RFC3339Nano` in UTC: nanoseconds with trailing zeros dropped.
pub fn go_time(time: SystemTime) -> String {
    let time: chrono::DateTime<chrono::Utc> = time.into();
    let nanos = format!("{:09}", time.timestamp_subsec_nanos());
    let fraction = nanos.trim_end_matches('0');
    let dot = if fraction.is_empty() { "" } else { "." };
    format!("{}{dot}{fraction}Z", time.format("%Y-%m-%dT%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::sample::HostCpu;
    use std::time::{Duration, UNIX_EPOCH};

    fn sample(v2: bool) -> Sample {
        let mut cgroup = berth_runtime::cgroups::stats::Stats::default();
        cgroup.cpu.usage.total = 5_000;
        cgroup.cpu.usage.percpu = vec![2_000, 3_000];
        cgroup.memory.usage.usage = 1 << 20;
        cgroup.memory.usage.limit = u64::MAX;
        cgroup.memory.raw.insert("inactive_file".into(), 4096);
        cgroup.blkio.io_service_bytes_recursive.push(BlkioEntry {
            major: 8,
            minor: 0,
            op: "Read".into(),
            value: 512,
        });
        Sample {
            read: UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000),
            cgroup,
            cgroup_v2: v2,
            networks: Some(BTreeMap::new()),
            host: HostCpu {
                usage_ns: 9_000,
                online: 2,
            },
        }
    }

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(
            go_time(UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000)),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(go_time(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_stopped_container_gets_dockers_empty_answer() {
        let json = serde_json::to_value(stats_json("/web", "abc", None, None)).unwrap();
        assert_eq!(json["read"], ZERO_TIME);
        assert_eq!(
            json["blkio_stats"]["io_service_bytes_recursive"],
            serde_json::Value::Null
        );
        assert_eq!(json["memory_stats"], serde_json::json!({}));
        assert!(json.get("networks").is_none());
    }

    #[test]
    fn v1_and_v2_fill_what_docker_fills_for_each() {
        let v1 = stats_json("/web", "abc", Some(&sample(false)), None);
        assert_eq!(v1.memory_stats.stats.len(), V1_MEMORY_KEYS.len());
        assert_eq!(v1.memory_stats.stats["inactive_file"], 4096);
        assert_eq!(v1.cpu_stats.cpu_usage.percpu_usage, [2_000, 3_000]);
        assert_eq!(v1.blkio_stats.io_queue_recursive, Some(vec![]));
        assert_eq!(v1.blkio_stats.io_service_bytes_recursive.unwrap()[0].op, "Read");
        assert_ne!(v1.memory_stats.limit, u64::MAX, "capped at the host's memory");
        assert_eq!(v1.preread, ZERO_TIME);
        assert!(v1.networks.is_none(), "no interfaces: no key");

        let v2 = stats_json("/web", "abc", Some(&sample(true)), Some(&sample(true)));
        assert_eq!(v2.memory_stats.stats.len(), V2_MEMORY_KEYS.len());
        assert_eq!(v2.blkio_stats.io_serviced_recursive, None);
        assert_eq!(v2.blkio_stats.io_service_bytes_recursive.unwrap()[0].op, "read");
        assert_eq!(v2.precpu_stats.system_cpu_usage, 9_000);
        assert_eq!(v2.preread, "2023-11-14T22:13:20.12Z");
    }

    /// This host keeps memory, cpu and pids on v1, so the v2 path is read from a cgroup
    /// directory laid out as the kernel lays out a v2 one.
    #[test]
    fn a_v2_cgroups_files_give_dockers_v2_shape() {
        use berth_runtime::cgroups::{Cgroup, v2::V2Cgroup};
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "cpu.stat",
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
        );
        write("memory.current", "2097152\n");
        write("memory.max", "max\n");
        write("memory.stat", "anon 1048576\nfile 8192\ninactive_file 4096\n");
        write("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
        write("pids.current", "2\n");
        write("pids.max", "max\n");
        write(
            "io.stat",
            "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n",
        );
        let cgroup = Cgroup::V2(V2Cgroup {
            dir: dir.path().to_path_buf(),
        });
        let sample = Sample {
            cgroup: berth_runtime::cgroups::stats::read(&cgroup).unwrap(),
            ..sample(true)
        };
        let json = serde_json::to_value(stats_json("/web", "abc", Some(&sample), None)).unwrap();
        assert_eq!(json["cpu_stats"]["cpu_usage"]["total_usage"], 1_500_000);
        assert_eq!(json["cpu_stats"]["cpu_usage"]["usage_in_kernelmode"], 500_000);
        assert!(json["cpu_stats"]["cpu_usage"].get("percpu_usage").is_none());
        assert_eq!(json["memory_stats"]["usage"], 2_097_152);
        assert!(json["memory_stats"].get("max_usage").is_none());
        assert_eq!(json["memory_stats"]["stats"]["anon"], 1_048_576);
        assert_eq!(json["memory_stats"]["limit"], machine_memory());
        assert_eq!(json["pids_stats"], serde_json::json!({"current": 2}));
        assert_eq!(
            json["blkio_stats"]["io_service_bytes_recursive"],
            serde_json::json!([
                {"major": 8, "minor": 0, "op": "read", "value": 4096},
                {"major": 8, "minor": 0, "op": "write", "value": 512}
            ])
        );
        assert_eq!(
            json["blkio_stats"]["io_serviced_recursive"],
            serde_json::Value::Null
        );
    }
}
