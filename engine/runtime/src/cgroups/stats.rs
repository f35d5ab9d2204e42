//! A container's statistics, read from its cgroup files and shaped as runc's `events` JSON
//! (runc's `types/events.go`): the same keys, and Go's `omitempty` where runc has it (a zero
//! there is left out). What the host does not offer stays zero (or empty), as with runc.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::Serialize;

use super::{Cgroup, CgroupError};

/// Go's `omitempty` for numbers.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The `data` of a `stats` event.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: Cpu,
    /// The cpuset in force.
    pub cpuset: CpuSet,
    /// Memory use and limits.
    pub memory: Memory,
    /// Process count and limit.
    pub pids: Pids,
    /// Block I/O.
    pub blkio: Blkio,
    /// Huge pages, by page size (`2MB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT: never read (runc shows `{}` without it).
    pub intel_rdt: IntelRdt,
    /// Network interfaces: runc fills them only for a container it set the network up for.
    pub network_interfaces: Option<Vec<()>>,
}

/// CPU.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Cpu {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS throttling.
    pub throttling: Throttling,
}

/// CPU time, in nanoseconds.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CpuUsage {
    /// Total.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU, in the kernel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU, in user space.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// In the kernel.
    pub kernel: u64,
    /// In user space.
    pub user: u64,
}

/// CFS throttling.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Throttling {
    /// Periods elapsed.
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods throttled.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Time throttled, in nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// The cpuset controller's files.
#[derive(Debug, Default, Clone, Serialize)]
#[allow(missing_docs)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

/// Memory.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Memory {
    /// Page cache.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory + swap (v1's memsw; on v2 the two added up, as runc reports them).
    pub swap: MemoryEntry,
    /// Kernel memory (v1).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// One memory counter with its limit.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MemoryEntry {
    /// Limit in bytes.
    pub limit: u64,
    /// Usage in bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage in bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Processes.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Pids {
    /// Current count.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// Limit (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// Block I/O, by device and operation.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    /// Bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One block I/O counter.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// Read, Write, Sync, Async …
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The count.
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// Huge pages of one size.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Hugetlb {
    /// Usage in bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage in bytes (v1).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Intel RDT (not read).
#[derive(Debug, Default, Clone, Serialize)]
pub struct IntelRdt {}

/// Read the statistics of a container's cgroup. Only a cgroup that is gone is an error; a file
/// the host does not offer reads as zero.
pub fn read(cgroup: &Cgroup) -> Result<Stats, CgroupError> {
    for dir in cgroup.dirs() {
        if !dir.is_dir() {
            return Err(CgroupError::Read {
                path: dir,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
    }
    Ok(match cgroup {
        Cgroup::V1(cg) => {
            let mut stats = Stats::default();
            if let Some(dir) = cg.dir_of("cpuacct") {
                v1_cpuacct(dir, &mut stats.cpu.usage);
            }
            if let Some(dir) = cg.dir_of("cpu") {
                v1_throttling(dir, &mut stats.cpu.throttling);
            }
            if let Some(dir) = cg.dir_of("cpuset") {
                stats.cpuset = v1_cpuset(dir);
            }
            if let Some(dir) = cg.dir_of("memory") {
                stats.memory = v1_memory(dir);
            }
            if let Some(dir) = cg.dir_of("pids") {
                stats.pids = pids(dir);
            }
            if let Some(dir) = cg.dir_of("blkio") {
                stats.blkio = v1_blkio(dir);
            }
            if let Some(dir) = cg.dir_of("hugetlb") {
                stats.hugetlb = hugetlb(dir, false);
            } else if let Some(dir) = &cg.unified {
                stats.hugetlb = hugetlb(dir, true);
            }
            stats
        }
        Cgroup::V2(cg) => v2(&cg.dir),
    })
}

fn read_string(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// A single number; `max` (no limit) and anything unreadable read as 0.
fn read_u64(path: &Path) -> u64 {
    read_string(path).trim().parse().unwrap_or(0)
}

/// A limit, where `max` means none (Go's math.MaxUint64, as runc reports it on v2).
fn read_limit(path: &Path) -> u64 {
    match read_string(path).trim() {
        "max" => u64::MAX,
        text => text.parse().unwrap_or(0),
    }
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat, memory.events).
fn key_values(path: &Path) -> BTreeMap<String, u64> {
    read_string(path)
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

fn v1_cpuacct(dir: &Path, usage: &mut CpuUsage) {
    usage.total = read_u64(&dir.join("cpuacct.usage"));
    usage.percpu = read_string(&dir.join("cpuacct.usage_percpu"))
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    // "cpu user system" then one line per cpu, in nanoseconds.
    for line in read_string(&dir.join("cpuacct.usage_all")).lines().skip(1) {
        let fields: Vec<u64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        if let [_, user, system] = fields[..] {
            usage.percpu_user.push(user);
            usage.percpu_kernel.push(system);
        }
    }
    // cpuacct.stat counts clock ticks.
    let tick_ns = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .map_or(10_000_000, |t| 1_000_000_000 / t as u64);
    let stat = key_values(&dir.join("cpuacct.stat"));
    usage.user = stat.get("user").copied().unwrap_or(0) * tick_ns;
    usage.kernel = stat.get("system").copied().unwrap_or(0) * tick_ns;
}

fn v1_throttling(dir: &Path, throttling: &mut Throttling) {
    let stat = key_values(&dir.join("cpu.stat"));
    throttling.periods = stat.get("nr_periods").copied().unwrap_or(0);
    throttling.throttled_periods = stat.get("nr_throttled").copied().unwrap_or(0);
    throttling.throttled_time = stat.get("throttled_time").copied().unwrap_or(0);
}

/// A cpu or node list (`0-3,6`).
pub fn parse_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u16>().ok()),
        }
    }
    out
}

fn v1_cpuset(dir: &Path) -> CpuSet {
    let n = |file: &str| read_u64(&dir.join(file));
    CpuSet {
        cpus: parse_list(&read_string(&dir.join("cpuset.cpus"))),
        cpu_exclusive: n("cpuset.cpu_exclusive"),
        mems: parse_list(&read_string(&dir.join("cpuset.mems"))),
        mem_hardwall: n("cpuset.mem_hardwall"),
        mem_exclusive: n("cpuset.mem_exclusive"),
        memory_migrate: n("cpuset.memory_migrate"),
        memory_spread_page: n("cpuset.memory_spread_page"),
        memory_spread_slab: n("cpuset.memory_spread_slab"),
        memory_pressure: n("cpuset.memory_pressure"),
        sched_load_balance: n("cpuset.sched_load_balance"),
        sched_relax_domain_level: read_string(&dir.join("cpuset.sched_relax_domain_level"))
            .trim()
            .parse()
            .unwrap_or(0),
    }
}

fn v1_memory(dir: &Path) -> Memory {
    let entry = |prefix: &str| MemoryEntry {
        limit: read_u64(&dir.join(format!("{prefix}limit_in_bytes"))),
        usage: read_u64(&dir.join(format!("{prefix}usage_in_bytes"))),
        max: read_u64(&dir.join(format!("{prefix}max_usage_in_bytes"))),
        failcnt: read_u64(&dir.join(format!("{prefix}failcnt"))),
    };
    let raw = key_values(&dir.join("memory.stat"));
    Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: entry("memory."),
        swap: entry("memory.memsw."),
        kernel: entry("memory.kmem."),
        kernel_tcp: entry("memory.kmem.tcp."),
        raw,
    }
}

fn pids(dir: &Path) -> Pids {
    Pids {
        current: read_u64(&dir.join("pids.current")),
        limit: read_u64(&dir.join("pids.max")),
    }
}

/// `8:0 Read 4096` lines; the `Total` line is left out, as runc does.
fn blkio_entries(path: &Path) -> Vec<BlkioEntry> {
    read_string(path)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (device, op, value) = match fields[..] {
                [device, op, value] => (device, op, value),
                [device, value] if device != "Total" => (device, "", value),
                _ => return None,
            };
            let (major, minor) = device.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

fn v1_blkio(dir: &Path) -> Blkio {
    // CFQ/BFQ's files when the scheduler offers them, else the throttle policy's, as runc.
    for prefix in ["blkio.bfq.", "blkio.", "blkio.throttle."] {
        let bytes = blkio_entries(&dir.join(format!("{prefix}io_service_bytes_recursive")));
        let ops = blkio_entries(&dir.join(format!("{prefix}io_serviced_recursive")));
        if !bytes.is_empty() || !ops.is_empty() || prefix == "blkio.throttle." {
            return Blkio {
                io_service_bytes_recursive: bytes,
                io_serviced_recursive: ops,
            };
        }
    }
    Blkio::default()
}

/// The host's huge page sizes in runc's names (`2MB`, `1GB`).
pub fn hugepage_sizes() -> Vec<String> {
    let mut sizes: Vec<(u64, String)> = fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some((kb, size_name(kb)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, name)| name).collect()
}

fn size_name(kb: u64) -> String {
    let units = ["KB", "MB", "GB", "TB", "PB"];
    let mut value = kb;
    let mut unit = 0;
    while value >= 1024 && value % 1024 == 0 && unit + 1 < units.len() {
        value /= 1024;
        unit += 1;
    }
    format!("{value}{}", units[unit])
}

fn hugetlb(dir: &Path, v2: bool) -> BTreeMap<String, Hugetlb> {
    let mut out = BTreeMap::new();
    for size in hugepage_sizes() {
        let file = |name: &str| dir.join(format!("hugetlb.{size}.{name}"));
        let entry = if v2 {
            if !file("current").exists() {
                continue;
            }
            Hugetlb {
                usage: read_u64(&file("current")),
                max: 0,
                failcnt: key_values(&file("events")).get("max").copied().unwrap_or(0),
            }
        } else {
            Hugetlb {
                usage: read_u64(&file("usage_in_bytes")),
                max: read_u64(&file("max_usage_in_bytes")),
                failcnt: read_u64(&file("failcnt")),
            }
        };
        out.insert(size, entry);
    }
    out
}

fn v2(dir: &Path) -> Stats {
    let mut stats = Stats::default();
    let cpu = key_values(&dir.join("cpu.stat"));
    let get = |map: &BTreeMap<String, u64>, key: &str| map.get(key).copied().unwrap_or(0);
    stats.cpu.usage.total = get(&cpu, "usage_usec") * 1000;
    stats.cpu.usage.user = get(&cpu, "user_usec") * 1000;
    stats.cpu.usage.kernel = get(&cpu, "system_usec") * 1000;
    stats.cpu.throttling.periods = get(&cpu, "nr_periods");
    stats.cpu.throttling.throttled_periods = get(&cpu, "nr_throttled");
    stats.cpu.throttling.throttled_time = get(&cpu, "throttled_usec") * 1000;

    let raw = key_values(&dir.join("memory.stat"));
    let events = key_values(&dir.join("memory.events"));
    let usage = MemoryEntry {
        limit: read_limit(&dir.join("memory.max")),
        usage: read_u64(&dir.join("memory.current")),
        max: read_u64(&dir.join("memory.peak")),
        failcnt: get(&events, "max"),
    };
    // v1 reported memory + swap together; runc adds them up on v2 to keep that meaning.
    let swap_limit = read_limit(&dir.join("memory.swap.max"));
    let swap = MemoryEntry {
        limit: if swap_limit == u64::MAX || usage.limit == u64::MAX {
            u64::MAX
        } else {
            swap_limit + usage.limit
        },
        usage: read_u64(&dir.join("memory.swap.current")) + usage.usage,
        max: 0,
        failcnt: 0,
    };
    stats.memory = Memory {
        cache: get(&raw, "file"),
        usage,
        swap,
        kernel: MemoryEntry::default(),
        kernel_tcp: MemoryEntry::default(),
        raw,
    };
    stats.pids = pids(dir);
    for line in read_string(&dir.join("io.stat")).lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse() else {
                continue;
            };
            let (list, op) = match key {
                "rbytes" => (&mut stats.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut stats.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut stats.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut stats.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    stats.hugetlb = hugetlb(dir, true);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stats_have_runcs_keys_and_omissions() {
        let json = serde_json::to_value(Stats::default()).expect("json");
        let keys: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "blkio",
            "cpu",
            "cpuset",
            "hugetlb",
            "intel_rdt",
            "memory",
            "network_interfaces",
            "pids",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(
            json["cpu"],
            serde_json::json!({"usage": {"kernel": 0, "user": 0}, "throttling": {}})
        );
        assert_eq!(
            json["memory"]["kernelTCP"],
            serde_json::json!({"limit": 0, "failcnt": 0})
        );
        assert_eq!(json["network_interfaces"], serde_json::Value::Null);
        assert_eq!(json["pids"], serde_json::json!({}));
    }

    #[test]
    fn lists_and_sizes() {
        assert_eq!(parse_list("0-2,5\n"), vec![0, 1, 2, 5]);
        assert_eq!(parse_list(""), Vec::<u16>::new());
        assert_eq!(size_name(2048), "2MB");
        assert_eq!(size_name(1_048_576), "1GB");
        assert_eq!(size_name(64), "64KB");
    }

    #[test]
    fn v2_files_are_read_like_runc() {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = |f: &str, t: &str| fs::write(dir.path().join(f), t).expect(f);
        w(
            "cpu.stat",
            "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\nthrottled_usec 2\n",
        );
        w("memory.current", "4096\n");
        w("memory.max", "8192\n");
        w("memory.swap.current", "0\n");
        w("memory.swap.max", "max\n");
        w("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
        w("memory.stat", "anon 4096\nfile 0\n");
        w("pids.current", "3\n");
        w("pids.max", "max\n");
        w(
            "io.stat",
            "8:0 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
        );
        let s = v2(dir.path());
        assert_eq!(s.cpu.usage.total, 10_000);
        assert_eq!(s.cpu.throttling.throttled_time, 2_000);
        assert_eq!(
            (s.memory.usage.limit, s.memory.usage.usage, s.memory.usage.failcnt),
            (8192, 4096, 2)
        );
        assert_eq!(s.memory.swap.limit, u64::MAX);
        assert_eq!((s.pids.current, s.pids.limit), (3, 0));
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_serviced_recursive[0].value, 1);
    }

    #[test]
    fn blkio_lines_skip_the_total() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n").expect("w");
        let entries = blkio_entries(&path);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            (entries[0].major, entries[0].op.as_str(), entries[0].value),
            (8, "Read", 4096)
        );
    }
}
