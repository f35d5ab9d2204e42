//! `update`: new resource limits for a live container, written into its cgroup like `create`
//! writes them. The limits come from runc's flags or, with `-r FILE` (`-` for stdin), from the
//! OCI `linux.resources` JSON that containerd's shims send; only what is given changes. As with
//! runc, device rules are never updated.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemoryBuilder, LinuxPids, LinuxResources};

use crate::cgroups::{Cgroup, Layout};
use crate::cli::UpdateArgs;
use crate::state::{ContainerDir, Status};

/// Update the container's limits.
pub fn update(root: &Path, args: &UpdateArgs) -> Result<()> {
    let dir = ContainerDir::new(root, &args.id)?;
    let record = dir.load()?;
    if dir.status(&record) == Status::Stopped {
        bail!("container not running: {}", args.id);
    }
    let mut resources = match &args.resources {
        Some(path) => read_resources(path)?,
        None => from_flags(args)?,
    };
    resources.set_devices(None);
    let cgroup = Cgroup::from_dirs(&Layout::detect()?, &record.cgroup_dirs);
    cgroup.apply(&resources)?;
    crate::explain!("updated the container's resource limits");
    Ok(())
}

/// The resources JSON from a file, or from stdin for `-`.
fn read_resources(path: &Path) -> Result<LinuxResources> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the resources from stdin")?;
    } else {
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("cannot read the resources from {}", path.display()))?;
    }
    serde_json::from_str(&text).with_context(|| format!("invalid resources JSON in {}", path.display()))
}

/// The resources runc's flags ask for; flags not given leave their value alone.
pub fn from_flags(args: &UpdateArgs) -> Result<LinuxResources> {
    let mut resources = LinuxResources::default();

    let limit = bytes("memory", args.memory.as_deref())?;
    let reservation = bytes("memory-reservation", args.memory_reservation.as_deref())?;
    let mut swap = bytes("memory-swap", args.memory_swap.as_deref())?;
    let kernel = bytes("kernel-memory", args.kernel_memory.as_deref())?;
    let kernel_tcp = bytes("kernel-memory-tcp", args.kernel_memory_tcp.as_deref())?;
    // No memory limit means no swap limit either (runc's fix-up for `--memory -1`).
    if limit == Some(-1) && swap.is_none() {
        swap = Some(-1);
    }
    if [limit, reservation, swap, kernel, kernel_tcp]
        .iter()
        .any(Option::is_some)
    {
        let mut memory = LinuxMemoryBuilder::default();
        if let Some(v) = limit {
            memory = memory.limit(v);
        }
        if let Some(v) = reservation {
            memory = memory.reservation(v);
        }
        if let Some(v) = swap {
            memory = memory.swap(v);
        }
        if let Some(v) = kernel {
            memory = memory.kernel(v);
        }
        if let Some(v) = kernel_tcp {
            memory = memory.kernel_tcp(v);
        }
        resources.set_memory(Some(memory.build()?));
    }

    let mut cpu = LinuxCpu::default();
    cpu.set_period(number("cpu-period", args.cpu_period.as_deref())?);
    cpu.set_quota(number("cpu-quota", args.cpu_quota.as_deref())?);
    cpu.set_shares(number("cpu-share", args.cpu_share.as_deref())?);
    cpu.set_realtime_period(number("cpu-rt-period", args.cpu_rt_period.as_deref())?);
    cpu.set_realtime_runtime(number("cpu-rt-runtime", args.cpu_rt_runtime.as_deref())?);
    cpu.set_cpus(args.cpuset_cpus.clone().filter(|c| !c.is_empty()));
    cpu.set_mems(args.cpuset_mems.clone().filter(|m| !m.is_empty()));
    if cpu != LinuxCpu::default() {
        resources.set_cpu(Some(cpu));
    }

    if args.pids_limit != 0 {
        let mut pids = LinuxPids::default();
        pids.set_limit(args.pids_limit);
        resources.set_pids(Some(pids));
    }
    if args.blkio_weight != 0 {
        let mut block_io = LinuxBlockIo::default();
        block_io.set_weight(Some(args.blkio_weight));
        resources.set_block_io(Some(block_io));
    }
    Ok(resources)
}

/// A plain number flag.
fn number<T: std::str::FromStr>(flag: &str, value: Option<&str>) -> Result<Option<T>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| anyhow::anyhow!("invalid value for {flag}: {v:?}"))
        })
        .transpose()
}

/// A size flag as runc reads it (docker's `RAMInBytes`): `1024`, `100m`, `1.5g`, `512KiB`;
/// `-1` means no limit.
fn bytes(flag: &str, value: Option<&str>) -> Result<Option<i64>> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value == "-1" {
        return Ok(Some(-1));
    }
    parse_ram(value)
        .map(Some)
        .ok_or_else(|| anyhow::anyhow!("invalid value for {flag}: {value:?}"))
}

fn parse_ram(text: &str) -> Option<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let number_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, suffix) = lower.split_at(number_end);
    let number: f64 = number.parse().ok()?;
    let suffix = suffix.trim_start();
    let suffix = suffix.strip_suffix('b').unwrap_or(suffix);
    let suffix = suffix.strip_suffix('i').unwrap_or(suffix);
    let multiplier: f64 = match suffix {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        "p" => 1024.0f64.powi(5),
        _ => return None,
    };
    let bytes = number * multiplier;
    (bytes.is_finite() && bytes < i64::MAX as f64).then_some(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn args(flags: &[&str]) -> UpdateArgs {
        let mut argv = vec!["berth-runtime", "update"];
        argv.extend_from_slice(flags);
        argv.push("c1");
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Update(args) => *args,
            other => panic!("not an update: {other:?}"),
        }
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(parse_ram("1024"), Some(1024));
        assert_eq!(parse_ram("100m"), Some(104_857_600));
        assert_eq!(parse_ram("1.5g"), Some(1_610_612_736));
        assert_eq!(parse_ram("512KiB"), Some(524_288));
        assert_eq!(parse_ram("lots"), None);
    }

    #[test]
    fn only_given_flags_become_resources() {
        let r = from_flags(&args(&[
            "--memory",
            "100m",
            "--pids-limit",
            "77",
            "--cpu-share",
            "512",
        ]))
        .expect("resources");
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"memory": {"limit": 104857600}, "cpu": {"shares": 512}, "pids": {"limit": 77}})
        );
        let none = from_flags(&args(&[])).expect("resources");
        assert_eq!(serde_json::to_value(&none).expect("json"), serde_json::json!({}));
    }

    #[test]
    fn unlimited_memory_lifts_swap_too() {
        let r = from_flags(&args(&["--memory", "-1"])).expect("resources");
        let memory = r.memory().expect("memory");
        assert_eq!((memory.limit(), memory.swap()), (Some(-1), Some(-1)));
    }

    #[test]
    fn bad_numbers_name_the_flag() {
        let err = from_flags(&args(&["--cpu-quota", "lots"])).expect_err("bad");
        assert_eq!(err.to_string(), "invalid value for cpu-quota: \"lots\"");
    }
}
