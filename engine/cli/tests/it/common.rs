//! The test harness: a private berthd per test, and helpers to run commands against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries (berth, berthd, berth-shim, berth-runtime).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_berth"))
        .parent()
        .expect("binaries live in a directory")
        .to_owned()
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("engine/cli is two levels down")
        .to_owned()
}

/// `lab-images.tar` in cargo's target dir (where `cargo xtask images` writes it; CI builds it
/// before the tests). The test binaries live in `<target>/<profile>/`, so it is two levels up.
pub fn lab_images() -> PathBuf {
    let target = bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target.join("lab-images.tar");
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask images` first",
        path.display()
    );
    path
}

/// A berthd of the test's own: temporary data and exec roots and socket; stopped and removed on drop.
pub struct TestDaemon {
    child: Option<Child>,
    pub root: PathBuf,
    pub socket: PathBuf,
}

impl TestDaemon {
    pub fn start() -> TestDaemon {
        let berthd = bin_dir().join("berthd");
        assert!(
            berthd.exists(),
            "{} is missing: run `cargo build --workspace` (or test with --workspace)",
            berthd.display()
        );
        let root = unique_dir("berth-test");
        let socket = root.join("berth.sock");
        let log = std::fs::File::create(root.join("berthd.log")).expect("create the daemon log");
        let child = Command::new(&berthd)
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--pidfile")
            .arg(root.join("berthd.pid"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start berthd");
        let daemon = TestDaemon {
            child: Some(child),
            root,
            socket,
        };
        daemon.wait_ready();
        daemon
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "berthd did not listen within 10 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("berthd.log")).unwrap_or_default()
    }

    /// A `berth` command aimed at this daemon.
    pub fn berth(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command.arg("-H").arg(self.host());
        command
    }

    /// Run `berth ARGS`, expecting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.berth().args(args).output().expect("run berth");
        assert!(
            output.status.success(),
            "berth {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Run `berth ARGS`, expecting failure; returns (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let output = self.berth().args(args).output().expect("run berth");
        assert!(
            !output.status.success(),
            "berth {args:?} should have failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8(output.stderr).expect("utf-8 output"),
        )
    }

    /// Run a `berth` command, returning the whole output.
    pub fn output(&self, args: &[&str]) -> Output {
        self.berth().args(args).output().expect("run berth")
    }

    /// Load the lab images into this daemon.
    pub fn load_lab_images(&self) {
        let out = self.ok(&["load", "-i", lab_images().to_str().unwrap()]);
        assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    }

    /// Stop the daemon (SIGTERM) and wait for it; the roots stay until drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill with our own child's pid and a valid signal.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A fresh directory under the system temp dir, unique to this process and call.
pub fn unique_dir(prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        TempDir(unique_dir(prefix))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real Docker daemon CI starts (DOCKER_HOST), for comparisons. Fails loudly when absent.
pub fn docker() -> Command {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let mut command = Command::new(docker_cli());
    command.arg("-H").arg(host);
    command
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

/// Run the real docker CLI, expecting success.
pub fn docker_ok(args: &[&str]) -> String {
    let output = docker()
        .args(args)
        .output()
        .expect("run docker (apt-get install docker.io)");
    assert!(
        output.status.success(),
        "docker {args:?} failed (is dockerd running? CI starts it):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// A unique name for things a test creates in a shared daemon.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
