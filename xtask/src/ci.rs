//! `cargo xtask ci`: everything CI does, runnable on any fresh Debian machine with Rust, as root.
//!
//! 1. install what the tests need (apt-get), 2. start what they need (a real dockerd to compare
//! with), 3. `cargo fmt --check`, clippy with `-D warnings`, the book (`book --check`), the
//! lab images, every test, 4. the leak check: nothing of berth's may be left in the kernel.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::util::{run, workspace_root};

/// Debian packages the tests use: a real Docker to compare with, runc, busybox for the lab
/// images, a real registry and skopeo, nftables and iproute2 for networking, docker-compose
/// (which brings the Docker SDK for Python) to drive berthd as its users do.
const PACKAGES: &[&str] = &[
    "docker.io",
    "runc",
    "busybox-static",
    "nftables",
    "iproute2",
    "skopeo",
    "docker-registry",
    "python3",
    "curl",
    "docker-compose",
    // the metrics test scrapes a private berthd with the real Prometheus
    "prometheus",
    // build contexts from git URLs (CLI tests) and the dockerignore lab's `git init -b`
    "git",
    // `dot`, which draws the book's diagrams (`cargo xtask book`)
    "graphviz",
    // the book at desktop and phone sizes, headless (xtask/src/book/screens.rs)
    "chromium",
    // debian:bookworm-slim, the base of the lab images (xtask/src/images/debian/base.rs)
    "mmdebstrap",
];

/// The Docker engine the tests compare with: the machine's own when one answers, else one CI
/// starts with Docker's defaults (only one dockerd can own the docker0 bridge).
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

#[derive(clap::Args)]
pub struct Args {
    /// Skip apt-get (the packages are known to be there)
    #[arg(long)]
    no_install: bool,
    /// Run only the tests (no fmt, no clippy)
    #[arg(long)]
    tests_only: bool,
}

pub fn run_ci(args: Args) -> anyhow::Result<()> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    if !args.no_install {
        install_packages(PACKAGES)?;
    }
    let docker = DockerDaemon::start()?;
    if !args.tests_only {
        step("cargo fmt --check", || {
            run(Command::new("cargo").args(["fmt", "--all", "--check"]))
        })?;
        step("cargo clippy", || {
            run(Command::new("cargo").args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        })?;
    }
    step("book --check", || {
        run(Command::new("cargo").args(["xtask", "book", "--check"]))
    })?;
    // The labs' images from Debian's packages (the labs and the book run on them), and the
    // offline stand-ins the engine's tests load in milliseconds.
    step("lab images", || {
        run(Command::new("cargo").args(["xtask", "images"]))?;
        run(Command::new("cargo").args(["xtask", "images", "--stand-ins"]))
    })?;
    step("tests", || {
        let mut test = if has_nextest() {
            let mut c = Command::new("cargo");
            c.args([
                "nextest",
                "run",
                "--workspace",
                "--no-fail-fast",
                "--failure-output",
                "final",
            ]);
            c
        } else {
            let mut c = Command::new("cargo");
            c.args(["test", "--workspace", "--no-fail-fast"]);
            c
        };
        test.env("DOCKER_HOST", docker.host());
        run(&mut test)
    })?;
    step("labs on berthd and on Docker", || {
        crate::demo::check_labs(&docker.host())
    })?;
    drop(docker);
    step("leak check", leak_check)?;
    println!("ci: all green");
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    println!("\n==> {name}");
    let start = Instant::now();
    let result = f().with_context(|| format!("ci step failed: {name}"));
    println!("<== {name} ({:.1} s)", start.elapsed().as_secs_f64());
    result
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// apt-get install what is missing (dpkg says which), as root.
pub fn install_packages(packages: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !nix_is_root() {
        bail!("missing packages {missing:?}: run as root, or install them with apt-get");
    }
    println!("installing {}", missing.join(" "));
    let _no_services = NoServiceStarts::new();
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// While held, Debian's maintainer scripts start no services (`policy-rc.d` answers 101): the
/// tests run their own Prometheus, and a package's global instance must not stay around.
struct NoServiceStarts(Option<&'static str>);

impl NoServiceStarts {
    fn new() -> NoServiceStarts {
        const POLICY: &str = "/usr/sbin/policy-rc.d";
        if std::path::Path::new(POLICY).exists() {
            return NoServiceStarts(None);
        }
        use std::os::unix::fs::PermissionsExt;
        let written = std::fs::write(POLICY, "#!/bin/sh\nexit 101\n")
            .and_then(|()| std::fs::set_permissions(POLICY, std::fs::Permissions::from_mode(0o755)));
        NoServiceStarts(written.is_ok().then_some(POLICY))
    }
}

impl Drop for NoServiceStarts {
    fn drop(&mut self) {
        if let Some(policy) = self.0 {
            let _ = std::fs::remove_file(policy);
        }
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A real Docker engine for the tests that compare with Docker. Stopped when dropped if CI
/// started it.
struct DockerDaemon {
    child: Option<Child>,
    socket: PathBuf,
}

impl DockerDaemon {
    fn start() -> anyhow::Result<DockerDaemon> {
        let socket = PathBuf::from(DOCKER_SOCKET);
        if docker_answers(&socket) {
            return Ok(DockerDaemon { child: None, socket });
        }
        let log_dir = workspace_root()?.join("target/ci");
        std::fs::create_dir_all(&log_dir)?;
        let log = std::fs::File::create(log_dir.join("dockerd.log"))?;
        let _ = std::fs::remove_file(&socket);
        let child = Command::new("dockerd")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start dockerd (apt-get install docker.io)")?;
        let daemon = DockerDaemon {
            child: Some(child),
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !docker_answers(&daemon.socket) {
            if Instant::now() > deadline {
                bail!("dockerd did not answer within 60 s: see target/ci/dockerd.log");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        println!("dockerd is up on {}", daemon.host());
        Ok(daemon)
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

fn docker_answers(socket: &Path) -> bool {
    Command::new("docker")
        .args([
            "-H",
            &format!("unix://{}", socket.display()),
            "version",
            "--format",
            "{{.Server.Version}}",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for DockerDaemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SAFETY: kill with a valid pid of our own child and a valid signal number.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

/// Cgroups named `berth…` under `root`: at its top (cgroup v2, where berth's parent and the
/// tests' `berth-<id>` cgroups are made) and one level down (each v1 hierarchy). A directory that
/// cannot be read is reported too: a probe that sees nothing must not pass for a clean machine.
fn cgroup_leftovers(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let top = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => return vec![format!("cgroups: cannot read {}: {e}", root.display())],
    };
    for entry in top.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if entry.file_name().to_string_lossy().starts_with("berth") {
            found.push(format!("cgroup {}", path.display()));
            continue;
        }
        // A v1 hierarchy (or a v2 cgroup of someone else's): its children.
        match std::fs::read_dir(&path) {
            Ok(children) => {
                for child in children.flatten() {
                    let named_ours = child.file_name().to_string_lossy().starts_with("berth");
                    if named_ours && child.path().is_dir() {
                        found.push(format!("cgroup {}", child.path().display()));
                    }
                }
            }
            Err(e) => found.push(format!("cgroups: cannot read {}: {e}", path.display())),
        }
    }
    found
}

/// Nothing of berth's may stay in the kernel after the tests: mounts, links, network
/// namespaces, nftables tables, cgroups, processes.
pub fn leak_check() -> anyhow::Result<()> {
    let mut leaks = Vec::new();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        if let Some(mount_point) = line.split(' ').nth(4) {
            if mount_point.contains("berth") {
                leaks.push(format!("mount {mount_point}"));
            }
        }
    }
    if let Ok(out) = Command::new("ip").args(["-o", "link", "show"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line
                .split(": ")
                .nth(1)
                .unwrap_or("")
                .split('@')
                .next()
                .unwrap_or("");
            if name.starts_with("berth") || name.starts_with("brb") || name.starts_with("vb") {
                leaks.push(format!("link {name}"));
            }
        }
    }
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("berth"))
        {
            leaks.push(format!("netns {line}"));
        }
    }
    if let Ok(out) = Command::new("nft").args(["list", "tables"]).output() {
        for line in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("berth"))
        {
            leaks.push(format!("nftables {line}"));
        }
    }
    leaks.extend(cgroup_leftovers(Path::new("/sys/fs/cgroup")));
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if matches!(comm, "berthd" | "berth-shim" | "berth-runtime") {
            leaks.push(format!(
                "process {} ({comm})",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    if leaks.is_empty() {
        println!("no leftovers");
        return Ok(());
    }
    for leak in &leaks {
        eprintln!("leaked: {leak}");
    }
    bail!("{} leftovers of berth's in the kernel", leaks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_leftovers_are_found_at_either_level() {
        let root = tempfile::tempdir().unwrap();
        // v2: berth's cgroups at the top; v1: inside a hierarchy; others are not ours.
        for dir in [
            "berth-123",
            "memory/berth",
            "memory/system.slice",
            "user.slice/berth-x",
        ] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        std::fs::write(root.path().join("cgroup.procs"), "").unwrap();
        let mut found = cgroup_leftovers(root.path());
        found.sort();
        let at = |p: &str| format!("cgroup {}", root.path().join(p).display());
        assert_eq!(
            found,
            [at("berth-123"), at("memory/berth"), at("user.slice/berth-x")]
        );
        assert!(cgroup_leftovers(tempfile::tempdir().unwrap().path()).is_empty());
        let missing = cgroup_leftovers(&root.path().join("nowhere"));
        assert!(missing[0].starts_with("cgroups: cannot read"), "{missing:?}");
    }
}
