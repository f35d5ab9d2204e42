//! `cargo xtask bench engine`: issue 4's figures, beside Docker on the same machine in one run.
//!
//! - `run --rm busybox true`, end to end through the CLI (berth vs the real docker CLI + dockerd);
//! - berthd's idle RSS and a shim's RSS (dockerd + containerd's for comparison);
//! - 200 `sleep` containers running at once, and how long `ps` takes to list them.
//!
//! Release builds; a private berthd on temporary roots; Docker from DOCKER_HOST (or the default
//! socket). Runs alternate between the engines so drift hits both alike.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::stats::{median, report, rss_kib, time_runs};
use crate::util::{Profile, build_engine, run, workspace_root};

fn runs() -> usize {
    std::env::var("BERTH_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

/// A private berthd, stopped (and its containers removed) when dropped.
pub(super) struct Daemon {
    child: Child,
    root: PathBuf,
    exec_root: PathBuf,
    host: String,
    bin: PathBuf,
}

impl Daemon {
    pub(super) fn start(bin: &Path) -> anyhow::Result<Daemon> {
        Daemon::start_with(bin, &[])
    }

    /// With extra flags (`--metrics-addr …`).
    pub(super) fn start_with(bin: &Path, flags: &[&str]) -> anyhow::Result<Daemon> {
        // Beside Docker's own roots (/var/lib/docker, /run/docker), as berthd's defaults are:
        // directories made under /tmp cost this machine's ext4 ten times as much.
        let root = PathBuf::from(format!("/var/lib/berth-bench-{}", std::process::id()));
        let exec_root = PathBuf::from(format!("/run/berth-bench-{}", std::process::id()));
        std::fs::create_dir_all(&root)?;
        let socket = exec_root.join("berth.sock");
        let host = format!("unix://{}", socket.display());
        let child = Command::new(bin.join("berthd"))
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(&exec_root)
            .args(["-H", &host])
            .args(flags)
            .stderr(Stdio::null())
            .spawn()
            .context("start berthd")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if Instant::now() > deadline {
                bail!("berthd did not listen within 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Daemon {
            child,
            root,
            exec_root,
            host,
            bin: bin.to_owned(),
        })
    }

    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// berthd's pid.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn berth(&self) -> Command {
        let mut command = Command::new(self.bin.join("berth"));
        command
            .args(["-H", &self.host])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(out) = Command::new(self.bin.join("berth"))
            .args(["-H", &self.host, "ps", "-aq"])
            .output()
        {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if !ids.is_empty() {
                let _ = Command::new(self.bin.join("berth"))
                    .args(["-H", &self.host, "rm", "-f"])
                    .args(&ids)
                    .output();
            }
        }
        // SAFETY: kill with our own child's pid and a valid signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_dir_all(&self.exec_root);
    }
}

pub(super) fn docker() -> Command {
    let mut command = Command::new(if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    });
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        command.args(["-H", &host]);
    }
    command.stdout(Stdio::null()).stderr(Stdio::null());
    command
}

pub(super) fn succeed(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// The shim of a running container: the parent of its init process (`State.Pid`), other
/// daemons' shims on the machine notwithstanding.
fn shim_of(daemon: &Daemon, container: &str) -> anyhow::Result<Option<u32>> {
    let output = daemon
        .berth()
        .args(["inspect", "-f", "{{.State.Pid}}", container])
        .stdout(Stdio::piped())
        .output()?;
    let pid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read the status of {container}'s process {pid}"))?;
    let shim: Option<u32> = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok());
    let comm = shim.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok());
    Ok(shim.filter(|_| comm.is_some_and(|c| c.trim() == "berth-shim")))
}

fn pid_of(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == name)
            .then(|| e.file_name().to_string_lossy().parse().ok())
            .flatten()
    })
}

pub fn run_bench() -> anyhow::Result<()> {
    let root = workspace_root()?;
    let bin = build_engine(Profile::Release)?;
    run(Command::new("cargo")
        .args(["xtask", "images", "--stand-ins"])
        .current_dir(&root))?;
    let images = crate::util::target_dir()?.join(crate::images::STAND_INS_ARCHIVE);
    let daemon = Daemon::start(&bin)?;
    let idle_rss = rss_kib(daemon.child.id());
    succeed(daemon.berth().arg("load").arg("-i").arg(&images))?;
    let docker_ok = docker().arg("version").status().is_ok_and(|s| s.success());
    if docker_ok {
        succeed(docker().arg("load").arg("-i").arg(&images))?;
    } else {
        println!("(no Docker daemon answers: berth's figures only)");
    }

    // Warm both (page cache, first-run costs), then alternate.
    succeed(daemon.berth().args(["run", "--rm", "busybox", "true"]))?;
    if docker_ok {
        succeed(docker().args(["run", "--rm", "busybox", "true"]))?;
    }
    let n = runs();
    let mut berth_times = Vec::new();
    let mut docker_times = Vec::new();
    for _ in 0..n {
        berth_times.extend(time_runs(1, || {
            succeed(daemon.berth().args(["run", "--rm", "busybox", "true"]))
        })?);
        if docker_ok {
            docker_times.extend(time_runs(1, || {
                succeed(docker().args(["run", "--rm", "busybox", "true"]))
            })?);
        }
    }
    println!("median of {n} runs each:");
    report(
        "run --rm busybox true",
        median(&berth_times),
        docker_ok.then(|| median(&docker_times)),
    );

    // Memory: berthd idle, and one shim per running container.
    succeed(
        daemon
            .berth()
            .args(["run", "-d", "--name", "bench-rss", "busybox", "sleep", "600"]),
    )?;
    let shim_rss = shim_of(&daemon, "bench-rss")?.and_then(rss_kib);
    let docker_rss: Option<u64> = ["dockerd", "containerd"]
        .iter()
        .filter_map(|n| pid_of(n).and_then(rss_kib))
        .reduce(|a, b| a + b);
    println!(
        "berthd idle RSS {:.1} MiB (dockerd + containerd now: {}); berth-shim RSS {:.2} MiB",
        idle_rss.unwrap_or(0) as f64 / 1024.0,
        docker_rss.map_or("n/a".into(), |r| format!("{:.1} MiB", r as f64 / 1024.0)),
        shim_rss.unwrap_or(0) as f64 / 1024.0
    );
    succeed(daemon.berth().args(["rm", "-f", "bench-rss"]))?;

    // 200 containers at once, then `ps`.
    let many = std::env::var("BERTH_BENCH_CONTAINERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200usize);
    let start = Instant::now();
    for i in 0..many {
        succeed(daemon.berth().args([
            "run",
            "-d",
            "--name",
            &format!("bench-{i}"),
            "busybox",
            "sleep",
            "600",
        ]))?;
    }
    let started = start.elapsed();
    let ps = time_runs(5, || succeed(daemon.berth().args(["ps"])))?;
    let listed = Command::new(bin.join("berth"))
        .args(["-H", &daemon.host, "ps", "-q"])
        .output()?;
    let running = String::from_utf8_lossy(&listed.stdout).lines().count();
    println!(
        "{many} sleep containers started in {:.1} s; {running} running; `berth ps` median {:.3} s; berthd RSS {:.1} MiB",
        started.as_secs_f64(),
        median(&ps).as_secs_f64(),
        rss_kib(daemon.child.id()).unwrap_or(0) as f64 / 1024.0
    );
    Ok(())
}
