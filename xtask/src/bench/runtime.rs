//! `cargo xtask bench runtime`: wall time of `runc run` beside `berth-runtime run` for a bundle
//! whose program is `true`, on the same machine in one run: medians and their ratio.
//!
//! The bundle is runc's own default spec (`runc spec`) with `true` as the program and the same
//! cgroup parent for both, so each runtime does its full work: namespaces, mounts, pivot_root,
//! devices, cgroups, capabilities, and (for berth-runtime) the sealed re-exec against
//! CVE-2019-5736. The two runtimes alternate so that drift on a shared machine hits both alike.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How many runs of each runtime, unless BERTH_BENCH_RUNS says otherwise.
const DEFAULT_RUNS: usize = 30;
const RUNC: &str = "/usr/sbin/runc";

/// A scratch directory removed when the bench ends, even on error.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Build berth-runtime in release mode and return the binary's path.
fn build_runtime(root: &Path) -> anyhow::Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "berth-runtime"])
        .current_dir(root)
        .status()
        .context("run cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p berth-runtime failed: {status}");
    }
    Ok(crate::util::target_dir()?.join("release/berth-runtime"))
}

/// A bundle with busybox's `true` and runc's default spec.
fn prepare_bundle(dir: &Path) -> anyhow::Result<()> {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin"))?;
    for sub in ["proc", "sys", "dev", "tmp"] {
        std::fs::create_dir_all(rootfs.join(sub))?;
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).context("copy /bin/busybox")?;
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/true"))?;
    let status = Command::new(RUNC)
        .args(["spec", "--bundle"])
        .arg(dir)
        .status()
        .context("run runc spec")?;
    if !status.success() {
        bail!("runc spec failed: {status}");
    }
    let path = dir.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}

/// One `run` of `bin` with its own state root; the wall time it took.
fn time_run(bin: &Path, state: &Path, bundle: &Path, id: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new(bin)
        .arg("--root")
        .arg(state)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("run {}", bin.display()))?;
    let took = started.elapsed();
    if !status.success() {
        bail!("{} run {id} failed: {status}", bin.display());
    }
    Ok(took)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    let mid = times.len() / 2;
    if times.len() % 2 == 0 {
        (times[mid - 1] + times[mid]) / 2
    } else {
        times[mid]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Build, prepare, measure, print.
pub fn run() -> anyhow::Result<()> {
    let root = workspace_root();
    let berth = build_runtime(&root)?;
    let runs: usize = std::env::var("BERTH_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_RUNS)
        .max(1);
    let scratch = Scratch(std::env::temp_dir().join(format!("berth-bench-runtime-{}", std::process::id())));
    let bundle = scratch.0.join("bundle");
    prepare_bundle(&bundle)?;
    let runc_state = scratch.0.join("runc-state");
    let berth_state = scratch.0.join("berth-state");

    let set_cgroup = |id: &str| -> anyhow::Result<()> {
        let path = bundle.join("config.json");
        let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        // A top-level cgroup per run: runc never removes a parent it made, so a shared
        // `/berth` parent would outlive the bench.
        spec["linux"]["cgroupsPath"] = format!("/berth-{id}").into();
        std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
        Ok(())
    };

    // One untimed run each: page cache and dentries warm for both.
    let pid = std::process::id();
    set_cgroup(&format!("bench-warm-runc-{pid}"))?;
    time_run(
        Path::new(RUNC),
        &runc_state,
        &bundle,
        &format!("bench-warm-runc-{pid}"),
    )?;
    set_cgroup(&format!("bench-warm-berth-{pid}"))?;
    time_run(&berth, &berth_state, &bundle, &format!("bench-warm-berth-{pid}"))?;

    let mut runc_times = Vec::with_capacity(runs);
    let mut berth_times = Vec::with_capacity(runs);
    for i in 0..runs {
        let id = format!("bench-runc-{pid}-{i}");
        set_cgroup(&id)?;
        runc_times.push(time_run(Path::new(RUNC), &runc_state, &bundle, &id)?);
        let id = format!("bench-berth-{pid}-{i}");
        set_cgroup(&id)?;
        berth_times.push(time_run(&berth, &berth_state, &bundle, &id)?);
    }
    let runc_median = median(&mut runc_times);
    let berth_median = median(&mut berth_times);
    println!("runtime: `run` of a `true` bundle, median of {runs} runs each");
    println!("  {:<14} {:>8.1} ms", "runc", ms(runc_median));
    println!("  {:<14} {:>8.1} ms", "berth-runtime", ms(berth_median));
    println!(
        "  {:<14} {:>8.2}   (berth-runtime / runc; ≤ 1.00 meets the goal)",
        "ratio",
        berth_median.as_secs_f64() / runc_median.as_secs_f64()
    );
    Ok(())
}
