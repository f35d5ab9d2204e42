//! `cargo xtask bench runtime`: wall time of `runc run` beside `berth-runtime run` for a bundle
//! whose program is `true`, on the same machine in one run: medians and their ratio; then the
//! calls a shim makes (`create`, `start`, wait for the program's end, `delete`) for each.
//!
//! The bundle is runc's own default spec (`runc spec`) with `true` as the program and the same
//! cgroup parent for both, so each runtime does its full work: namespaces, mounts, pivot_root,
//! devices, cgroups, capabilities, and (for berth-runtime) the sealed re-exec against
//! CVE-2019-5736. The two runtimes alternate so that drift on a shared machine hits both alike.
//!
//! The machine is set as berthd sets it (the cgroup mount option `favordynmods`, see
//! `berth_runtime::cgroups::dynmods`), and the state folders are under /run, where runc and
//! berthd keep them: the figures are those of a machine running Berth, the same for both runtimes.

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

/// The calls a shim makes for one container: `create`, `start`, wait until the program has
/// ended, `delete`; the wall time of all four.
fn time_cycle(bin: &Path, state: &Path, bundle: &Path, id: &str) -> anyhow::Result<Duration> {
    let pid_file = state.with_file_name(format!("{id}.pid"));
    let call = |args: &[&str]| -> anyhow::Result<()> {
        let status = Command::new(bin)
            .arg("--root")
            .arg(state)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .with_context(|| format!("run {}", bin.display()))?;
        if !status.success() {
            bail!("{} {} failed: {status}", bin.display(), args.join(" "));
        }
        Ok(())
    };
    let bundle_arg = bundle.to_string_lossy();
    let pid_arg = pid_file.to_string_lossy();
    let started = Instant::now();
    call(&["create", "--bundle", &bundle_arg, "--pid-file", &pid_arg, id])?;
    let pid: i32 = std::fs::read_to_string(&pid_file)?.trim().parse()?;
    // Opened before `start`, so the program's end cannot be missed.
    let ended = pidfd_open(pid)?;
    call(&["start", id])?;
    wait_readable(&ended)?;
    call(&["delete", id])?;
    let took = started.elapsed();
    let _ = std::fs::remove_file(&pid_file);
    Ok(took)
}

/// A pidfd for `pid`: readable once the process has ended, whoever its parent is.
fn pidfd_open(pid: i32) -> anyhow::Result<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("pidfd_open");
    }
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
}

/// Wait (10 s at most) until `fd` is readable.
fn wait_readable(fd: &std::os::fd::OwnedFd) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, as the count says.
    let ready = unsafe { libc::poll(&mut poll, 1, 10_000) };
    if ready <= 0 {
        bail!("the container's program did not end within 10 s");
    }
    Ok(())
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
    match berth_runtime::cgroups::dynmods::favor_dynamic_modifications() {
        Ok(done) => println!("cgroup favordynmods, as berthd sets it: {done:?}"),
        Err(err) => println!("cgroup favordynmods unavailable ({err}): both runtimes run without it"),
    }
    let scratch = Scratch(std::env::temp_dir().join(format!("berth-bench-runtime-{}", std::process::id())));
    let bundle = scratch.0.join("bundle");
    prepare_bundle(&bundle)?;
    let state = Scratch(PathBuf::from(format!(
        "/run/berth-bench-runtime-{}",
        std::process::id()
    )));
    let runc_state = state.0.join("runc");
    let berth_state = state.0.join("berth");

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
        "  {:<14} {:>8.2}   (berth-runtime / runc; ≤ 0.50 meets the goal)",
        "ratio",
        berth_median.as_secs_f64() / runc_median.as_secs_f64()
    );

    let mut runc_cycles = Vec::with_capacity(runs);
    let mut berth_cycles = Vec::with_capacity(runs);
    for i in 0..runs {
        let id = format!("bench-cycle-runc-{pid}-{i}");
        set_cgroup(&id)?;
        runc_cycles.push(time_cycle(Path::new(RUNC), &runc_state, &bundle, &id)?);
        let id = format!("bench-cycle-berth-{pid}-{i}");
        set_cgroup(&id)?;
        berth_cycles.push(time_cycle(&berth, &berth_state, &bundle, &id)?);
    }
    let runc_cycle = median(&mut runc_cycles);
    let berth_cycle = median(&mut berth_cycles);
    println!("runtime: `create` + `start` + wait + `delete` of the same bundle, median of {runs} each");
    println!("  {:<14} {:>8.1} ms", "runc", ms(runc_cycle));
    println!(
        "  {:<14} {:>8.1} ms   (≤ 10 ms meets the goal)",
        "berth-runtime",
        ms(berth_cycle)
    );
    Ok(())
}
