//! Per-container series as cAdvisor names them (`container_cpu_usage_seconds_total`,
//! `container_memory_working_set_bytes`…), labelled `id`, `name` and `image` like cAdvisor's
//! Docker containers, from one sample of each running container taken for the scrape.

use std::time::UNIX_EPOCH;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::container::StatsTarget;
use crate::stats::Sample;
use crate::stats::sample::machine_memory;

type Labels = Vec<(&'static str, String)>;

/// The containers' series of one scrape.
#[derive(Debug)]
struct Snapshot(Vec<(StatsTarget, Sample)>);

/// A registry holding this scrape's samples.
pub fn registry(samples: Vec<(StatsTarget, Sample)>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(samples)));
    registry
}

/// cAdvisor's labels for a Docker container.
fn labels(target: &StatsTarget) -> Labels {
    vec![
        ("id", format!("/berth/{}", target.id)),
        ("image", target.image.clone()),
        ("name", target.name.trim_start_matches('/').to_owned()),
    ]
}

/// A metric: its name (counters without `_total`, which the encoder adds), help, and the value
/// of each sample, with extra labels (an interface, a device) when it has several.
struct Metric {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    values: fn(&Sample) -> Vec<(Labels, f64)>,
}

fn one(value: f64) -> Vec<(Labels, f64)> {
    vec![(Vec::new(), value)]
}

/// `memory.stat`'s value of the first key the cgroup version has.
fn memory_stat(sample: &Sample, keys: &[&str]) -> f64 {
    keys.iter()
        .find_map(|k| sample.cgroup.memory.raw.get(*k))
        .copied()
        .unwrap_or(0) as f64
}

/// cAdvisor's working set: usage less the inactive page cache, never below zero.
fn working_set(sample: &Sample) -> f64 {
    let usage = sample.cgroup.memory.usage.usage as f64;
    let inactive = memory_stat(sample, &["total_inactive_file", "inactive_file"]);
    (usage - inactive).max(0.0)
}

/// The memory limit; 0 when there is none (cAdvisor's "unlimited").
fn memory_limit(sample: &Sample) -> f64 {
    let limit = sample.cgroup.memory.usage.limit;
    let machine = machine_memory();
    if limit == 0 || (machine > 0 && limit >= machine) {
        0.0
    } else {
        limit as f64
    }
}

fn network(sample: &Sample, pick: fn(&berth_api::types::NetworkStats) -> u64) -> Vec<(Labels, f64)> {
    sample
        .networks
        .iter()
        .flatten()
        .map(|(name, counters)| (vec![("interface", name.clone())], pick(counters) as f64))
        .collect()
}

/// Bytes of one block I/O op by device (`8:0`), ops named either way (v1 `Read`, v2 `read`).
fn block_io(sample: &Sample, op: &str) -> Vec<(Labels, f64)> {
    let mut by_device: std::collections::BTreeMap<String, f64> = Default::default();
    for entry in &sample.cgroup.blkio.io_service_bytes_recursive {
        if entry.op.eq_ignore_ascii_case(op) {
            *by_device
                .entry(format!("{}:{}", entry.major, entry.minor))
                .or_default() += entry.value as f64;
        }
    }
    by_device
        .into_iter()
        .map(|(device, bytes)| (vec![("device", device)], bytes))
        .collect()
}

const NS: f64 = 1e9;

const METRICS: &[Metric] = &[
    Metric {
        name: "container_cpu_usage_seconds",
        help: "Cumulative cpu time consumed in seconds.",
        kind: MetricType::Counter,
        values: |s| one(s.cgroup.cpu.usage.total as f64 / NS),
    },
    Metric {
        name: "container_cpu_user_seconds",
        help: "Cumulative user cpu time consumed in seconds.",
        kind: MetricType::Counter,
        values: |s| one(s.cgroup.cpu.usage.user as f64 / NS),
    },
    Metric {
        name: "container_cpu_system_seconds",
        help: "Cumulative system cpu time consumed in seconds.",
        kind: MetricType::Counter,
        values: |s| one(s.cgroup.cpu.usage.kernel as f64 / NS),
    },
    Metric {
        name: "container_memory_usage_bytes",
        help: "Current memory usage in bytes, including all memory regardless of when it was accessed",
        kind: MetricType::Gauge,
        values: |s| one(s.cgroup.memory.usage.usage as f64),
    },
    Metric {
        name: "container_memory_working_set_bytes",
        help: "Current working set in bytes.",
        kind: MetricType::Gauge,
        values: |s| one(working_set(s)),
    },
    Metric {
        name: "container_memory_cache",
        help: "Number of bytes of page cache memory.",
        kind: MetricType::Gauge,
        values: |s| one(memory_stat(s, &["total_cache", "file"])),
    },
    Metric {
        name: "container_memory_rss",
        help: "Size of RSS in bytes.",
        kind: MetricType::Gauge,
        values: |s| one(memory_stat(s, &["total_rss", "anon"])),
    },
    Metric {
        name: "container_spec_memory_limit_bytes",
        help: "Memory limit for the container.",
        kind: MetricType::Gauge,
        values: |s| one(memory_limit(s)),
    },
    Metric {
        name: "container_network_receive_bytes",
        help: "Cumulative count of bytes received",
        kind: MetricType::Counter,
        values: |s| network(s, |n| n.rx_bytes),
    },
    Metric {
        name: "container_network_transmit_bytes",
        help: "Cumulative count of bytes transmitted",
        kind: MetricType::Counter,
        values: |s| network(s, |n| n.tx_bytes),
    },
    Metric {
        name: "container_network_receive_packets",
        help: "Cumulative count of packets received",
        kind: MetricType::Counter,
        values: |s| network(s, |n| n.rx_packets),
    },
    Metric {
        name: "container_network_transmit_packets",
        help: "Cumulative count of packets transmitted",
        kind: MetricType::Counter,
        values: |s| network(s, |n| n.tx_packets),
    },
    Metric {
        name: "container_fs_reads_bytes",
        help: "Cumulative count of bytes read",
        kind: MetricType::Counter,
        values: |s| block_io(s, "read"),
    },
    Metric {
        name: "container_fs_writes_bytes",
        help: "Cumulative count of bytes written",
        kind: MetricType::Counter,
        values: |s| block_io(s, "write"),
    },
    Metric {
        name: "container_processes",
        help: "Number of processes running inside the container.",
        kind: MetricType::Gauge,
        values: |s| one(s.cgroup.pids.current as f64),
    },
    Metric {
        name: "container_last_seen",
        help: "Last time a container was seen by the exporter",
        kind: MetricType::Gauge,
        values: |s| {
            one(s
                .read
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64().floor()))
        },
    },
];

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for metric in METRICS {
            let mut family = encoder.encode_descriptor(metric.name, metric.help, None, metric.kind)?;
            for (target, sample) in &self.0 {
                for (extra, value) in (metric.values)(sample) {
                    let mut labels = labels(target);
                    labels.extend(extra);
                    let series = family.encode_family(&labels)?;
                    match metric.kind {
                        MetricType::Counter => ConstCounter::new(value).encode(series)?,
                        _ => ConstGauge::new(value).encode(series)?,
                    }
                }
            }
        }
        Ok(())
    }
}
