//! `cargo xtask demo`: the end-to-end run README's first command does on a fresh Debian machine,
//! as root — install what berth needs, build it, build the lab images, start a private berthd,
//! and play the first lab (`lab run first-container --auto`), grade it and clean up.
//!
//! Also the lab replays `cargo xtask ci` runs ([`check_labs`]): every lab against a private
//! berthd and against the Docker daemon, with JSON and JUnit reports in `target/ci/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::util::{run, workspace_root};

/// What berth needs on the host: mmdebstrap and busybox for the lab images, nft for published
/// ports, curl to ask Debian's mirror whether the images are current.
const PACKAGES: &[&str] = &["mmdebstrap", "busybox-static", "nftables", "iproute2", "curl"];

#[derive(clap::Args)]
pub struct Args {
    /// The lab to play
    #[arg(long, default_value = "first-container")]
    lab: String,
}

pub fn run_demo(args: Args) -> anyhow::Result<()> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    crate::ci::install_packages(PACKAGES)?;
    let bin = crate::util::build_engine(crate::util::Profile::Release)?;
    run(Command::new("cargo").args(["xtask", "images"]))?;

    let daemon = PrivateBerthd::start(&bin, "berth-demo", 90)?;
    let lab = |args: &[&str]| {
        println!("\n$ lab {}", args.join(" "));
        run(Command::new(bin.join("lab"))
            .args(["--host", &daemon.host()])
            .args(args)
            .env("BERTH_LAB_HOME", daemon.root.join("lab")))
    };
    let played = lab(&["run", &args.lab, "--auto"]);
    let graded = lab(&["grade", &args.lab]);
    let reset = lab(&["reset", &args.lab]);
    drop(daemon);
    played.and(graded).and(reset)
}

/// `lab check --all` against a private berthd and against the Docker daemon at `docker_host`,
/// reports in `target/ci/lab-{berth,docker}.{json,xml}`; prints both times side by side.
pub fn check_labs(docker_host: &str) -> anyhow::Result<()> {
    let target = crate::util::target_dir()?;
    let bin = crate::util::build_engine(crate::util::Profile::Debug)?;
    let reports = target.join("ci");
    std::fs::create_dir_all(&reports)?;
    let check = |engine: &str, host: &str, sessions: &Path| -> anyhow::Result<(bool, f64)> {
        let mut command = Command::new(bin.join("lab"));
        command
            .args([
                "check",
                "--all",
                "--keep-going",
                "--engine",
                engine,
                "--host",
                host,
            ])
            .arg("--json")
            .arg(reports.join(format!("lab-{engine}.json")))
            .arg("--junit")
            .arg(reports.join(format!("lab-{engine}.xml")))
            .env("BERTH_LAB_HOME", sessions);
        if engine == "docker" {
            // The reference: the docker CLI against the Docker daemon.
            command.args(["--client", "docker"]);
        }
        println!("$ {command:?}");
        let clock = Instant::now();
        let status = command.status().context("run lab check")?;
        Ok((status.success(), clock.elapsed().as_secs_f64()))
    };
    let daemon = PrivateBerthd::start(&bin, "berth-cilab", 92)?;
    let on_berth = check("berth", &daemon.host(), &daemon.root.join("lab"));
    drop(daemon);
    let sessions = tempdir("berth-ci-lab-docker")?;
    let on_docker = check("docker", docker_host, &sessions);
    let _ = std::fs::remove_dir_all(&sessions);
    // On the shared daemon, each run must have removed exactly what carries its run label.
    let left = left_behind(&reports.join("lab-docker.json"), docker_host)?;
    let (berth_ok, berth_time) = on_berth?;
    let (docker_ok, docker_time) = on_docker?;
    println!(
        "lab check --all: berth {berth_time:.1} s ({}), docker {docker_time:.1} s ({}); the target for berth is 30 s",
        if berth_ok { "passed" } else { "FAILED" },
        if docker_ok { "passed" } else { "FAILED" },
    );
    if !left.is_empty() {
        bail!("labs left on Docker what they made: {}", left.join("; "));
    }
    match (berth_ok, docker_ok) {
        (true, true) => Ok(()),
        (false, true) => bail!("labs fail on berthd: see target/ci/lab-berth.json"),
        (true, false) => bail!("labs fail on Docker: see target/ci/lab-docker.json"),
        (false, false) => bail!("labs fail on berthd and on Docker: see target/ci/lab-*.json"),
    }
}

/// What the runs of a `lab check` report left on the engine at `host`: for each run, the
/// containers, volumes, images and networks still labelled with it, as `docker` lists them.
fn left_behind(report: &Path, host: &str) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(report).with_context(|| format!("read {}", report.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text)?;
    let mut left = Vec::new();
    for lab in report["labs"].as_array().into_iter().flatten() {
        let filter = format!("label=berth.lab.run={}", lab["run"].as_str().unwrap_or_default());
        for list in [
            &["ps", "-aq"][..],
            &["volume", "ls", "-q"],
            &["images", "-q"],
            &["network", "ls", "-q"],
        ] {
            let output = Command::new("docker")
                .args(["-H", host])
                .args(list)
                .args(["--filter", &filter])
                .output()
                .context("run docker")?;
            let found = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() || !found.trim().is_empty() {
                left.push(format!(
                    "`docker {} --filter {filter}`: {}",
                    list.join(" "),
                    found.trim()
                ));
            }
        }
    }
    Ok(left)
}

/// A berthd on temporary roots with a bridge of its own (named `name`, which starts with
/// berth's prefix for the leak check) and subnets `10.<subnet>.0.0/24` (the default bridge)
/// and `10.<subnet + 1>.0.0/16` (user networks); stopped and its roots removed when dropped.
pub(crate) struct PrivateBerthd {
    child: Child,
    pub(crate) root: PathBuf,
}

impl PrivateBerthd {
    pub(crate) fn start(bin: &Path, name: &str, subnet: u8) -> anyhow::Result<PrivateBerthd> {
        let root = tempdir(name)?;
        let log = std::fs::File::create(root.join("berthd.log"))?;
        let child = Command::new(bin.join("berthd"))
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", root.join("berth.sock").display()))
            .args(["--bridge-name", name])
            .args(["--bip", &format!("10.{subnet}.0.1/24")])
            .args([
                "--default-address-pool",
                &format!("base=10.{}.0.0/16,size=24", subnet + 1),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("start berthd")?;
        let daemon = PrivateBerthd { child, root };
        let socket = daemon.root.join("berth.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "berthd did not listen on {} within 10 s: see {}",
                    socket.display(),
                    daemon.root.join("berthd.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(daemon)
    }

    pub(crate) fn host(&self) -> String {
        format!("unix://{}", self.root.join("berth.sock").display())
    }
}

impl Drop for PrivateBerthd {
    fn drop(&mut self) {
        // SAFETY: kill with our own child's pid and a valid signal.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn tempdir(prefix: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
