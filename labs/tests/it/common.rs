//! The harness: a private berthd per test, the real Docker daemon, `lab` commands aimed at them,
//! and the redactions that make outputs snapshot-stable.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries (lab, berth, berthd, berth-shim, berth-runtime).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_lab"))
        .parent()
        .expect("binaries live in a directory")
        .to_owned()
}

/// The workspace's `scenarios/`.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// A fresh directory under the system temp dir, unique to this process and call; removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A network slot of the test's own (shared with the CLI's tests through the same lock files):
/// a bridge name and subnets no other test daemon uses while the lock is held.
pub struct NetSlot {
    _lock: std::fs::File,
    pub index: u32,
}

impl NetSlot {
    pub fn take() -> NetSlot {
        use std::os::fd::AsRawFd;
        let dir = std::env::temp_dir().join("berth-test-net");
        std::fs::create_dir_all(&dir).expect("create the slot dir");
        for index in 0..100 {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("{index}.lock")))
                .expect("open a slot lock");
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return NetSlot { _lock: lock, index };
            }
        }
        panic!("no free test network slot (100 daemons running?)");
    }
}

/// A berthd of the test's own on temporary roots, its own bridge and subnets; on drop, every
/// container is removed, the daemon stopped and the roots deleted.
pub struct TestDaemon {
    child: Option<Child>,
    pub root: TempDir,
    pub socket: PathBuf,
    _net: NetSlot,
}

impl TestDaemon {
    pub fn start() -> TestDaemon {
        let berthd = bin_dir().join("berthd");
        assert!(
            berthd.exists(),
            "{} is missing: build the workspace first (cargo build --workspace)",
            berthd.display()
        );
        let root = TempDir::new("berth-lab-test");
        let socket = root.path().join("berth.sock");
        let net = NetSlot::take();
        let log = std::fs::File::create(root.path().join("berthd.log")).expect("create the log");
        let child = Command::new(&berthd)
            .arg("--data-root")
            .arg(root.path().join("data"))
            .arg("--exec-root")
            .arg(root.path().join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge-name", &format!("berth-t{}", net.index)])
            .args(["--bip", &format!("10.{}.0.1/24", 100 + net.index)])
            .args([
                "--default-address-pool",
                &format!("base=10.{}.0.0/16,size=24", 100 + net.index),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start berthd");
        let daemon = TestDaemon {
            child: Some(child),
            root,
            socket,
            _net: net,
        };
        let api = berth_lab::api::Api::new(&daemon.host()).expect("a unix host");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !api.ping() {
            assert!(
                Instant::now() < deadline,
                "berthd did not answer: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("berthd.log")).unwrap_or_default()
    }

    pub fn api(&self) -> berth_lab::api::Api {
        berth_lab::api::Api::new(&self.host()).expect("a unix host")
    }

    /// `lab ARGS` against this daemon, with a state directory of the test's own.
    pub fn lab(&self, state: &Path) -> Command {
        let mut command = lab(state);
        command.arg("--host").arg(self.host());
        command
    }

    /// Load the lab images these need (from `target/lab-images.tar`).
    pub fn ensure_images(&self, images: &[&str]) {
        let images: Vec<String> = images.iter().map(|i| (*i).to_owned()).collect();
        berth_lab::engine::ensure_images(&self.api(), &images, None).expect("the lab images load");
    }

    /// `berth ARGS` against this daemon.
    pub fn berth(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin_dir().join("berth"))
            .arg("-H")
            .arg(self.host())
            .args(args)
            .output()
            .expect("run berth")
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Ok(list) = self.api().containers_labelled("berth.lab") {
            for container in list {
                let _ = self.api().remove_container(&container.id);
            }
        }
        // Anything else a test made (a container without the lab's label).
        let out = self.berth(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = self.api().remove_container(id);
        }
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill with our own child's pid and a valid signal.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

/// `lab` with its state (sessions) in `state`, colours off.
pub fn lab(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab"));
    command
        .env("BERTH_LAB_HOME", state)
        .env("NO_COLOR", "1")
        .env_remove("BERTH_HOST")
        .env("BERTH_LAB_SCENARIOS", scenarios_dir());
    command
}

/// The real Docker daemon's address: `DOCKER_HOST`, else Docker's default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Debian's docker.io client (20.10) when installed, else whatever `docker` is on PATH.
pub fn docker_cli() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/docker");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("docker")
    }
}

/// What a run's unique names and ports were, mapped back to the guide's (`httpd-3f9a1c` →
/// `httpd`, a free port → 8080), and its captures to their variables (`${exposed_ip}`). Longest
/// first, so a name is never replaced inside a longer one.
pub fn guide_values(lab: &str, vars: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let scenario = berth_lab::scenario::find(&scenarios_dir(), lab).expect("the scenario loads");
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (var, name) in &scenario.names {
        if let Some(value) = vars.get(var) {
            pairs.push((value.clone(), name.clone()));
        }
    }
    for (var, port) in &scenario.ports {
        if let Some(value) = vars.get(var) {
            pairs.push((value.clone(), port.to_string()));
        }
    }
    // Captures (what the engine chose: an address, a port, a volume's name) read as variables.
    for (var, value) in vars {
        let declared = scenario.names.contains_key(var) || scenario.ports.contains_key(var);
        if !declared && !berth_lab::scenario::vars::BUILTINS.contains(&var.as_str()) {
            pairs.push((value.clone(), format!("${{{var}}}")));
        }
    }
    pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    pairs
}

/// Make a command's output stable: the run's names back to the guide's, then ids, times, ports
/// picked by the engine and paths replaced by placeholders, table padding evened out.
pub fn stable(text: &str, pairs: &[(String, String)], root: Option<&Path>) -> String {
    let mut text = text.to_owned();
    if let Some(root) = root {
        text = text.replace(&root.display().to_string(), "[ROOT]");
    }
    for (from, to) in pairs {
        // Whole words only: a captured short id must not match inside a long one.
        let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(from))).expect("a valid pattern");
        text = word.replace_all(&text, regex::NoExpand(to)).into_owned();
    }
    let rules: &[(&str, &str)] = &[
        (r"sha256:[0-9a-f]{64}", "sha256:[ID]"),
        (r"\b[0-9a-f]{64}\b", "[ID]"),
        (r"\b[0-9a-f]{12}\b", "[ID12]"),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
            "[TIME]",
        ),
        (
            r"(Less than a second|About a minute|About an hour|An? \w+|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?)) ago",
            "[AGO]",
        ),
        (
            r"Up (Less than a second|About a minute|\d+ seconds?)",
            "Up [TIME]",
        ),
        (r"website_\d{4}-\d\d-\d\d-\d{4}\.tgz", "website_[DATE].tgz"),
        (r"(0\.0\.0\.0|::):\d{4,5}\b", "$1:[PORT]"),
        (
            r"(?m)^[-dl][-rwxst]{9} +\d+ +\w+ +\w+ +\d+ +\w{3} +\d+ +[\d:]+ ",
            "[ls -l] ",
        ),
        (r"(?m)[ \t]+$", ""),
        // Table columns are padded to their longest value, which varies: even the padding out.
        (r"(\S) {2,}", "$1   "),
        (r#""Name": "/[a-z]+_[a-z]+\d*""#, r#""Name": "/[NAME]""#),
        // Names the engine made up for unnamed containers (`hungry_stonebraker`): the last
        // column of `docker ps`, and what `lab reset` removed.
        (r"(?m)   [a-z]+_[a-z]+\d*$", "   [NAME]"),
        (r"(?m)container [a-z]+_[a-z]+\d*$", "container [NAME]"),
    ];
    for (pattern, replacement) in rules {
        text = regex::Regex::new(pattern)
            .expect("a valid pattern")
            .replace_all(&text, *replacement)
            .into_owned();
    }
    let address = regex::Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("a valid pattern");
    address
        .replace_all(&text, |c: &regex::Captures| {
            if &c[0] == "0.0.0.0" {
                "0.0.0.0".to_owned()
            } else {
                "[IP]".to_owned()
            }
        })
        .into_owned()
}
