//! `cargo xtask bench build` (issue 18): a 10-instruction Dockerfile on busybox with three RUN
//! steps, built by berthd and by Docker 20.10's classic builder from the same context tar: cold
//! (`nocache=1`) and fully cached. Both are sent the same `POST /build` by curl, so the client
//! costs the same; the runs alternate between the engines.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::engine::{Daemon, docker, succeed};
use super::stats::{median, report};
use crate::util::{Profile, build_engine, run, workspace_root};

const DOCKERFILE: &str = "FROM busybox
ENV APP=/app
WORKDIR /app
COPY a.txt b.txt ./
RUN echo one > one.txt
RUN echo two > two.txt && ls
LABEL purpose=bench
RUN wc -c one.txt two.txt > sizes
EXPOSE 8080
CMD [\"cat\", \"sizes\"]
";

const RUNS: usize = 5;

/// The context as a tar file in `dir`.
fn context_tar(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, text) in [("Dockerfile", DOCKERFILE), ("a.txt", "a\n"), ("b.txt", "b\n")] {
        let mut header = tar::Header::new_ustar();
        header.set_size(text.len() as u64);
        header.set_mode(0o100644);
        header.set_cksum();
        builder.append_data(&mut header, name, text.as_bytes())?;
    }
    let path = dir.join("context.tar");
    std::fs::write(&path, builder.into_inner()?)?;
    Ok(path)
}

/// One `POST /build` to the daemon at `socket`; its wall time. Fails unless the image was built.
fn build(socket: &str, query: &str, tar: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = Command::new("curl")
        .args([
            "-sS",
            "--unix-socket",
            socket,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", tar.display()))
        .arg(format!("http://localhost/v1.41/build?{query}"))
        .output()
        .context("run curl")?;
    let took = started.elapsed();
    let body = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success() && body.contains("Successfully tagged"),
        "build on {socket} failed: {body}"
    );
    Ok(took)
}

pub fn run_bench() -> anyhow::Result<()> {
    let root = workspace_root()?;
    let bin = build_engine(Profile::Release)?;
    run(Command::new("cargo")
        .args(["xtask", "images", "--stand-ins"])
        .current_dir(&root))?;
    let images = crate::util::target_dir()?.join(crate::images::STAND_INS_ARCHIVE);
    let daemon = Daemon::start(&bin)?;
    succeed(daemon.berth().arg("load").arg("-i").arg(&images))?;
    let docker_ok = docker().arg("version").status().is_ok_and(|s| s.success());
    if docker_ok {
        succeed(docker().arg("load").arg("-i").arg(&images))?;
    }
    let scratch = crate::util::target_dir()?.join(format!("tmp/bench-build-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let tar = context_tar(&scratch)?;
    let tag = format!("bench-build-{}", std::process::id());
    let ours = daemon.host().trim_start_matches("unix://").to_owned();
    let theirs = std::env::var("DOCKER_HOST")
        .unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
        .trim_start_matches("unix://")
        .to_owned();

    let mut times = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    // One warm-up each (page cache, the base image's first mount), then alternate.
    build(&ours, &format!("t={tag}&nocache=1"), &tar)?;
    if docker_ok {
        build(&theirs, &format!("t={tag}&nocache=1"), &tar)?;
    }
    for _ in 0..RUNS {
        times[0].push(build(&ours, &format!("t={tag}&nocache=1"), &tar)?);
        times[1].push(build(&ours, &format!("t={tag}"), &tar)?);
        if docker_ok {
            times[2].push(build(&theirs, &format!("t={tag}&nocache=1"), &tar)?);
            times[3].push(build(&theirs, &format!("t={tag}"), &tar)?);
        }
    }
    if docker_ok {
        let _ = docker().args(["rmi", "-f", &tag]).status();
        let _ = docker().args(["image", "prune", "-f"]).status();
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("build: a 10-instruction Dockerfile on busybox (three RUN), median of {RUNS}");
    let docker_median = |i: usize| docker_ok.then(|| median(&times[i]));
    report("cold build (nocache)", median(&times[0]), docker_median(2));
    report("cached rebuild", median(&times[1]), docker_median(3));
    Ok(())
}
