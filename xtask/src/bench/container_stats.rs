//! `cargo xtask bench stats`: `stats --no-stream` over 50 running containers beside Docker's,
//! the time of a `/metrics` scrape with them, and berthd's idle RSS with metrics on.
//!
//! berthd answers `stream=false` at once while its collector has two samples of each container
//! (it runs from the first stats request until a minute after the last), so the first `stats`
//! waits a round (about a second) and the next ones do not; both are printed. Docker's
//! daemon waits for two of its rounds on every request.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use super::engine::{Daemon, docker, succeed};
use super::stats::{median, report, rss_kib, time_runs};
use crate::util::{Profile, build_engine, run, workspace_root};

const CONTAINERS: usize = 50;

/// Docker's containers of this bench, removed when dropped.
struct DockerContainers(Vec<String>);

impl Drop for DockerContainers {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = docker().args(["rm", "-f"]).args(&self.0).status();
        }
    }
}

fn scrape(port: u16) -> anyhow::Result<usize> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    anyhow::ensure!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "scrape failed"
    );
    Ok(text.len())
}

pub fn run_bench() -> anyhow::Result<()> {
    let root = workspace_root()?;
    let bin = build_engine(Profile::Release)?;
    run(Command::new("cargo")
        .args(["xtask", "images", "--stand-ins"])
        .current_dir(&root))?;
    let images = crate::util::target_dir()?.join(crate::images::STAND_INS_ARCHIVE);
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let daemon = Daemon::start_with(&bin, &["--metrics-addr", &format!("127.0.0.1:{port}")])?;
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_kib(daemon.pid()).unwrap_or(0);
    succeed(daemon.berth().arg("load").arg("-i").arg(&images))?;
    let docker_ok = docker().arg("version").status().is_ok_and(|s| s.success());
    if docker_ok {
        succeed(docker().arg("load").arg("-i").arg(&images))?;
    }

    let names: Vec<String> = (0..CONTAINERS)
        .map(|i| format!("bench-stats-{}-{i}", std::process::id()))
        .collect();
    let mut on_docker = DockerContainers(Vec::new());
    for name in &names {
        succeed(
            daemon
                .berth()
                .args(["run", "-d", "--name", name, "busybox", "sleep", "600"]),
        )?;
        if docker_ok {
            succeed(docker().args(["run", "-d", "--name", name, "busybox", "sleep", "600"]))?;
            on_docker.0.push(name.clone());
        }
    }
    let stats = |command: &mut Command| {
        command.args(["stats", "--no-stream"]).args(&names);
        succeed(command)
    };
    let first = time_runs(1, || stats(&mut daemon.berth()))?;
    let berth = time_runs(5, || stats(&mut daemon.berth()))?;
    println!("{CONTAINERS} running containers; medians of 5 runs:");
    report(
        &format!("stats --no-stream ({CONTAINERS} containers)"),
        median(&berth),
        docker_ok
            .then(|| time_runs(5, || stats(&mut docker())))
            .transpose()?
            .map(|t| median(&t)),
    );
    println!(
        "  berth's first, while its collector starts: {:.3} s",
        first[0].as_secs_f64()
    );

    let mut size = 0;
    let scrapes = time_runs(10, || {
        size = scrape(port).context("scrape /metrics")?;
        Ok(())
    })?;
    report(
        &format!("GET /metrics ({CONTAINERS} containers, {size} bytes)"),
        median(&scrapes),
        None,
    );
    println!(
        "berthd RSS with metrics on: idle {:.1} MiB; with {CONTAINERS} containers after the scrapes {:.1} MiB",
        idle_rss as f64 / 1024.0,
        rss_kib(daemon.pid()).unwrap_or(0) as f64 / 1024.0,
    );
    Ok(())
}
