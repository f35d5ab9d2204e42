//! `cargo xtask bench registry`: issue 7's figure — pulling a 130 MB two-layer image (100 MiB of
//! random bytes, 24 MiB of text) from a local registry, `berth pull` beside `docker pull`
//! (Docker 20.10 here) in one run: medians and their ratio (the goal is berth ≤ 0.6 × Docker).
//!
//! The registry is Debian's `docker-registry` on 127.0.0.1 with a storage dir of its own; the
//! image is assembled here as an OCI layout (gzip layers) and put there by skopeo. Before each
//! timed pull the image is removed from the engine (layers and all), so every pull fetches,
//! verifies and unpacks both layers. The engines alternate so drift on a shared machine hits
//! both alike. berth runs as release builds of berthd and berth on temporary roots.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest as _, Sha256};

use super::stats::{median, report};

/// Pulls of each engine, unless BERTH_BENCH_RUNS says otherwise.
const DEFAULT_RUNS: usize = 5;
const RANDOM_BYTES: usize = 100 * 1024 * 1024;
const TEXT_BYTES: usize = 24 * 1024 * 1024;
/// The real Docker's client (20.10), as the tests use it.
const DOCKER: &str = "/usr/bin/docker";

/// A scratch directory, removed when the bench ends (even on error).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process stopped when the bench ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child's pid; no memory is involved.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// The image's tag in Docker, removed when the bench ends.
struct DockerImage(String);

impl Drop for DockerImage {
    fn drop(&mut self) {
        let _ = docker().args(["rmi", "-f", &self.0]).output();
    }
}

fn docker() -> Command {
    let mut command = Command::new(DOCKER);
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    command.args(["-H", &host]);
    command
}

fn runs() -> usize {
    std::env::var("BERTH_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_RUNS)
        .max(1)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        if Instant::now() > deadline {
            bail!("{what} did not come up within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Bytes that do not compress: a splitmix64 stream (reproducible, and faster than /dev/urandom).
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Text that compresses as text does: numbered lines of words.
fn text_bytes(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "container",
        "layer",
        "image",
        "registry",
        "manifest",
        "digest",
        "overlay",
        "namespace",
        "cgroup",
        "kernel",
        "berth",
        "docker",
        "pull",
        "push",
        "blob",
        "token",
    ];
    let mut out = Vec::with_capacity(len + 128);
    let mut line = 0usize;
    while out.len() < len {
        line += 1;
        let _ = write!(out, "{line:08}");
        for i in 0..12 {
            out.push(b' ');
            out.extend_from_slice(WORDS[(line * 7 + i * 3) % WORDS.len()].as_bytes());
        }
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

/// A layer tar holding one file.
fn layer_tar(name: &str, content: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::with_capacity(content.len() + 4096));
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder.append(&header, content)?;
    Ok(builder.into_inner()?)
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The bench image as an OCI layout in `dir`, tagged `bench`.
fn write_layout(dir: &Path) -> anyhow::Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let put = |bytes: &[u8]| -> anyhow::Result<(String, usize)> {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes)?;
        Ok((digest, bytes.len()))
    };
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (name, content) in [
        ("random.bin", random_bytes(RANDOM_BYTES)),
        ("words.txt", text_bytes(TEXT_BYTES)),
    ] {
        let tar = layer_tar(name, &content)?;
        diff_ids.push(sha256(&tar));
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&tar)?;
        let (digest, size) = put(&gzip.finish()?)?;
        layers.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size
        }));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "random bytes"}, {"created_by": "text"}],
    }))?;
    let (config_digest, config_size) = put(&config)?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    }))?;
    let (manifest_digest, manifest_size) = put(&manifest)?;
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest,
        "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "bench"},
    }]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(())
}

/// Run to success, output discarded.
fn quietly(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Build, set up, measure, print.
pub fn run() -> anyhow::Result<()> {
    let bin = crate::util::build_engine(crate::util::Profile::Release)?;
    let scratch = Scratch(std::env::temp_dir().join(format!("berth-bench-registry-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0)?;

    // The registry.
    let port = free_port()?;
    let config = scratch.0.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: berth-bench\n",
            scratch.0.join("registry").display()
        ),
    )?;
    let _registry = Running(
        Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start docker-registry (apt-get install docker-registry)")?,
    );
    wait_for("the registry", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })?;

    // The image, put there by skopeo.
    let layout = scratch.0.join("layout");
    write_layout(&layout)?;
    let image = format!("127.0.0.1:{port}/bench/pull:1");
    quietly(Command::new("skopeo").args([
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &format!("oci:{}:bench", layout.display()),
        &format!("docker://{image}"),
    ]))?;

    // A private berthd with a bridge of its own, so it runs beside any other.
    let socket = scratch.0.join("berth.sock");
    let host = format!("unix://{}", socket.display());
    let _berthd = Running(
        Command::new(bin.join("berthd"))
            .arg("--data-root")
            .arg(scratch.0.join("data"))
            .arg("--exec-root")
            .arg(scratch.0.join("exec"))
            .args([
                "-H",
                &host,
                "--bridge-name",
                "berth-rbench",
                "--bip",
                "10.243.0.1/24",
            ])
            .args(["--default-address-pool", "base=10.243.0.0/16,size=24"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start berthd")?,
    );
    wait_for("berthd", || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    })?;
    let berth = || {
        let mut command = Command::new(bin.join("berth"));
        command.args(["-H", &host]);
        command
    };
    let docker_answers = docker().arg("version").output().is_ok_and(|o| o.status.success());
    let _docker_image = DockerImage(image.clone());

    // One untimed pull each (page cache warm for both), then alternate.
    let mut berth_times = Vec::new();
    let mut docker_times = Vec::new();
    let runs = runs();
    for round in 0..=runs {
        let started = Instant::now();
        quietly(berth().args(["pull", "-q", &image]))?;
        let took = started.elapsed();
        quietly(berth().args(["rmi", &image]))?;
        if round > 0 {
            berth_times.push(took);
        }
        if docker_answers {
            let _ = docker().args(["rmi", "-f", &image]).output();
            let started = Instant::now();
            quietly(docker().args(["pull", "-q", &image]))?;
            let took = started.elapsed();
            quietly(docker().args(["rmi", &image]))?;
            if round > 0 {
                docker_times.push(took);
            }
        }
    }
    let berth_median = median(&berth_times);
    println!(
        "registry: pull of a 130 MB two-layer image (100 MiB random, 24 MiB text) from 127.0.0.1, median of {runs}"
    );
    if docker_answers {
        let docker_median = median(&docker_times);
        report(
            "pull (image removed before each)",
            berth_median,
            Some(docker_median),
        );
        println!(
            "{:<44} {:.2}   (berth / docker; ≤ 0.60 meets the goal)",
            "ratio",
            berth_median.as_secs_f64() / docker_median.as_secs_f64()
        );
    } else {
        println!("(no Docker daemon answers: berth's figure only)");
        report("pull (image removed before each)", berth_median, None);
    }
    Ok(())
}
