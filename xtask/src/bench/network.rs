//! `cargo xtask bench network`: issue 6's figures, beside Docker on the same machine in one run.
//!
//! - `run --rm busybox true` on the default bridge (a namespace, a veth, an address, a route,
//!   then all of it released), end to end through the CLI;
//! - name resolution of a peer on a user-defined network: DNS questions sent to 127.0.0.11 from
//!   inside a container's network namespace, each round trip timed (what a resolver waits).
//!
//! Release builds; a private berthd on temporary roots with a bridge of its own; Docker from
//! DOCKER_HOST (or the default socket). Runs alternate between the engines.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::stats::{median, report, time_runs};
use crate::util::{run as run_command, workspace_root};

fn runs() -> usize {
    std::env::var("BERTH_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}

/// How many DNS questions to time per engine.
const QUESTIONS: usize = 200;

/// A private berthd (bridge `berth-bench`), stopped with its containers and networks on drop.
struct Daemon {
    child: Child,
    root: PathBuf,
    host: String,
    bin: PathBuf,
}

impl Daemon {
    fn start(bin: &Path) -> anyhow::Result<Daemon> {
        let root = std::env::temp_dir().join(format!("berth-bench-net-{}", std::process::id()));
        std::fs::create_dir_all(&root)?;
        let socket = root.join("berth.sock");
        let host = format!("unix://{}", socket.display());
        let child = Command::new(bin.join("berthd"))
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .args(["-H", &host])
            .args(["--bridge-name", "berth-bench", "--bip", "10.98.0.1/24"])
            .args(["--default-address-pool", "base=10.98.0.0/16,size=24"])
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
            host,
            bin: bin.to_owned(),
        })
    }

    fn berth(&self) -> Command {
        let mut command = Command::new(self.bin.join("berth"));
        command
            .args(["-H", &self.host])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    fn output(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("berth"))
            .args(["-H", &self.host])
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!("berth {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(ids) = self.output(&["ps", "-aq"]) {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = self.output(&args);
            }
        }
        let _ = self.output(&["network", "prune", "-f"]);
        // SAFETY: kill with our own child's pid and a valid signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn docker() -> Command {
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

fn docker_output(args: &[&str]) -> anyhow::Result<String> {
    let mut command = docker();
    let out = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()?;
    if !out.status.success() {
        bail!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Docker's bench container and network, removed on drop.
struct DockerPeer;

impl Drop for DockerPeer {
    fn drop(&mut self) {
        let _ = docker()
            .args(["rm", "-f", "berth-bench-peer", "berth-bench-client"])
            .status();
        let _ = docker().args(["network", "rm", "berth-bench-net"]).status();
    }
}

fn succeed(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// A DNS question for `name`'s A record, with id `id`.
fn question(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(32);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]); // root, A, IN
    q
}

/// Time `count` questions for `name` to 127.0.0.11 from inside the namespace at `netns`. Every
/// answer must be a NOERROR with at least one record.
fn resolve_in(netns: &Path, name: &str, count: usize) -> anyhow::Result<Vec<Duration>> {
    let ns = std::fs::File::open(netns).with_context(|| format!("open {}", netns.display()))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> anyhow::Result<Vec<Duration>> {
                // SAFETY: setns on a descriptor we hold, moving only this short-lived thread
                // into the namespace; it ends when the questions are done.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    bail!(
                        "setns into {}: {}",
                        netns.display(),
                        std::io::Error::last_os_error()
                    );
                }
                let socket = UdpSocket::bind("127.0.0.1:0")?;
                socket.connect("127.0.0.11:53")?;
                socket.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut times = Vec::with_capacity(count);
                let mut buf = [0u8; 512];
                for i in 0..count {
                    let id = i as u16;
                    let start = Instant::now();
                    socket.send(&question(id, name))?;
                    let n = socket.recv(&mut buf).context("no DNS answer")?;
                    times.push(start.elapsed());
                    let answers = u16::from_be_bytes([buf[6], buf[7]]);
                    if n < 12
                        || u16::from_be_bytes([buf[0], buf[1]]) != id
                        || buf[3] & 0x0f != 0
                        || answers == 0
                    {
                        bail!("bad answer for {name}: {:?}", &buf[..n.min(16)]);
                    }
                }
                Ok(times)
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the DNS thread panicked"))?
    })
}

pub fn run() -> anyhow::Result<()> {
    let root = workspace_root()?;
    let bin = crate::util::build_engine(crate::util::Profile::Release)?;
    run_command(
        Command::new("cargo")
            .args(["xtask", "images", "--stand-ins"])
            .current_dir(&root),
    )?;
    let images = crate::util::target_dir()?.join(crate::images::STAND_INS_ARCHIVE);
    let daemon = Daemon::start(&bin)?;
    succeed(daemon.berth().arg("load").arg("-i").arg(&images))?;
    let docker_ok = docker().arg("version").status().is_ok_and(|s| s.success());
    if docker_ok {
        succeed(docker().arg("load").arg("-i").arg(&images))?;
    } else {
        println!("(no Docker daemon answers: berth's figures only)");
    }

    // run --rm on the default bridge: warm both, then alternate.
    succeed(daemon.berth().args(["run", "--rm", "busybox", "true"]))?;
    if docker_ok {
        succeed(docker().args(["run", "--rm", "busybox", "true"]))?;
    }
    let n = runs();
    let (mut berth_times, mut docker_times) = (Vec::new(), Vec::new());
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
        "run --rm busybox true (default bridge)",
        median(&berth_times),
        docker_ok.then(|| median(&docker_times)),
    );

    // A peer's name, asked from a container on the same user-defined network.
    let sleeper = ["busybox", "sleep", "600"];
    daemon.output(&["network", "create", "bench-net"])?;
    daemon.output(
        &[
            &["run", "-d", "--name", "peer", "--network", "bench-net"][..],
            &sleeper,
        ]
        .concat(),
    )?;
    daemon.output(
        &[
            &["run", "-d", "--name", "client", "--network", "bench-net"][..],
            &sleeper,
        ]
        .concat(),
    )?;
    let key = daemon.output(&["inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "client"])?;
    let berth_dns = resolve_in(Path::new(&key), "peer", QUESTIONS)?;
    let docker_dns = if docker_ok {
        let _peer = DockerPeer;
        docker_output(&["network", "create", "berth-bench-net"])?;
        docker_output(
            &[
                &[
                    "run",
                    "-d",
                    "--name",
                    "berth-bench-peer",
                    "--network",
                    "berth-bench-net",
                ][..],
                &sleeper,
            ]
            .concat(),
        )?;
        docker_output(
            &[
                &[
                    "run",
                    "-d",
                    "--name",
                    "berth-bench-client",
                    "--network",
                    "berth-bench-net",
                ][..],
                &sleeper,
            ]
            .concat(),
        )?;
        let key = docker_output(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.SandboxKey}}",
            "berth-bench-client",
        ])?;
        Some(resolve_in(Path::new(&key), "berth-bench-peer", QUESTIONS)?)
    } else {
        None
    };
    // Milliseconds: these answers take microseconds, too few for the seconds of `report`.
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<44} berth {:>8.3} ms  docker {} (median of {QUESTIONS} questions; issue 6 wants <= 2 ms)",
        "resolve a peer's name on a user network",
        ms(median(&berth_dns)),
        docker_dns
            .as_deref()
            .map_or("n/a".to_owned(), |d| format!("{:.3} ms", ms(median(d))))
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_wire_format() {
        let q = question(0x1234, "peer");
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..], &[4, b'p', b'e', b'e', b'r', 0, 0, 1, 0, 1]);
    }
}
